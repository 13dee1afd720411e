"""The booking and call-back forms (actions/forms.py) and storing their requests
(actions/booking.py, actions/safety.py).

Real phonenumbers, email-validator and dateparser; the actions run on real
rasa_sdk trackers as the action server hands them over, and store into a real
(temporary, migrated) SQLite request store.
"""
from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from clinic.settings import clinic_details

from actions import booking, forms, safety
from clinic import store
from actions.forms import (
    CONFIRMED, CONSENT, CONSENT_VER, CONSENT_VERSION, EMAIL, END, FIELD, METHOD, MISSES, NAME,
    PENDING, PHONE, REASON, START, TIME, Invalid, parse_email, parse_name, parse_period,
    parse_phone, sender_phone,
)

NEW_YORK = ZoneInfo("America/New_York")
# Wednesday 25 November 2026, 10:00 at the clinic.
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=NEW_YORK)


def period(text: str, now: datetime = NOW, region: str = "US") -> forms.Period:
    result = parse_period(text, now, region)
    assert not isinstance(result, Invalid), result
    assert result[TIME] == text
    return forms.Period(datetime.fromisoformat(result[START]), datetime.fromisoformat(result[END]))


# --- Days and times ------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, expected",
    [
        ("next Tuesday afternoon", "Tue 1 Dec, 12:00-17:00"),
        ("any weekday morning", "Thu 26 Nov, 09:00-12:00"),
        ("the 14th after 3", "Mon 14 Dec, 15:00-17:00"),
        ("tomorrow at 10", "Thu 26 Nov, 10:00-11:00"),
        ("Friday", "Fri 27 Nov, 09:00-17:00"),
        ("friday 2-4pm", "Fri 27 Nov, 14:00-16:00"),
        ("between 10 and 12 on Monday", "Mon 30 Nov, 10:00-12:00"),
        ("December 14th at 11am", "Mon 14 Dec, 11:00-12:00"),
        ("12/3", "Thu 3 Dec, 09:00-17:00"),
        ("this afternoon", "Wed 25 Nov, 12:00-17:00"),
        ("can I come on thursday morning?", "Thu 26 Nov, 09:00-12:00"),
        ("in two weeks", "Wed 9 Dec, 09:00-17:00"),
        ("afternoons are best", "Thu 26 Nov, 12:00-17:00"),
        ("3 March", "Wed 3 Mar, 09:00-17:00"),
        ("next week", "Mon 30 Nov 09:00 - Fri 4 Dec 17:00"),
        ("Thursday next week before 11", "Thu 3 Dec, 09:00-11:00"),
        ("the day after tomorrow at 2:30pm", "Fri 27 Nov, 14:30-15:30"),
    ],
)
def test_free_text_becomes_a_period_in_the_clinic_time_zone(text: str, expected: str) -> None:
    parsed = period(text)
    assert parsed.human() == expected
    assert parsed.start.utcoffset().total_seconds() == -5 * 3600  # EST, the clinic's zone


def test_a_date_earlier_in_the_year_means_next_year() -> None:
    assert period("3 March").start.date().isoformat() == "2027-03-03"


def test_the_14th_is_this_month_when_it_is_still_ahead() -> None:
    tenth = datetime(2026, 12, 10, 9, 0, tzinfo=NEW_YORK)
    assert period("the 14th after 3", now=tenth).human() == "Mon 14 Dec, 15:00-17:00"


def test_any_weekday_skips_the_weekend() -> None:
    friday = datetime(2026, 11, 27, 16, 0, tzinfo=NEW_YORK)
    assert period("any weekday morning", now=friday).human() == "Mon 30 Nov, 09:00-12:00"


@pytest.mark.parametrize(
    "text, shown",
    [
        ("yesterday", "Tue 24 Nov, 09:00-17:00"),
        ("last Tuesday", "Tue 24 Nov, 09:00-17:00"),
        ("20 November", "Fri 20 Nov, 09:00-17:00"),
        ("1 Nov 2025", "Sat 1 Nov, 09:00-17:00"),
        ("this morning at 8", "Wed 25 Nov, 08:00-09:00"),
    ],
)
def test_past_dates_are_refused_with_the_reason(text: str, shown: str) -> None:
    result = parse_period(text, NOW)
    assert isinstance(result, Invalid)
    assert result.message.startswith(f"{shown} is in the past")


@pytest.mark.parametrize("text", ["is it safe?", "how long does it take", "december", "purple"])
def test_text_without_a_day_is_refused_with_examples(text: str) -> None:
    result = parse_period(text, NOW)
    assert isinstance(result, Invalid)
    assert "couldn't work out a day" in result.message and "next Tuesday afternoon" in result.message


def test_the_period_follows_daylight_saving_time() -> None:
    london = datetime(2027, 3, 24, 12, 0, tzinfo=ZoneInfo("Europe/London"))
    parsed = period("next Tuesday afternoon", now=london, region="GB")
    assert parsed.start.isoformat() == "2027-03-30T12:00:00+01:00"


def test_day_month_order_follows_the_region() -> None:
    assert period("3/12", region="GB").start.date().isoformat() == "2026-12-03"
    assert period("12/3", region="US").start.date().isoformat() == "2026-12-03"


# --- Phone numbers and email ----------------------------------------------------------

@pytest.mark.parametrize(
    "text, e164",
    [
        ("212 555 0147", "+12125550147"),
        ("my number is (212) 555-0147 thanks", "+12125550147"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_valid_phone_numbers_are_stored_as_e164(text: str, e164: str) -> None:
    assert parse_phone(text, "US") == {PHONE: e164}


def test_the_default_region_reads_national_numbers() -> None:
    assert parse_phone("020 7946 0958", "GB") == {PHONE: "+442079460958"}


@pytest.mark.parametrize(
    "text, reason",
    [
        ("12345", "it is too short"),
        ("555-1234", "it needs the area code"),
        ("call me", "I couldn't find a phone number in it"),
        ("212 555 01477777", "it is too long"),
    ],
)
def test_invalid_phone_numbers_get_the_reason(text: str, reason: str) -> None:
    result = parse_phone(text, "US")
    assert isinstance(result, Invalid)
    assert result.message.startswith(f"That doesn't look like a valid phone number: {reason}.")


@pytest.mark.parametrize(
    "channel, sender, number",
    [
        ("twilio", "whatsapp:+14155552671", "+14155552671"),
        ("twilio", "+14155552671", "+14155552671"),
        ("rest", "+14155552671", None),
        ("twilio", "+1555", None),
        (None, "whatsapp:+14155552671", None),
    ],
)
def test_the_sender_number_counts_only_on_sms_and_whatsapp(
    channel: Optional[str], sender: str, number: Optional[str]
) -> None:
    assert sender_phone(channel, sender, "US") == number


def test_on_sms_yes_means_the_sender_number() -> None:
    assert parse_phone("yes, use this one", "US", own_number="+14155552671") == {PHONE: "+14155552671"}
    assert parse_phone("212 555 0147", "US", own_number="+14155552671") == {PHONE: "+12125550147"}


def test_emails_are_normalised() -> None:
    assert parse_email("it's Jane.Doe@Example.COM thanks") == {EMAIL: "Jane.Doe@example.com"}


@pytest.mark.parametrize(
    "text, reason",
    [
        ("jane at gmail", "That doesn't look like an email address."),
        ("jane@", "There must be something after the @-sign."),
        ("jane@localhost", "It should have a period."),
    ],
)
def test_invalid_emails_get_the_reason(text: str, reason: str) -> None:
    result = parse_email(text)
    assert isinstance(result, Invalid) and reason in result.message


# --- Names and choices --------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, name",
    [
        ("Jane Smith", "Jane Smith"),
        ("my name is Jane O'Neil", "Jane O'Neil"),
        ("hi, I'm Jean-Luc Picard", "Jean-Luc Picard"),
        ("María José Núñez", "María José Núñez"),
        ("Do Van Minh", "Do Van Minh"),
    ],
)
def test_names(text: str, name: str) -> None:
    assert parse_name(text) == {NAME: name}


@pytest.mark.parametrize("text", ["does it hurt?", "is it safe", "yes", "212 555 0147", "cancel", "x"])
def test_what_is_not_a_name(text: str) -> None:
    assert isinstance(parse_name(text), Invalid)


@pytest.mark.parametrize(
    "text, method",
    [("Phone call", "phone"), ("Text message", "sms"), ("Email", "email"), ("email me please", "email"),
     ("WhatsApp", "sms"), ("text me, not a call", "sms")],
)
def test_contact_methods(text: str, method: str) -> None:
    assert forms.parse_method(text) == {METHOD: method}


@pytest.mark.parametrize(
    "text, reason",
    [("Spider vein consultation", "spider_vein_consultation"),
     ("Sclerotherapy treatment", "sclerotherapy_treatment"),
     ("Follow-up visit", "follow_up"), ("Something else", "other"),
     ("a consultation about my spider veins", "spider_vein_consultation")],
)
def test_reasons(text: str, reason: str) -> None:
    assert forms.parse_reason(text) == {REASON: reason}


@pytest.mark.parametrize(
    "text, intent, answer",
    [("yes I agree", None, True), ("I don't mind", None, True), ("no thanks", None, False),
     ("I do not agree", None, False), ("/affirm", "affirm", True), ("/deny", "deny", False),
     ("is my data safe?", None, None), ("purple", None, None)],
)
def test_yes_or_no(text: str, intent: Optional[str], answer: Optional[bool]) -> None:
    assert forms.yes_or_no(text, intent) is answer


def test_a_question_is_not_a_reason() -> None:
    assert isinstance(forms.parse_reason("is sclerotherapy treatment painful?"), Invalid)


def test_consent_text_is_pinned_to_its_version() -> None:
    """Patients agreed to the exact text of a version: a changed text needs a new version."""
    digest = hashlib.sha256(forms.CONSENT_TEXT.encode()).hexdigest()
    assert {CONSENT_VERSION: digest} == {
        "2026-11-v1": "574bb14a5c128ff7057540361d32add826e8546d3a8ce75df77e05e3f942ed7c",
    }, "The consent text changed: give it a new CONSENT_VERSION and pin the new text here."


# --- The validation actions, on real trackers -----------------------------------------


def tracker(
    slots: Dict[str, Any],
    text: str,
    intent: str = "nlu_fallback",
    form: str = "booking_form",
    channel: str = "rest",
    sender: str = "test-forms",
    after_rule: Optional[str] = None,
    rejected: bool = False,
) -> Tracker:
    """A tracker as the form hands it to its validation action after a patient message."""
    events: List[Dict[str, Any]] = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}},
         "input_channel": channel},
    ]
    if rejected:  # the form stepped aside once already in this turn
        events.append({"event": "action_execution_rejected", "name": form})
    if after_rule:  # the form is back after a rule answered the message
        events.append({"event": "action", "name": after_rule})
    events.append({"event": "action", "name": form})
    all_slots = {slot: None for slot in forms.REQUEST_SLOTS}
    all_slots.update(slots)
    return Tracker(
        sender, all_slots, {"text": text, "intent": {"name": intent, "confidence": 1.0}},
        events, False, None, {"name": form}, form,
    )


def run_validation(
    action: forms.RequestFormValidation, state: Tracker
) -> tuple[Dict[str, Any], List[Dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, state, {}))
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}, dispatcher.messages


BOOKING = forms.ValidateBookingForm()
CALLBACK = forms.ValidateCallbackForm()
COMPLETE = {
    NAME: "Jane Smith", METHOD: "sms", PHONE: "+12125550147", TIME: "friday",
    START: "2026-11-27T09:00:00-05:00", END: "2026-11-27T17:00:00-05:00",
    REASON: "follow_up", CONSENT: True, CONSENT_VER: CONSENT_VERSION,
}


def test_an_answer_fills_the_asked_slot_and_the_next_question_follows() -> None:
    slots, messages = run_validation(
        BOOKING, tracker({"requested_slot": NAME}, "Jane Smith", intent="greet")
    )
    assert slots == {NAME: "Jane Smith", MISSES: None, "requested_slot": METHOD}
    assert messages == []


@pytest.mark.parametrize(
    "method, asked, never",
    [("email", EMAIL, PHONE), ("phone", PHONE, EMAIL), ("sms", PHONE, EMAIL)],
)
def test_the_contact_method_decides_between_phone_and_email(method: str, asked: str, never: str) -> None:
    slots, _ = run_validation(
        BOOKING, tracker({"requested_slot": METHOD, NAME: "Jane Smith"}, method)
    )
    assert slots["requested_slot"] == asked
    filled = {NAME: "Jane Smith", METHOD: method, asked: "x", TIME: "t", START: "s", END: "e",
              REASON: "other", CONSENT: True}
    assert never not in BOOKING.needed_slots(filled)
    assert BOOKING.next_slot(filled) == CONFIRMED


def test_an_invalid_answer_is_asked_again_with_the_reason() -> None:
    slots, messages = run_validation(
        BOOKING, tracker({"requested_slot": PHONE, NAME: "Jane", METHOD: "phone"}, "12345")
    )
    assert slots[PHONE] is None and slots["requested_slot"] == PHONE
    assert [m["text"] for m in messages][0].startswith("That doesn't look like a valid phone number")
    assert slots[MISSES] == {"slot": PHONE, "count": 1}


def test_the_third_miss_on_a_question_offers_staff() -> None:
    misses: Optional[Dict[str, Any]] = None
    for attempt in range(1, 4):
        slots, messages = run_validation(
            BOOKING,
            tracker({"requested_slot": PHONE, NAME: "Jane", METHOD: "phone", MISSES: misses}, "555"),
        )
        misses = slots[MISSES]
        assert misses == {"slot": PHONE, "count": attempt}
    assert len(messages) == 2 and "our staff can call you back" in messages[1]["text"]
    assert {"title": "Talk to staff", "payload": "/human_handoff"} in messages[1]["buttons"]


def test_a_miss_on_another_question_starts_counting_again() -> None:
    slots, _ = run_validation(
        BOOKING, tracker({"requested_slot": EMAIL, METHOD: "email", MISSES: {"slot": PHONE, "count": 2}},
                         "nope")
    )
    assert slots[MISSES] == {"slot": EMAIL, "count": 1}


@pytest.mark.parametrize("intent", ["faq", "out_of_scope", "bot_challenge", "cancel", "medical_emergency"])
def test_what_does_not_answer_the_question_is_left_to_the_rules(intent: str) -> None:
    slots, messages = run_validation(
        BOOKING, tracker({"requested_slot": NAME}, "does it hurt?", intent=intent)
    )
    assert slots == {} and messages == []  # the form rejects; a rule answers


def test_back_after_stepping_aside_the_form_only_asks_again() -> None:
    slots, messages = run_validation(
        BOOKING, tracker({"requested_slot": NAME}, "hi", intent="greet", rejected=True)
    )
    assert slots == {"requested_slot": NAME} and messages == []


@pytest.mark.parametrize(
    "slot, text", [(PHONE, "12345"), (EMAIL, "jane@"), (TIME, "yesterday")]
)
def test_a_clear_attempt_is_a_miss_whatever_the_intent(slot: str, text: str) -> None:
    slots, messages = run_validation(
        BOOKING,
        tracker({"requested_slot": slot, NAME: "Jane", METHOD: "email" if slot == EMAIL else "phone"},
                text, intent="out_of_scope"),
    )
    assert slots[MISSES] == {"slot": slot, "count": 1} and len(messages) == 1


def test_a_slot_requested_by_rasa_during_an_outage_is_corrected() -> None:
    # With the action server down, Rasa requests the first empty slot of the
    # domain's list (the email, for a patient who chose text messages).
    state = {"requested_slot": EMAIL, NAME: "Jane", METHOD: "sms", PHONE: "+12125550147"}
    slots, _ = run_validation(BOOKING, tracker(state, "next Tuesday afternoon"))
    assert slots[START] and slots["requested_slot"] == REASON


def test_cancel_words_cancel_but_a_misread_answer_does_not() -> None:
    consent = {**COMPLETE, CONSENT: None, "requested_slot": CONSENT}
    assert run_validation(BOOKING, tracker(consent, "never mind", intent="cancel")) == ({}, [])
    slots, _ = run_validation(BOOKING, tracker(consent, "I don't mind", intent="cancel"))
    assert slots[CONSENT] is True


def test_an_answer_wins_over_a_misclassified_intent() -> None:
    slots, _ = run_validation(
        BOOKING, tracker({"requested_slot": REASON}, "Sclerotherapy treatment", intent="faq")
    )
    assert slots[REASON] == "sclerotherapy_treatment"


def test_back_from_a_rule_the_form_only_asks_again() -> None:
    slots, messages = run_validation(
        BOOKING,
        tracker({"requested_slot": TIME, NAME: "Jane", METHOD: "email", EMAIL: "j@example.com"},
                "does it hurt?", intent="faq", after_rule="utter_faq"),
    )
    assert slots == {"requested_slot": TIME} and messages == []


def test_free_text_fills_only_the_question_asked() -> None:
    slots, _ = run_validation(
        BOOKING, tracker({"requested_slot": NAME}, "tomorrow at 10")
    )
    assert TIME not in slots and START not in slots


def test_a_correction_at_the_summary_asks_that_field_and_returns_to_the_summary() -> None:
    state = {**COMPLETE, "requested_slot": CONFIRMED}
    slots, _ = run_validation(BOOKING, tracker(state, "change my phone number", intent="change_field"))
    assert slots[PHONE] is None and slots["requested_slot"] == PHONE and slots[FIELD] == "phone"

    state.update(slots)
    slots, _ = run_validation(BOOKING, tracker(state, "646 555 0199"))
    assert slots[PHONE] == "+16465550199" and slots[FIELD] is None
    assert slots["requested_slot"] == CONFIRMED


def test_a_correction_with_the_new_value_goes_straight_back_to_the_summary() -> None:
    state = {**COMPLETE, "requested_slot": CONFIRMED}
    slots, _ = run_validation(BOOKING, tracker(state, "change my phone number to 646 555 0199"))
    assert slots[PHONE] == "+16465550199" and slots["requested_slot"] == CONFIRMED


def test_change_without_a_field_asks_which() -> None:
    state = {**COMPLETE, "requested_slot": CONFIRMED}
    slots, _ = run_validation(BOOKING, tracker(state, "/change_field", intent="change_field"))
    assert slots[PENDING] is True and slots["requested_slot"] == FIELD

    state.update(slots)
    slots, _ = run_validation(BOOKING, tracker(state, "Change email"))
    assert slots[PENDING] is False and slots[FIELD] == "email" and slots["requested_slot"] == EMAIL

    state.update(slots)
    slots, _ = run_validation(BOOKING, tracker(state, "jane@example.org"))
    assert slots[EMAIL] == "jane@example.org" and slots["requested_slot"] == CONFIRMED


def test_nothing_to_change_after_all_returns_to_the_summary() -> None:
    state = {**COMPLETE, PENDING: True, "requested_slot": FIELD}
    slots, _ = run_validation(BOOKING, tracker(state, "nothing, it's all fine"))
    assert slots[PENDING] is False and slots["requested_slot"] == CONFIRMED


def test_no_at_the_summary_asks_what_to_change() -> None:
    slots, _ = run_validation(BOOKING, tracker({**COMPLETE, "requested_slot": CONFIRMED}, "no", intent="deny"))
    assert slots["requested_slot"] == FIELD


def test_confirming_the_summary_ends_the_form() -> None:
    slots, _ = run_validation(BOOKING, tracker({**COMPLETE, "requested_slot": CONFIRMED}, "/affirm", intent="affirm"))
    assert slots[CONFIRMED] is True and slots["requested_slot"] is None


def test_consent_records_its_version_and_no_ends_the_form() -> None:
    state = {**COMPLETE, CONSENT: None, CONSENT_VER: None, "requested_slot": CONSENT}
    slots, _ = run_validation(BOOKING, tracker(state, "yes I agree", intent="affirm"))
    assert slots[CONSENT] is True and slots[CONSENT_VER] == CONSENT_VERSION
    assert slots["requested_slot"] == CONFIRMED

    slots, _ = run_validation(BOOKING, tracker(state, "no", intent="deny"))
    assert slots[CONSENT] is False and slots["requested_slot"] is None


def test_the_callback_form_asks_name_phone_consent_only() -> None:
    assert CALLBACK.needed_slots({}) == [NAME, PHONE, CONSENT]
    slots, _ = run_validation(
        CALLBACK,
        tracker({"requested_slot": PHONE, NAME: "Jane"}, "change my email", intent="change_field",
                form="callback_form"),
    )
    assert slots["requested_slot"] == FIELD  # there is no email to change: ask what to change


def test_on_whatsapp_the_phone_question_offers_the_sender_number() -> None:
    state = tracker({"requested_slot": PHONE}, "Text message", channel="twilio",
                    sender="whatsapp:+14155552671")
    dispatcher = CollectingDispatcher()
    asyncio.run(forms.ActionAskPatientPhone().run(dispatcher, state, {}))
    [message] = dispatcher.messages
    assert "+1 415-555-2671" in message["text"]
    assert message["buttons"] == [{"title": "Use this number", "payload": "+14155552671"}]

    slots, _ = run_validation(
        BOOKING, tracker({"requested_slot": PHONE, NAME: "Jane", METHOD: "sms"}, "yes",
                         intent="affirm", channel="twilio", sender="whatsapp:+14155552671"),
    )
    assert slots[PHONE] == "+14155552671"


def test_on_the_web_the_phone_question_is_asked_plainly() -> None:
    dispatcher = CollectingDispatcher()
    asyncio.run(forms.ActionAskPatientPhone().run(dispatcher, tracker({}, "x"), {}))
    assert dispatcher.messages[0]["text"] == forms.QUESTIONS[PHONE]
    assert dispatcher.messages[0]["buttons"] == []


def test_the_summary_shows_every_field_and_the_period() -> None:
    dispatcher = CollectingDispatcher()
    asyncio.run(forms.ActionAskBookingConfirmed().run(dispatcher, tracker(COMPLETE, "x"), {}))
    text = dispatcher.messages[0]["text"]
    for part in ["Jane Smith", "text message", "+1 212-555-0147", "Fri 27 Nov, 09:00-17:00",
                 "Follow-up visit", "Is everything correct?"]:
        assert part in text
    assert [b["title"] for b in dispatcher.messages[0]["buttons"]] == ["Confirm", "Change something", "Cancel"]


def test_every_ask_action_is_in_the_domain() -> None:
    import yaml

    from tests.responses import ROOT

    domain = yaml.safe_load((ROOT / "domain" / "domain.yml").read_text())
    asked = {slot for form in domain["forms"].values() for slot in form["required_slots"]}
    assert {f"action_ask_{slot}" for slot in asked} <= set(domain["actions"])
    assert set(forms.REQUEST_SLOTS) <= set(domain["slots"])


# --- Storing requests (actions/booking.py, actions/safety.py), on a real SQLite store -----


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated SQLite request store that save_request() uses through DATABASE_URL."""
    url = f"sqlite:///{tmp_path / 'requests.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    store.migrate(url)
    yield url
    store.engine(url).dispose()


@pytest.fixture
def broken_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A database without the request tables: every write fails."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    yield
    store.engine(url).dispose()


def run_action(action: Any, state: Tracker) -> tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, state, {}))
    return events, dispatcher.messages


CONFIRMED_BOOKING = {**COMPLETE, CONFIRMED: True, EMAIL: "jane@example.org"}
PERSONAL = ["Jane", "2125550147", "212-555-0147", "jane@example.org"]


def test_a_confirmed_booking_is_stored_and_the_patient_gets_its_reference(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    events, messages = run_action(booking.ActionSubmitBooking(), tracker(CONFIRMED_BOOKING, "/affirm"))
    [request] = store.list_requests(url=database)
    assert f"Your request is saved: reference {request.reference}." in messages[0]["text"]
    assert "text message to +1 212-555-0147" in messages[0]["text"]
    assert (request.kind, request.phone, request.email, request.contact_method, request.reason) == (
        store.RequestKind.BOOKING, "+12125550147", "jane@example.org", "sms", "follow_up")
    assert request.requested_start == datetime(2026, 11, 27, 9, 0, tzinfo=NEW_YORK)
    assert request.consent_version == CONSENT_VERSION and request.channel == "rest"
    assert request.conversation_id == "test-forms" and request.state == store.DeliveryState.PENDING
    # Privacy: every request slot is cleared, and the log names only the reference.
    assert {e["name"] for e in events if e["value"] is None} == set(forms.REQUEST_SLOTS)
    assert request.reference in caplog.text
    assert not any(detail in caplog.text for detail in PERSONAL)


def test_when_the_store_is_down_the_patient_is_told_it_was_not_saved(
    broken_database: None, caplog: pytest.LogCaptureFixture
) -> None:
    events, messages = run_action(booking.ActionSubmitBooking(), tracker(CONFIRMED_BOOKING, "/affirm"))
    [message] = messages
    assert "could NOT be saved" in message["text"] and "reference" not in message["text"]
    assert clinic_details().phone in message["text"]
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert not any(detail in caplog.text for detail in PERSONAL)
    assert {e["name"] for e in events if e["value"] is None} == set(forms.REQUEST_SLOTS)


def test_without_consent_nothing_is_stored(database: str) -> None:
    _, messages = run_action(
        booking.ActionSubmitBooking(), tracker({**CONFIRMED_BOOKING, CONSENT: False}, "no")
    )
    assert "nothing has been saved" in messages[0]["text"]
    assert store.list_requests(url=database) == []


def test_a_callback_request_is_stored_with_name_phone_and_consent(database: str) -> None:
    state = tracker({NAME: "Jane Smith", PHONE: "+12125550147", CONSENT: True,
                     CONSENT_VER: CONSENT_VERSION}, "yes", form="callback_form")
    _, messages = run_action(booking.ActionSubmitCallback(), state)
    [request] = store.list_requests(url=database)
    assert request.kind == store.RequestKind.CALLBACK and request.phone == "+12125550147"
    assert f"reference {request.reference}" in messages[0]["text"]


def emergency_tracker(*messages: str, intent: str = "medical_emergency") -> Tracker:
    """After the emergency reply to the last message; `intent` is that message's."""
    events: List[Dict[str, Any]] = [
        {"event": "user", "text": "hi, earlier session", "input_channel": "twilio"},
        {"event": "session_started"},
    ]
    for text in messages:
        events += [{"event": "user", "text": text, "input_channel": "twilio"},
                   {"event": "bot", "text": "..."}]
    events += [{"event": "action", "name": "utter_emergency"}, {"event": "bot", "text": "Please call 911"}]
    latest = {"text": messages[-1], "intent": {"name": intent}}
    return Tracker("whatsapp:+14155552671", {}, latest, events, False, None, {}, None)


def test_an_emergency_is_recorded_as_an_urgent_callback_with_the_patient_words(database: str) -> None:
    state = emergency_tracker("212 555 0147", "my calf is suddenly swollen and hot")
    events, messages = run_action(safety.ActionRecordEmergency(), state)
    assert events == [] and messages == []  # the emergency reply stands alone
    [request] = store.list_requests(url=database)
    assert request.kind == store.RequestKind.URGENT_CALLBACK
    assert (request.conversation_id, request.channel) == ("whatsapp:+14155552671", "twilio")
    assert request.patient_message == "my calf is suddenly swollen and hot"
    assert (request.full_name, request.phone, request.email, request.consent_version) == (None,) * 4


def test_a_red_flag_split_over_two_messages_records_both(database: str) -> None:
    state = emergency_tracker("/book_appointment", "I had sclerotherapy on Monday",
                              "and now my leg is really swollen and hot", intent="nlu_fallback")
    run_action(safety.ActionRecordEmergency(), state)
    [request] = store.list_requests(url=database)
    assert request.patient_message == "I had sclerotherapy on Monday\nand now my leg is really swollen and hot"


def test_an_emergency_that_cannot_be_recorded_is_logged_without_patient_data(
    broken_database: None, caplog: pytest.LogCaptureFixture
) -> None:
    events, messages = run_action(safety.ActionRecordEmergency(), emergency_tracker("cant breathe"))
    assert events == [] and messages == []
    [record] = caplog.records
    assert record.levelname == "ERROR"
    assert "breathe" not in caplog.text and "4155552671" not in caplog.text

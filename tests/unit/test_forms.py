"""The booking and call-back forms (actions/forms.py) and storing their requests
(actions/booking.py, actions/safety.py).

The validation actions run on real rasa_sdk trackers as the action server hands
them over (real phonenumbers, email-validator, dateparser), and store into a real
(temporary, migrated) SQLite request store. What the bot says is checked as the
patient would read it: the response each action names, rendered from domain/
with the values the action passed.
"""
from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import booking, forms, safety
from actions.forms import (
    CONFIRMED, CONSENT, CONSENT_VER, CONSENT_VERSION, EMAIL, END, FIELD, FLEXIBLE, METHOD, MISSES,
    NAME, NAME_WITHHELD, PENDING, PHONE, REASON, START, TIME, TOPIC,
)
from clinic import store
from clinic.settings import clinic_details
from tests.responses import ResponseCatalog, _fill

NEW_YORK = ZoneInfo("America/New_York")
CATALOG = ResponseCatalog.load()


def said(messages: List[Dict[str, Any]]) -> List[str]:
    """What the patient reads: each named response rendered with the values passed."""
    out = []
    for message in messages:
        values = {k: v for k, v in message.items() if isinstance(v, str)}
        text = _fill(CATALOG.text(message["response"]), values) if message.get("response") else message["text"]
        assert not re.search(r"\{[a-z_]+\}", text), f"unfilled value in {text!r}"
        out.append(text)
    return out


def names(messages: List[Dict[str, Any]]) -> List[str]:
    return [m.get("response") for m in messages]


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
    START: "2027-11-26T09:00:00-05:00", END: "2027-11-26T17:00:00-05:00",
    REASON: "follow_up", CONSENT: True, CONSENT_VER: CONSENT_VERSION,
}
AT_SUMMARY = {**COMPLETE, "requested_slot": CONFIRMED}
AT_CONSENT = {**COMPLETE, CONSENT: None, CONSENT_VER: None, "requested_slot": CONSENT}


def test_an_answer_fills_the_asked_slot_and_the_next_question_follows() -> None:
    slots, messages = run_validation(BOOKING, tracker({"requested_slot": NAME}, "Jane Smith", intent="greet"))
    assert slots[NAME] == "Jane Smith" and slots["requested_slot"] == METHOD
    assert messages == []


@pytest.mark.parametrize(
    "method, asked, never",
    [("email", EMAIL, PHONE), ("phone", PHONE, EMAIL), ("sms", PHONE, EMAIL)],
)
def test_the_contact_method_decides_between_phone_and_email(method: str, asked: str, never: str) -> None:
    slots, _ = run_validation(BOOKING, tracker({"requested_slot": METHOD, NAME: "Jane Smith"}, method))
    assert slots["requested_slot"] == asked
    filled = {NAME: "Jane Smith", METHOD: method, asked: "x", TIME: "t", START: "s", END: "e",
              REASON: "other", CONSENT: True}
    assert never not in BOOKING.needed_slots(filled)


@pytest.mark.parametrize(
    "text, method, slot, value",
    [("jane.doe@example.org", "email", EMAIL, "jane.doe@example.org"),
     ("you can email me at Jane@Example.org", "email", EMAIL, "Jane@example.org"),
     ("617-333-2211", "phone", PHONE, "+16173332211"),
     ("text me on 617 333 2211", "sms", PHONE, "+16173332211")],
)
def test_an_email_or_phone_typed_at_the_contact_question_sets_the_method_and_the_value(
    text: str, method: str, slot: str, value: str
) -> None:
    slots, messages = run_validation(BOOKING, tracker({"requested_slot": METHOD, NAME: "Jane"}, text))
    assert (slots[METHOD], slots[slot]) == (method, value)
    assert slots["requested_slot"] == TIME and messages == []  # nothing asked twice


def test_an_email_at_the_phone_question_switches_to_email_and_a_number_at_the_email_question_to_phone() -> None:
    slots, _ = run_validation(BOOKING, tracker({"requested_slot": PHONE, NAME: "Jane", METHOD: "sms"},
                                               "just email me: jane@example.org"))
    assert (slots[METHOD], slots[EMAIL], slots["requested_slot"]) == ("email", "jane@example.org", TIME)
    slots, _ = run_validation(BOOKING, tracker({"requested_slot": EMAIL, NAME: "Jane", METHOD: "email"},
                                               "call me on 617 333 2211 instead"))
    assert (slots[METHOD], slots[PHONE], slots["requested_slot"]) == ("phone", "+16173332211", TIME)


def test_a_callback_still_needs_a_phone_when_given_an_email() -> None:
    slots, messages = run_validation(CALLBACK, tracker({"requested_slot": PHONE, NAME: "Jane"},
                                                        "jane@example.org", form="callback_form"))
    assert slots[PHONE] is None and slots["requested_slot"] == PHONE
    assert names(messages) == ["utter_invalid_phone_missing"]


def test_an_invalid_answer_is_asked_again_with_the_reason() -> None:
    slots, messages = run_validation(
        BOOKING, tracker({"requested_slot": PHONE, NAME: "Jane", METHOD: "phone"}, "12345")
    )
    assert slots[PHONE] is None and slots["requested_slot"] == PHONE
    assert said(messages) == ["That doesn't look like a valid phone number: it is too short. Please send "
                              "the full number with the area code, for example (201) 555-0123."]
    assert slots[MISSES] == {"slot": PHONE, "count": 1}


def test_the_third_miss_on_a_question_offers_a_call_back_and_the_phone() -> None:
    misses: Optional[Dict[str, Any]] = None
    for attempt in range(1, 4):
        slots, messages = run_validation(
            BOOKING, tracker({"requested_slot": PHONE, NAME: "Jane", METHOD: "phone", MISSES: misses}, "555"),
        )
        misses = slots[MISSES]
        assert misses == {"slot": PHONE, "count": attempt}
    assert names(messages) == ["utter_invalid_phone_too_short", "utter_form_stuck"]
    offer = said(messages)[1]
    assert "our staff can call you back" in offer and clinic_details().phone in offer
    assert {"title": "Talk to staff", "payload": "/human_handoff"} in CATALOG_BUTTONS["utter_form_stuck"]


def test_a_miss_on_another_question_starts_counting_again() -> None:
    slots, _ = run_validation(
        BOOKING, tracker({"requested_slot": EMAIL, METHOD: "email", MISSES: {"slot": PHONE, "count": 2}}, "nope")
    )
    assert slots[MISSES] == {"slot": EMAIL, "count": 1}


@pytest.mark.parametrize("intent", ["faq", "bot_challenge", "cancel", "medical_emergency", "goodbye"])
def test_a_clear_non_answer_is_left_to_the_rules(intent: str) -> None:
    text = "cancel" if intent == "cancel" else "does it hurt?"
    slots, messages = run_validation(BOOKING, tracker({"requested_slot": NAME}, text, intent=intent))
    assert slots == {"requested_slot": NAME} and messages == []  # the form rejects; a rule answers


@pytest.mark.parametrize("intent", ["out_of_scope", "nlu_fallback"])
def test_an_unusable_answer_is_a_miss_with_its_reason_never_the_general_decline(intent: str) -> None:
    slots, messages = run_validation(
        BOOKING, tracker({"requested_slot": TIME, NAME: "Jane", METHOD: "email", EMAIL: "j@example.com"},
                         "purple elephants", intent=intent))
    assert names(messages) == ["utter_invalid_time"] and slots[MISSES] == {"slot": TIME, "count": 1}


def test_an_out_of_scope_question_mid_form_is_a_miss_that_says_so() -> None:
    slots, messages = run_validation(
        BOOKING, tracker({"requested_slot": NAME}, "how much does it cost?", intent="out_of_scope"))
    assert names(messages) == ["utter_invalid_question"] and slots["requested_slot"] == NAME
    assert "Sorry, I can't answer that here" not in said(messages)[0]


@pytest.mark.parametrize("intent", ["goodbye", "out_of_scope", "nlu_fallback"])
def test_brb_mid_booking_is_not_declined_and_is_not_a_miss(intent: str) -> None:
    state = {"requested_slot": TIME, NAME: "Jane", METHOD: "email", EMAIL: "j@example.com",
             MISSES: {"slot": TIME, "count": 2}}
    slots, messages = run_validation(BOOKING, tracker(state, "brb", intent=intent))
    assert names(messages) == ["utter_take_your_time"]
    assert slots == {TIME: None, "requested_slot": TIME}  # the misses so far are left as they were


def test_back_after_stepping_aside_the_form_only_asks_again() -> None:
    slots, messages = run_validation(BOOKING, tracker({"requested_slot": NAME}, "hi", intent="greet", rejected=True))
    assert slots == {"requested_slot": NAME} and messages == []


@pytest.mark.parametrize("slot, text", [(PHONE, "12345"), (EMAIL, "jane@"), (TIME, "yesterday")])
def test_a_clear_attempt_is_a_miss_whatever_the_intent(slot: str, text: str) -> None:
    slots, messages = run_validation(
        BOOKING,
        tracker({"requested_slot": slot, NAME: "Jane", METHOD: "email" if slot == EMAIL else "phone"},
                text, intent="faq"),
    )
    assert slots[MISSES] == {"slot": slot, "count": 1} and len(messages) == 1


def test_a_slot_requested_by_rasa_during_an_outage_is_corrected() -> None:
    # With the action server down, Rasa requests the first empty slot of the
    # domain's list (the email, for a patient who chose text messages).
    state = {"requested_slot": EMAIL, NAME: "Jane", METHOD: "sms", PHONE: "+12125550147"}
    slots, _ = run_validation(BOOKING, tracker(state, "next Tuesday afternoon"))
    assert slots[START] and slots["requested_slot"] == REASON


def test_an_answer_wins_over_a_misclassified_intent() -> None:
    slots, _ = run_validation(BOOKING, tracker({"requested_slot": REASON}, "Sclerotherapy treatment", intent="faq"))
    assert slots[REASON] == "sclerotherapy_treatment"


def test_back_from_a_rule_the_form_only_asks_again() -> None:
    slots, messages = run_validation(
        BOOKING,
        tracker({"requested_slot": TIME, NAME: "Jane", METHOD: "email", EMAIL: "j@example.com"},
                "does it hurt?", intent="faq", after_rule="utter_faq"),
    )
    assert slots == {"requested_slot": TIME} and messages == []


def test_free_text_fills_only_the_question_asked() -> None:
    slots, _ = run_validation(BOOKING, tracker({"requested_slot": NAME}, "tomorrow at 10"))
    assert TIME not in slots and START not in slots


# --- Days and times in the form ----------------------------------------------------------------

TIME_ASKED = {"requested_slot": TIME, NAME: "Jane", METHOD: "email", EMAIL: "j@example.com"}


def test_a_day_is_echoed_with_its_date() -> None:
    slots, messages = run_validation(BOOKING, tracker(TIME_ASKED, "next Wednesday"))
    start = datetime.fromisoformat(slots[START])
    assert start.weekday() == 2 and slots[FLEXIBLE] is None
    assert said(messages) == [f"Noted: Wed {start.day} {start:%b}, 09:00-17:00."]


def test_a_vague_time_is_kept_as_a_flexible_preference_and_shown_as_such() -> None:
    slots, messages = run_validation(BOOKING, tracker(TIME_ASKED, "any weekday morning"))
    assert slots[TIME] == "any weekday morning"
    assert slots[FLEXIBLE] == {"weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri"], "from": "09:00", "to": "12:00"}
    today = forms.clinic_now().date()
    assert datetime.fromisoformat(slots[START]).date() > today  # not today
    assert (datetime.fromisoformat(slots[END]) - datetime.fromisoformat(slots[START])).days == 13
    assert names(messages) == ["utter_time_noted_flexible"] and "flexible" in said(messages)[0]

    summary = run_ask(forms.ActionAskBookingConfirmed(), {**COMPLETE, **slots})
    assert names(summary) == ["utter_summary_flexible"]
    assert "When: flexible, Mon-Fri 09:00-12:00" in said(summary)[0]


@pytest.mark.parametrize("intent", ["faq", "out_of_scope"])
def test_a_question_about_something_else_is_not_read_as_its_day(intent: str) -> None:
    slots, messages = run_validation(BOOKING, tracker(TIME_ASKED, "what's the weather like tomorrow?", intent=intent))
    if intent == "faq":
        assert slots == {"requested_slot": TIME} and messages == []  # the rules answer it
    else:
        assert names(messages) == ["utter_invalid_question"] and slots[TIME] is None


def test_how_about_friday_is_an_answer() -> None:
    slots, _ = run_validation(BOOKING, tracker(TIME_ASKED, "how about friday?", intent="out_of_scope"))
    assert datetime.fromisoformat(slots[START]).weekday() == 4


def test_february_31st_is_refused_with_the_reason() -> None:
    slots, messages = run_validation(BOOKING, tracker(TIME_ASKED, "February 31st"))
    assert slots[TIME] is None and slots["requested_slot"] == TIME
    assert said(messages) == ["There is no 31 February: February has at most 29 days. Please choose another day."]


def test_a_time_outside_opening_hours_gets_the_hours_and_the_question_again() -> None:
    slots, messages = run_validation(BOOKING, tracker(TIME_ASKED, "tomorrow at 7am"))
    assert slots["requested_slot"] == TIME
    assert said(messages) == [f"07:00-08:00 is outside the clinic's opening hours: it is open {clinic_details().hours}."]


# --- Corrections, anywhere ----------------------------------------------------------------------


def test_a_correction_at_the_summary_asks_that_field_and_returns_to_the_summary() -> None:
    state = dict(AT_SUMMARY)
    slots, _ = run_validation(BOOKING, tracker(state, "change my phone number", intent="change_field"))
    assert slots[PHONE] is None and slots["requested_slot"] == PHONE and slots[FIELD] == "phone"

    state.update(slots)
    slots, _ = run_validation(BOOKING, tracker(state, "646 555 0199"))
    assert slots[PHONE] == "+16465550199" and slots[FIELD] is None
    assert slots["requested_slot"] == CONFIRMED


@pytest.mark.parametrize(
    "text, slot, value, echo",
    [("actually my number is 617-333-2211", PHONE, "+16173332211",
      "Thanks, I've changed your phone number to +1 617-333-2211."),
     ("change my phone number to 646 555 0199", PHONE, "+16465550199",
      "Thanks, I've changed your phone number to +1 646-555-0199."),
     ("my name is spelled Jon Smyth", NAME, "Jon Smyth", "Thanks, I've changed your name to Jon Smyth."),
     ("sorry, wrong number: 617-333-2211 ext 42", PHONE, "+16173332211;ext=42",
      "Thanks, I've changed your phone number to +1 617-333-2211 ext. 42.")],
)
def test_a_correction_with_the_new_value_changes_it_and_shows_the_summary_again(
    text: str, slot: str, value: str, echo: str
) -> None:
    slots, messages = run_validation(BOOKING, tracker(AT_SUMMARY, text, intent="nlu_fallback"))
    assert slots[slot] == value and slots["requested_slot"] == CONFIRMED
    assert said(messages) == [echo]


def test_make_it_friday_instead_changes_the_day() -> None:
    state = {**AT_SUMMARY, TIME: "Monday", START: "2027-11-22T09:00:00-05:00", END: "2027-11-22T17:00:00-05:00"}
    slots, messages = run_validation(BOOKING, tracker(state, "make it Friday instead"))
    assert datetime.fromisoformat(slots[START]).weekday() == 4 and slots["requested_slot"] == CONFIRMED
    assert names(messages) == ["utter_changed_time"]


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        # A new value of a kind nothing else can be, with or without "change".
        ("my email is actually JANE.DOE@EXAMPLE.ORG", "nlu_fallback",
         {METHOD: "email", EMAIL: "jane.doe@example.org"}),
        ("use jane.doe@example.org instead", "faq", {METHOD: "email", EMAIL: "jane.doe@example.org"}),
        ("you can reach me on 617 333 2211", "nlu_fallback", {PHONE: "+16173332211", METHOD: "sms"}),
        # A field named with a value that reads as one, in any script or wording.
        ("my name is 王秀英", "greet", {NAME: "王秀英"}),
        ("please write my name as Ольга Петрова", "nlu_fallback", {NAME: "Ольга Петрова"}),
        ("it's for a follow-up visit actually", "faq", {REASON: "follow_up"}),
        ("this is for a sclerotherapy treatment", "faq", {REASON: "sclerotherapy_treatment"}),
        # A contact method asked for, what is refused left out.
        ("actually please call me instead of texting", "nlu_fallback", {METHOD: "phone", PHONE: "+12125550147"}),
        ("actually call me, don't text", "deny", {METHOD: "phone"}),
    ],
)
def test_a_new_value_at_the_summary_changes_that_field_and_shows_the_summary_again(
    text: str, intent: str, expected: Dict[str, Any]
) -> None:
    state = {**AT_SUMMARY, REASON: "spider_vein_consultation"} if REASON in expected else AT_SUMMARY
    slots, messages = run_validation(BOOKING, tracker(state, text, intent=intent))
    assert {k: slots.get(k, state.get(k)) for k in expected} == expected
    assert slots["requested_slot"] == CONFIRMED and slots.get(FIELD) is None
    assert len(messages) == 1 and messages[0]["response"].startswith("utter_changed_")


def test_a_new_email_at_the_summary_of_a_text_message_request_switches_to_email() -> None:
    slots, messages = run_validation(BOOKING, tracker(AT_SUMMARY, "use jane.doe@example.org instead"))
    assert slots[METHOD] == "email" and slots[EMAIL] == "jane.doe@example.org"
    assert slots["requested_slot"] == CONFIRMED


@pytest.mark.parametrize("text, intent", [("how long does the treatment take?", "faq"),
                                          ("yes, the name is right", "affirm"), ("the reason is fine", "affirm")])
def test_naming_a_field_at_the_summary_without_a_new_value_changes_nothing(text: str, intent: str) -> None:
    slots, _ = run_validation(BOOKING, tracker(AT_SUMMARY, text, intent=intent))
    assert not any(slots.get(k) is None and k in slots for k in (NAME, REASON, TIME, PHONE))


@pytest.mark.parametrize("text, hours", [("can we do the morning instead?", (9, 12)),
                                         ("actually after 3 would be better", (15, 17))])
def test_a_time_of_day_alone_at_the_summary_keeps_the_day(text: str, hours: Any) -> None:
    slots, messages = run_validation(BOOKING, tracker(AT_SUMMARY, text))
    start, end = datetime.fromisoformat(slots[START]), datetime.fromisoformat(slots[END])
    assert start.date() == end.date() == datetime.fromisoformat(COMPLETE[START]).date()
    assert (start.hour, end.hour) == hours and slots[FLEXIBLE] is None
    assert slots["requested_slot"] == CONFIRMED and names(messages) == ["utter_changed_time"]


def test_a_time_of_day_outside_the_hours_at_the_summary_says_why_and_asks_again() -> None:
    slots, messages = run_validation(BOOKING, tracker(AT_SUMMARY, "actually make it the evening"))
    assert slots["requested_slot"] == TIME and names(messages) == ["utter_invalid_outside_hours"]


@pytest.mark.parametrize("text", ["no wait, it's 617 333 2211", "617 333 2211", "oh sorry it's 617-333-2211"])
def test_a_new_number_right_after_the_phone_corrects_it_rather_than_being_read_as_a_day(text: str) -> None:
    state = {"requested_slot": TIME, NAME: "Jane", METHOD: "sms", PHONE: "+12125550147"}
    slots, messages = run_validation(BOOKING, tracker(state, text))
    assert slots[PHONE] == "+16173332211" and slots["requested_slot"] == TIME
    assert names(messages) == ["utter_changed_phone", "utter_summary_so_far"]


@pytest.mark.parametrize("text, method, asked", [("Actually, email me instead", "email", EMAIL),
                                                 ("can you text me instead?", "sms", PHONE),
                                                 ("by email please", "email", EMAIL)])
def test_another_method_asked_for_at_the_phone_question_switches_and_asks_for_it(
    text: str, method: str, asked: str
) -> None:
    state = {"requested_slot": PHONE, NAME: "Jane", METHOD: "phone"}
    slots, _ = run_validation(BOOKING, tracker(state, text))
    assert slots[METHOD] == method and slots["requested_slot"] == asked and not slots.get(MISSES)


def test_a_day_at_the_time_question_is_not_a_method_change() -> None:
    state = {"requested_slot": TIME, NAME: "Jane", METHOD: "sms", PHONE: "+12125550147"}
    slots, _ = run_validation(BOOKING, tracker(state, "call me next Tuesday afternoon"))
    assert slots.get(METHOD, "sms") == "sms" and slots[START] and slots["requested_slot"] == REASON


def test_a_correction_at_the_consent_step_changes_the_field_and_asks_consent_again() -> None:
    slots, messages = run_validation(BOOKING, tracker(AT_CONSENT, "my name is spelled Jon Smyth"))
    assert slots[NAME] == "Jon Smyth" and slots["requested_slot"] == CONSENT
    assert names(messages) == ["utter_changed_name", "utter_summary_so_far"]
    assert "- Name: Jon Smyth\n- Contact by: text message, +1 212-555-0147" in said(messages)[1]


def test_a_correction_mid_form_shows_the_request_so_far_and_keeps_the_question_asked() -> None:
    state = {"requested_slot": TIME, NAME: "Jane", METHOD: "phone", PHONE: "+12125550147"}
    slots, messages = run_validation(BOOKING, tracker(state, "actually my number is 617-333-2211"))
    assert slots[PHONE] == "+16173332211" and slots["requested_slot"] == TIME
    assert said(messages) == [
        "Thanks, I've changed your phone number to +1 617-333-2211.",
        "Here is your request so far:\n- Name: Jane\n- Contact by: phone call, +1 617-333-2211\n- When: -\n"
        "- Reason: -",
    ]


def test_naming_a_field_not_given_yet_is_an_answer_not_a_correction() -> None:
    slots, _ = run_validation(BOOKING, tracker({"requested_slot": METHOD, NAME: "Jane"}, "text rather than phone"))
    assert slots[METHOD] == "sms"


def test_change_without_a_field_asks_which() -> None:
    state = dict(AT_SUMMARY)
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
    slots, _ = run_validation(BOOKING, tracker(AT_SUMMARY, "no", intent="deny"))
    assert slots["requested_slot"] == FIELD


def test_confirming_the_summary_ends_the_form() -> None:
    slots, _ = run_validation(BOOKING, tracker(AT_SUMMARY, "/affirm", intent="affirm"))
    assert slots[CONFIRMED] is True and slots["requested_slot"] is None


# --- Consent ----------------------------------------------------------------------------------


def test_consent_records_its_version_and_no_ends_the_form() -> None:
    slots, _ = run_validation(BOOKING, tracker(AT_CONSENT, "yes I agree", intent="affirm"))
    assert slots[CONSENT] is True and slots[CONSENT_VER] == CONSENT_VERSION
    assert slots["requested_slot"] == CONFIRMED

    slots, _ = run_validation(BOOKING, tracker(AT_CONSENT, "no", intent="deny"))
    assert slots[CONSENT] is False and slots["requested_slot"] is None


@pytest.mark.parametrize("text, intent", [("ok", "affirm"), ("I don't mind", "cancel"), ("fine", "affirm")])
def test_only_an_explicit_yes_is_consent(text: str, intent: str) -> None:
    # "I don't mind" used to count as consent: that was the bug.
    slots, messages = run_validation(BOOKING, tracker(AT_CONSENT, text, intent=intent))
    assert slots[CONSENT] is None and slots["requested_slot"] == CONSENT
    assert names(messages) == ["utter_invalid_consent"]


def test_cancel_words_at_the_consent_step_cancel() -> None:
    assert run_validation(BOOKING, tracker(AT_CONSENT, "never mind", intent="cancel")) == (
        {"requested_slot": CONSENT}, [])


@pytest.mark.parametrize(
    "text, intent, response",
    [("why do you need that?", "faq", "utter_consent_why"),
     ("who will see my details?", "out_of_scope", "utter_consent_who"),
     ("how long do you keep it?", "faq", "utter_consent_retention")],
)
def test_a_question_at_the_consent_step_is_answered_and_consent_asked_again(
    text: str, intent: str, response: str
) -> None:
    slots, messages = run_validation(BOOKING, tracker(AT_CONSENT, text, intent=intent))
    assert names(messages) == [response]
    assert slots == {CONSENT: None, "requested_slot": CONSENT}  # asked again, not a miss
    details = clinic_details()
    assert f"{details.retention_days} days" in said(messages)[0] and details.name in said(messages)[0]


def test_why_do_you_need_my_number_at_the_phone_question_is_answered_and_asked_again() -> None:
    slots, messages = run_validation(BOOKING, tracker({"requested_slot": PHONE, NAME: "Jane", METHOD: "phone"},
                                                      "why do you need my number?", intent="faq"))
    assert names(messages) == ["utter_consent_why"] and slots == {PHONE: None, "requested_slot": PHONE}


# --- The call-back form -------------------------------------------------------------------------


def test_the_callback_form_asks_name_phone_topic_consent() -> None:
    assert CALLBACK.needed_slots({}) == [NAME, PHONE, TOPIC, CONSENT]
    slots, _ = run_validation(
        CALLBACK,
        tracker({"requested_slot": PHONE, NAME: "Jane"}, "change my email", intent="change_field",
                form="callback_form"),
    )
    assert slots["requested_slot"] == PHONE and slots[MISSES]  # no email here: a miss on the phone


def test_a_callback_needs_only_a_phone_when_the_patient_keeps_their_name() -> None:
    slots, messages = run_validation(
        CALLBACK, tracker({"requested_slot": NAME}, "I'd rather not say", form="callback_form"))
    assert slots[NAME_WITHHELD] is True and slots["requested_slot"] == PHONE
    assert names(messages) == ["utter_callback_without_name"]


@pytest.mark.parametrize("text, name", [("just call me on 617 333 2211", None), ("617.333.2211", None),
                                        ("my number is 617 333 2211", None),
                                        ("Jane Smith, 617 333 2211", "Jane Smith")])
def test_a_phone_number_at_the_callback_name_question_fills_the_phone(text: str, name: Optional[str]) -> None:
    slots, _ = run_validation(CALLBACK, tracker({"requested_slot": NAME}, text, form="callback_form"))
    assert slots[PHONE] == "+16173332211" and slots.get(NAME) == name
    assert slots["requested_slot"] == TOPIC


def test_a_booking_still_needs_a_name() -> None:
    slots, _ = run_validation(BOOKING, tracker({"requested_slot": NAME}, "I'd rather not say"))
    assert slots[NAME] is None and slots["requested_slot"] == NAME


@pytest.mark.parametrize("text, topic", [("my varicose veins after the treatment", "my varicose veins after the treatment"),
                                         ("skip", False), ("no", False)])
def test_the_callback_topic_is_optional(text: str, topic: Any) -> None:
    slots, _ = run_validation(
        CALLBACK, tracker({"requested_slot": TOPIC, PHONE: "+12125550147", NAME_WITHHELD: True}, text,
                          form="callback_form"))
    assert slots[TOPIC] == topic and slots["requested_slot"] == CONSENT


# --- Asking ------------------------------------------------------------------------------------------


def run_ask(action: Any, slots: Dict[str, Any], **kwargs: Any) -> List[Dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, tracker(slots, "x", **kwargs), {}))
    return dispatcher.messages


def test_on_whatsapp_the_phone_question_offers_the_sender_number() -> None:
    messages = run_ask(forms.ActionAskPatientPhone(), {"requested_slot": PHONE},
                       channel="twilio", sender="whatsapp:+14155552671")
    assert names(messages) == ["utter_ask_patient_phone_sender"]
    assert "+1 415-555-2671" in said(messages)[0] and messages[0]["number_e164"] == "+14155552671"

    slots, _ = run_validation(
        BOOKING, tracker({"requested_slot": PHONE, NAME: "Jane", METHOD: "sms"}, "yes",
                         intent="affirm", channel="twilio", sender="whatsapp:+14155552671"),
    )
    assert slots[PHONE] == "+14155552671"


def test_on_the_web_the_phone_question_is_asked_plainly() -> None:
    assert names(run_ask(forms.ActionAskPatientPhone(), {})) == ["utter_ask_patient_phone"]


def test_the_summary_shows_every_field_and_the_period() -> None:
    [text] = said(run_ask(forms.ActionAskBookingConfirmed(), COMPLETE))
    assert text == (
        "Please check your request:\n- Name: Jane Smith\n- Contact by: text message, +1 212-555-0147\n"
        "- When: Fri 26 Nov, 09:00-17:00 (you said \"friday\")\n- Reason: Follow-up visit\n"
        "Is everything correct?")


def test_every_question_is_in_the_domain() -> None:
    import yaml

    from tests.responses import ROOT

    domain = yaml.safe_load((ROOT / "domain" / "domain.yml").read_text())
    for form, spec in domain["forms"].items():
        for slot in spec["required_slots"]:
            options = {f"action_ask_{slot}", f"action_ask_{form}_{slot}"} & set(domain["actions"])
            assert options or CATALOG.texts.get(f"utter_ask_{slot}"), (form, slot)
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
CATALOG_BUTTONS = {name: variations[0].get("buttons", []) for name, variations in
                   __import__("yaml").safe_load(forms.COPY_FILE.read_text())["responses"].items()}
PERSONAL = ["Jane", "2125550147", "212-555-0147", "jane@example.org"]


def test_a_confirmed_booking_is_stored_and_the_patient_gets_its_reference(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    events, messages = run_action(booking.ActionSubmitBooking(), tracker(CONFIRMED_BOOKING, "/affirm"))
    [request] = store.list_requests(url=database)
    [text] = said(messages)
    assert f"Your request is saved: reference {request.reference}." in text
    assert "by text message, +1 212-555-0147" in text
    assert (request.kind, request.phone, request.email, request.contact_method, request.reason) == (
        store.RequestKind.BOOKING, "+12125550147", "jane@example.org", "sms", "follow_up")
    assert request.requested_start == datetime(2027, 11, 26, 9, 0, tzinfo=NEW_YORK)
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
    [text] = said(messages)
    assert "could NOT be saved" in text and "reference" not in text
    assert clinic_details().phone in text
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert not any(detail in caplog.text for detail in PERSONAL)
    assert {e["name"] for e in events if e["value"] is None} == set(forms.REQUEST_SLOTS)


def test_without_consent_nothing_is_stored(database: str) -> None:
    _, messages = run_action(
        booking.ActionSubmitBooking(), tracker({**CONFIRMED_BOOKING, CONSENT: False}, "no")
    )
    assert "nothing has been saved" in said(messages)[0]
    assert store.list_requests(url=database) == []


def test_a_callback_request_is_stored_with_name_phone_and_consent(database: str) -> None:
    state = tracker({NAME: "Jane Smith", PHONE: "+12125550147", CONSENT: True,
                     CONSENT_VER: CONSENT_VERSION}, "yes", form="callback_form")
    _, messages = run_action(booking.ActionSubmitCallback(), state)
    [request] = store.list_requests(url=database)
    assert request.kind == store.RequestKind.CALLBACK and request.phone == "+12125550147"
    assert f"reference {request.reference}" in said(messages)[0]
    assert request.full_name == "Jane Smith"


def test_a_callback_request_without_a_name_keeps_its_topic(database: str) -> None:
    state = tracker({NAME_WITHHELD: True, PHONE: "+12125550147", TOPIC: "my results", CONSENT: True,
                     CONSENT_VER: CONSENT_VERSION}, "yes", form="callback_form")
    run_action(booking.ActionSubmitCallback(), state)
    [request] = store.list_requests(url=database)
    assert request.full_name is None and request.phone == "+12125550147"
    assert request.patient_message == "my results"


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


def test_values_kept_from_a_booking_are_not_read_again_when_the_callback_form_starts() -> None:
    # On activation Rasa hands the pre-filled slots to the validation action as candidates.
    state = tracker({NAME: "Jane Smith", PHONE: "+12125550147"}, "I'd rather talk to a person",
                    intent="human_handoff", form="callback_form", after_rule="action_start_callback")
    state.events.extend([{"event": "slot", "name": NAME, "value": "Jane Smith"},
                         {"event": "slot", "name": PHONE, "value": "+12125550147"}])
    slots, messages = run_validation(CALLBACK, state)
    assert slots == {NAME: "Jane Smith", PHONE: "+12125550147", "requested_slot": TOPIC} and messages == []

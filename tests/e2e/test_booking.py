"""Booking and call-back requests end to end, through the running assistant.

Real action server, Rasa server, delivery worker and SQLite request store; the
clinic's booking system is tests/receiver.py, a local HTTP server that accepts
only deliveries whose Standard Webhooks signature verifies. The conversations
answer whatever the form asks, in whatever order it asks, by recognising the
question (as an outside tester would).
"""
from __future__ import annotations

import re
import time
import uuid
from datetime import date, datetime, timedelta
from typing import Dict, Iterator, List
from zoneinfo import ZoneInfo

import pytest
import requests

from actions import forms
from clinic import store
from clinic.settings import clinic_details
from actions.forms import CONFIRMED, CONSENT, EMAIL, METHOD, NAME, PHONE, REASON, TIME, TOPIC
from ops.stack import Stack, StackConfig
from tests.conftest import free_port
from tests.booking_driver import ANSWERS, REFERENCE, Patient, asked, texts
from tests.receiver import Delivery, Receiver

pytestmark = pytest.mark.e2e

@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture(scope="module")
def booking_stack(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[Stack]:
    var_dir = tmp_path_factory.mktemp("booking-var")
    # A stack of its own (the shared one has no booking system to deliver to).
    running = Stack(StackConfig(
        rasa_port=free_port(), action_port=free_port(), web_port=free_port(),
        var_dir=var_dir, with_web=False,
        extra_env={
            "BOOKING_WEBHOOK_URL": receiver.url,
            "BOOKING_WEBHOOK_SECRET": receiver.secret,
            "DELIVERY_POLL_SECONDS": "0.5",
            "DELIVERY_RETRY_BASE_SECONDS": "0.5",
            "DELIVERY_RETRY_MAX_SECONDS": "4",
        },
    ))
    try:
        running.start(timeout=240)
        yield running
    finally:
        running.stop()


@pytest.fixture
def database(booking_stack: Stack) -> str:
    return booking_stack.env()["DATABASE_URL"]


@pytest.fixture
def patient() -> str:
    return f"booking-{uuid.uuid4().hex[:12]}"


@pytest.fixture(autouse=True)
def receiver_accepts(receiver: Receiver) -> Iterator[None]:
    receiver.set_status(200)
    yield
    receiver.start()
    receiver.set_status(200)


def clinic_today() -> date:
    return datetime.now(ZoneInfo(clinic_details().timezone)).date()


def next_tuesday() -> date:
    today = clinic_today()
    return today + timedelta(days=(1 - today.weekday()) % 7 or 7)


def a_weekday_of_the_month() -> int:
    """A day of the month from 14 to 18 that falls on a weekday when read as "the Nth"
    (the next such date), so the answer never names a day the clinic is closed."""
    today = clinic_today()
    for number in range(14, 19):
        year, month = today.year, today.month
        if number <= today.day:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        if date(year, month, number).weekday() < 5:
            return number
    raise AssertionError("five days in a row that are not weekdays")


def all_buttons(replies: List[dict]) -> List[str]:
    return [b["title"] for m in replies for b in m.get("buttons", [])]


def deliveries_of(receiver: Receiver, request_id: str) -> List[Delivery]:
    return [d for d in receiver.deliveries if d.webhook_id == request_id]


def wait_delivered(receiver: Receiver, request_id: str, timeout: float) -> Delivery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = deliveries_of(receiver, request_id)
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"request {request_id} not delivered within {timeout:.0f}s")


def stored_for(database: str, sender: str) -> List[store.StoredRequest]:
    return [r for r in store.list_requests(url=database) if r.conversation_id == sender]


def tracker_slots(stack: Stack, sender: str) -> Dict[str, object]:
    response = requests.get(
        f"{stack.rasa_url}/conversations/{sender}/tracker", params={"token": stack.token}, timeout=10
    )
    response.raise_for_status()
    return response.json()["slots"]


def contained_patient(resource: dict) -> dict:
    [patient] = [c for c in resource.get("contained", []) if c["resourceType"] == "Patient"]
    return patient


# --- Booking ---------------------------------------------------------------------------


def test_a_booking_reaches_the_clinic_once_signed_with_e164_phone_and_the_asked_day(
    booking_stack: Stack, receiver: Receiver, database: str, patient: str
) -> None:
    talk = Patient(booking_stack, patient)
    talk.say("Hi, I'd like to book a consultation for my spider veins")
    talk.answer_until()
    reference = talk.reference()
    assert set(talk.questions) >= {NAME, METHOD, PHONE, TIME, REASON, CONSENT, CONFIRMED}
    assert EMAIL not in talk.questions  # contact by text message needs no email

    [request] = stored_for(database, patient)
    assert request.reference == reference and request.consent_version == forms.CONSENT_VERSION
    delivery = wait_delivered(receiver, request.id, timeout=30)
    time.sleep(3)  # a second delivery would come within a few polls
    assert len(deliveries_of(receiver, request.id)) == 1

    appointment = delivery.json
    assert appointment["resourceType"] == "Appointment" and appointment["status"] == "proposed"
    [period] = appointment["requestedPeriod"]
    start, end = datetime.fromisoformat(period["start"]), datetime.fromisoformat(period["end"])
    assert start.date() == next_tuesday()
    assert (start.hour, end.hour) == (12, 17)  # afternoon
    telecom = contained_patient(appointment)["telecom"]
    assert {"system": "sms", "value": "+12125550147", "rank": 1} in telecom

    # Privacy: once stored, the conversation's slots hold no patient details.
    slots = tracker_slots(booking_stack, patient)
    assert all(slots[slot] is None for slot in forms.REQUEST_SLOTS)


def test_a_cancelled_booking_stores_and_sends_nothing(
    booking_stack: Stack, receiver: Receiver, database: str, patient: str
) -> None:
    talk = Patient(booking_stack, patient, {NAME: "Carla Conway"})
    talk.say("I want to book an appointment")
    talk.answer_until(stop=lambda slot: slot == TIME)
    replies = talk.say("never mind")
    assert "Nothing was saved or sent" in " ".join(texts(replies))
    assert asked(replies) is None

    # The form is over: the next message is an ordinary one.
    assert asked(talk.say("what are spider veins?")) is None
    assert stored_for(database, patient) == []
    time.sleep(2)
    assert not [d for d in receiver.attempts if b"Carla" in d.body]


def test_cancel_at_the_summary(booking_stack: Stack, database: str, patient: str) -> None:
    talk = Patient(booking_stack, patient)
    talk.say("book a consultation")
    talk.answer_until(stop=lambda slot: slot == CONFIRMED)
    replies = talk.say("/cancel")  # the Cancel button
    assert "Nothing was saved or sent" in " ".join(texts(replies))
    assert stored_for(database, patient) == []


def test_changing_the_phone_number_at_the_summary(
    booking_stack: Stack, receiver: Receiver, database: str, patient: str
) -> None:
    talk = Patient(booking_stack, patient, {METHOD: "Phone call"})
    talk.say("can I book a consultation")
    talk.answer_until(stop=lambda slot: slot == CONFIRMED)
    assert "+1 212-555-0147" in talk.replies[-1]["text"]

    assert asked(talk.say("change my phone number")) == PHONE
    replies = talk.say("646 555 0199")
    assert asked(replies) == CONFIRMED  # straight back to the summary
    assert "+1 646-555-0199" in replies[-1]["text"] and "212-555-0147" not in replies[-1]["text"]
    talk.say("/affirm")

    [request] = stored_for(database, patient)
    assert request.phone == "+16465550199" and request.contact_method == "phone"
    appointment = wait_delivered(receiver, request.id, timeout=30).json
    assert "+16465550199" in str(contained_patient(appointment)["telecom"])
    assert "+12125550147" not in str(appointment)


def test_an_email_contact_never_asks_for_a_phone(
    booking_stack: Stack, database: str, patient: str
) -> None:
    day = a_weekday_of_the_month()
    talk = Patient(booking_stack, patient, {METHOD: "Email", TIME: f"the {day}th after 3"})
    talk.say("i'd like to make an appointment")
    talk.answer_until()
    assert PHONE not in talk.questions and EMAIL in talk.questions
    [request] = stored_for(database, patient)
    assert (request.email, request.phone, request.contact_method) == ("jane.smith@example.org", None, "email")
    assert request.requested_start.astimezone(ZoneInfo(clinic_details().timezone)).day == day


def test_an_faq_question_mid_form_is_answered_and_the_form_resumes(
    booking_stack: Stack, responses, database: str, patient: str
) -> None:
    talk = Patient(booking_stack, patient)
    talk.say("I'd like to book")
    talk.answer_until(stop=lambda slot: slot == TIME)
    replies = talk.say("does the treatment hurt?")
    names = responses.names(replies)
    assert names[0] == "utter_faq/discomfort"
    assert "Book a consultation" not in all_buttons(replies)  # not while booking
    assert asked(replies) == TIME  # the same question again
    talk.answer_until()
    assert len(stored_for(database, patient)) == 1


def test_an_invalid_answer_is_asked_again_with_the_reason_and_three_misses_offer_staff(
    booking_stack: Stack, patient: str
) -> None:
    talk = Patient(booking_stack, patient)
    talk.say("book appointment")
    talk.answer_until(stop=lambda slot: slot == PHONE)
    first = talk.say("12345")
    assert first[0]["text"].startswith("That doesn't look like a valid phone number: it is too short")
    assert asked(first) == PHONE
    talk.say("555 1234")
    third = talk.say("1 2 3")
    assert any("our staff can call you back" in t for t in texts(third))
    assert {"title": "Talk to staff", "payload": "/human_handoff"} in sum(
        (m.get("buttons", []) for m in third), []
    )
    assert asked(third) == PHONE


def test_a_past_day_is_refused_with_the_reason(booking_stack: Stack, patient: str) -> None:
    talk = Patient(booking_stack, patient)
    talk.say("book appointment")
    talk.answer_until(stop=lambda slot: slot == TIME)
    replies = talk.say("yesterday morning")
    assert "is in the past" in replies[0]["text"] and asked(replies) == TIME


def test_declining_consent_stores_nothing_and_gives_the_clinic_phone(
    booking_stack: Stack, database: str, patient: str
) -> None:
    talk = Patient(booking_stack, patient, {CONSENT: "no"})
    talk.say("book appointment")
    replies = talk.answer_until()
    assert "nothing has been saved" in replies[-1]["text"]
    assert clinic_details().phone in replies[-1]["text"]
    assert stored_for(database, patient) == []


# --- Call-back -----------------------------------------------------------------------


def test_a_callback_request_arrives_as_a_communication_request(
    booking_stack: Stack, receiver: Receiver, database: str, patient: str
) -> None:
    talk = Patient(booking_stack, patient, {NAME: "Carl Back", PHONE: "+1 646 555 0123"})
    first = talk.say("can someone from the clinic call me back?")
    details = clinic_details()
    assert details.phone in first[0]["text"] and details.hours in first[0]["text"]
    talk.answer_until()
    assert talk.questions == [NAME, PHONE, TOPIC, CONSENT]
    reference = talk.reference()

    [request] = stored_for(database, patient)
    assert request.reference == reference and request.kind == store.RequestKind.CALLBACK
    resource = wait_delivered(receiver, request.id, timeout=30).json
    assert resource["resourceType"] == "CommunicationRequest"
    assert "+16465550123" in str(contained_patient(resource)["telecom"])


def test_asking_for_staff_mid_booking_switches_to_a_callback_keeping_name_and_phone(
    booking_stack: Stack, database: str, patient: str
) -> None:
    talk = Patient(booking_stack, patient)
    talk.say("book a consultation")
    talk.answer_until(stop=lambda slot: slot == TIME)
    replies = talk.say("I'd rather talk to a person")
    assert "call you at +1 212-555-0147" in replies[0]["text"]
    assert asked(replies) == TOPIC  # name and phone kept; what the call is about is optional
    talk.answer_until()
    [request] = stored_for(database, patient)
    assert (request.kind, request.full_name, request.phone) == (
        store.RequestKind.CALLBACK, "Jane Smith", "+12125550147")


# --- Whole conversations that never get stuck --------------------------------------------------


def test_an_email_typed_at_the_contact_question_is_used_for_both(
    booking_stack: Stack, database: str, patient: str
) -> None:
    talk = Patient(booking_stack, patient, {METHOD: "you can email me at ann.lee@example.org"})
    talk.say("I'd like to book")
    talk.answer_until()
    assert EMAIL not in talk.questions and PHONE not in talk.questions
    [request] = stored_for(database, patient)
    assert (request.contact_method, request.email) == ("email", "ann.lee@example.org")


def test_a_correction_at_the_summary_shows_the_summary_again(
    booking_stack: Stack, database: str, patient: str
) -> None:
    talk = Patient(booking_stack, patient, {METHOD: "Phone call"})
    talk.say("book a consultation")
    talk.answer_until(stop=lambda slot: slot == CONFIRMED)
    replies = talk.say("actually my number is 617-333-2211 ext 42")
    assert asked(replies) == CONFIRMED
    assert "+1 617-333-2211 ext. 42" in replies[-1]["text"] and "212-555-0147" not in replies[-1]["text"]
    talk.say("/affirm")
    [request] = stored_for(database, patient)
    assert request.phone == "+16173332211;ext=42"


def test_a_question_at_the_consent_step_is_answered_and_only_a_clear_yes_consents(
    booking_stack: Stack, database: str, patient: str
) -> None:
    talk = Patient(booking_stack, patient)
    talk.say("I want to book an appointment")
    talk.answer_until(stop=lambda slot: slot == CONSENT)
    replies = talk.say("how long do you keep it?")
    details = clinic_details()
    assert f"{details.retention_days} days" in replies[0]["text"] and asked(replies) == CONSENT
    assert asked(talk.say("ok")) == CONSENT  # not a clear yes: asked again
    talk.answer_until()
    [request] = stored_for(database, patient)
    assert request.consent_version == forms.CONSENT_VERSION


def test_brb_and_an_off_topic_answer_mid_booking_are_not_declined(
    booking_stack: Stack, patient: str
) -> None:
    talk = Patient(booking_stack, patient)
    talk.say("book appointment")
    talk.answer_until(stop=lambda slot: slot == TIME)
    for text in ("brb", "what's the weather like tomorrow?", "purple elephants"):
        replies = talk.say(text)
        assert not any("can't answer that here" in t for t in texts(replies)), texts(replies)
        assert "Book a consultation" not in all_buttons(replies)
        assert asked(replies) == TIME


def test_a_vague_time_is_a_flexible_preference_in_the_summary_and_the_request(
    booking_stack: Stack, receiver: Receiver, database: str, patient: str
) -> None:
    talk = Patient(booking_stack, patient, {TIME: "whenever, mornings are best"})
    talk.say("I'd like to book")
    talk.answer_until(stop=lambda slot: slot == CONFIRMED)
    assert "When: flexible, Mon-Fri 09:00-12:00" in talk.replies[-1]["text"]
    talk.answer_until()
    [request] = stored_for(database, patient)
    zone = ZoneInfo(clinic_details().timezone)
    start, end = request.requested_start.astimezone(zone), request.requested_end.astimezone(zone)
    assert start.date() > clinic_today() and (end - start).days >= 7  # a span, not today
    assert request.preferred_time_text == "whenever, mornings are best"


def test_an_impossible_date_and_a_closed_hour_get_the_reason_and_the_question_again(
    booking_stack: Stack, patient: str
) -> None:
    talk = Patient(booking_stack, patient)
    talk.say("book appointment")
    talk.answer_until(stop=lambda slot: slot == TIME)
    replies = talk.say("February 31st")
    assert replies[0]["text"].startswith("There is no 31 February") and asked(replies) == TIME
    replies = talk.say("next Tuesday at 7pm")
    assert clinic_details().hours in replies[0]["text"] and asked(replies) == TIME


def test_a_callback_without_a_name_needs_only_the_phone(
    booking_stack: Stack, database: str, patient: str
) -> None:
    talk = Patient(booking_stack, patient, {NAME: "I'd rather not say", TOPIC: "my test results"})
    talk.say("can someone call me back?")
    talk.answer_until()
    assert talk.questions == [NAME, PHONE, TOPIC, CONSENT]
    [request] = stored_for(database, patient)
    assert (request.full_name, request.phone, request.patient_message) == (
        None, "+12125550147", "my test results")


# --- Failures ----------------------------------------------------------------------------


def test_receiver_down_then_up_gets_the_request_once(
    booking_stack: Stack, receiver: Receiver, database: str, patient: str
) -> None:
    receiver.stop()  # connection refused
    talk = Patient(booking_stack, patient)
    talk.say("I want to book")
    talk.answer_until()
    [request] = stored_for(database, patient)  # saved and confirmed while the clinic is down
    assert REFERENCE.search(talk.replies[-1]["text"])

    receiver.start()
    receiver.set_status(503)
    deadline = time.monotonic() + 30
    while not [a for a in receiver.attempts if a.headers.get("webhook-id") == request.id]:
        assert time.monotonic() < deadline, "no attempt while the receiver answered 503"
        time.sleep(0.2)
    assert store.get_request(request.id, url=database).state == store.DeliveryState.PENDING

    receiver.set_status(200)
    wait_delivered(receiver, request.id, timeout=120)
    time.sleep(3)
    assert len(deliveries_of(receiver, request.id)) == 1
    assert store.get_request(request.id, url=database).state == store.DeliveryState.DELIVERED


def test_action_server_restart_mid_booking_and_worker_restart_with_a_pending_request(
    booking_stack: Stack, receiver: Receiver, database: str, patient: str
) -> None:
    talk = Patient(booking_stack, patient)
    talk.say("I'd like to book a consultation")
    talk.answer_until(stop=lambda slot: slot == TIME)

    booking_stack.stop_process("actions")
    down = booking_stack.send(patient, ANSWERS[TIME])
    assert down and "555 0100" in " ".join(texts(down))  # an apology with the clinic's phone, not silence
    booking_stack.start_process("actions")
    booking_stack.wait_ready(timeout=120)

    receiver.set_status(503)  # the request will wait in the outbox
    talk.say(ANSWERS[TIME])
    assert asked(talk.replies) == REASON  # the conversation carries on where it was
    talk.answer_until()
    [request] = stored_for(database, patient)

    booking_stack.stop_process("worker")
    booking_stack.start_process("worker")
    receiver.set_status(200)
    wait_delivered(receiver, request.id, timeout=120)
    time.sleep(3)
    assert len(deliveries_of(receiver, request.id)) == 1


def test_the_logs_name_no_patient(booking_stack: Stack) -> None:
    """Runs last: nothing the patients of this module gave appears in any log."""
    details = ["Jane Smith", "Carla Conway", "Carl Back", "jane.smith@example.org", "ann.lee@example.org",
               "2125550147", "212-555-0147", "555-0147", "6465550199", "646 555 0199", "6465550123",
               "6173332211", "617-333-2211", "my test results"]
    logs = {path.name: path.read_text() for path in booking_stack.log_dir.glob("*.log")}
    assert {"actions.log", "rasa.log", "worker.log"} <= set(logs)
    leaks = [(name, detail) for name, text in logs.items() for detail in details if detail in text]
    assert leaks == []


# --- In Spanish ------------------------------------------------------------------------

SPANISH_REFERENCE = re.compile(r"referencia (VC-[0-9A-Z]{6})")
SPANISH_ANSWERS = {
    NAME: "María José Pérez Gómez",
    METHOD: "Mensaje de texto",
    PHONE: "(212) 555-0147",
    TIME: "el martes que viene por la tarde",
    REASON: "Consulta por arañas vasculares",
    CONSENT: "sí, acepto",
}


def test_a_spanish_booking_from_greeting_to_reference_number(
    booking_stack: Stack, receiver: Receiver, database: str, patient: str
) -> None:
    talk = Patient(booking_stack, patient, SPANISH_ANSWERS)
    greeting = talk.say("Hola, buenas tardes")
    assert any("programa automático" in t for t in texts(greeting)), texts(greeting)
    talk.say("Quisiera pedir una cita para las arañitas de mis piernas")
    talk.answer_until()
    assert set(talk.questions) >= {NAME, METHOD, PHONE, TIME, REASON, CONSENT, CONFIRMED}
    found = SPANISH_REFERENCE.search(" ".join(texts(talk.replies)))
    assert found, texts(talk.replies)

    [request] = stored_for(database, patient)
    assert request.reference == found.group(1)
    assert request.consent_version.endswith("/es")  # the Spanish text is the one agreed to
    appointment = wait_delivered(receiver, request.id, timeout=30).json
    [period] = appointment["requestedPeriod"]
    start, end = datetime.fromisoformat(period["start"]), datetime.fromisoformat(period["end"])
    assert start.date() == next_tuesday() and (start.hour, end.hour) == (12, 17)
    assert contained_patient(appointment)["name"][0]["text"] == "María José Pérez Gómez"
    assert tracker_slots(booking_stack, patient)["language"] == "es"

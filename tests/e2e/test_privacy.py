"""A booking end to end leaves no name, phone or email in any log or console output."""
from __future__ import annotations

import uuid
from typing import Iterator, List

import pytest
import requests

from ops.stack import Stack, StackConfig
from tests.booking_driver import Patient
from tests.conftest import free_port
from tests.receiver import Receiver

pytestmark = pytest.mark.e2e

NAME = "Zelda Quibbleworth"
PHONE_TYPED, PHONE_E164, PHONE_DIGITS = "(917) 555-0163", "+19175550163", "9175550163"
EMAIL = "zelda.quibbleworth@example.org"


@pytest.fixture(scope="module")
def logged_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole assistant with delivery, logging at INFO as in production."""
    with Receiver() as receiver:
        running = Stack(StackConfig(
            rasa_port=free_port(), action_port=free_port(), web_port=free_port(),
            var_dir=tmp_path_factory.mktemp("privacy-var"),
            extra_env={
                "BOOKING_WEBHOOK_URL": receiver.url,
                "BOOKING_WEBHOOK_SECRET": receiver.secret,
                "DELIVERY_POLL_SECONDS": "0.5",
                "LOG_LEVEL": "INFO",
            },
        ))
        try:
            running.start(timeout=240)
            running.receiver = receiver  # type: ignore[attr-defined]
            yield running
        finally:
            running.stop()


def log_text(stack: Stack) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(stack.log_dir.glob("*.log")))


def leaks(text: str) -> List[str]:
    needles = [NAME, "Quibbleworth", PHONE_TYPED, PHONE_E164, PHONE_DIGITS, "555-0163", EMAIL, "quibbleworth@"]
    return [n for n in needles if n.lower() in text.lower()]


def test_bookings_by_phone_and_by_email_leave_no_personal_data_in_logs(
    logged_stack: Stack, capfd: pytest.CaptureFixture
) -> None:
    by_phone = Patient(logged_stack, f"privacy-{uuid.uuid4().hex[:8]}", {"patient_name": NAME, "patient_phone": PHONE_TYPED})
    by_phone.say("I'd like to book a consultation")
    by_phone.answer_until()
    by_phone.reference()
    by_email = Patient(logged_stack, f"privacy-{uuid.uuid4().hex[:8]}",
                       {"patient_name": NAME, "contact_method": "Email", "patient_email": EMAIL})
    by_email.say("can I book an appointment")
    by_email.answer_until()
    by_email.reference()
    logged_stack.receiver.wait_for(2, timeout=60)  # type: ignore[attr-defined]

    # The details did reach the clinic, so the search below is meaningful.
    delivered = str([d.json for d in logged_stack.receiver.deliveries])  # type: ignore[attr-defined]
    assert PHONE_E164 in delivered and EMAIL in delivered and "Quibbleworth" in delivered

    logs = log_text(logged_stack)
    assert len(logs) > 1000, "the processes wrote (almost) no logs: nothing was searched"
    assert leaks(logs) == [], f"personal data in var/logs: {leaks(logs)}"
    console = capfd.readouterr()
    assert leaks(console.out + console.err) == []


def test_booking_slots_are_cleared_once_stored(logged_stack: Stack) -> None:
    sender = f"privacy-{uuid.uuid4().hex[:8]}"
    patient = Patient(logged_stack, sender, {"patient_name": NAME, "patient_phone": PHONE_TYPED})
    patient.say("book me in please")
    patient.answer_until()
    patient.reference()
    slots = requests.get(
        f"{logged_stack.rasa_url}/conversations/{sender}/tracker",
        params={"token": logged_stack.token}, timeout=10,
    ).json()["slots"]
    assert not leaks(str(slots)), slots

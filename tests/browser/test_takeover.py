"""Take over and hand back in two real browsers: a patient in the web chat widget (socket.io)
and a member of staff in the console, both against the whole assistant (`stack`)."""
from __future__ import annotations

import subprocess
import sys
import time
from typing import Callable

import pytest
from playwright.sync_api import expect

from clinic import handover, store
from clinic.settings import clinic_details
from ops.stack import Stack
from tests.browser.conftest import BrowserPage
from tests.browser.test_widget import ask, bot_says, open_chat, serious_axe_violations, session_id_of, transcript
from tests.conftest import ROOT
from tests.responses import ResponseCatalog
from tests.staff_console import PASSWORD

pytestmark = pytest.mark.browser

OpenPage = Callable[..., BrowserPage]
EMAIL = "anna.browser@clinic.example"


def test_staff_take_over_reply_and_hand_back_in_the_widget(stack: Stack, open_page: OpenPage,
                                                           responses: ResponseCatalog) -> None:
    env = {**stack.env(), "STAFF_PASSWORD": PASSWORD, "STAFF_NAME": "Anna"}
    done = subprocess.run([sys.executable, "-m", "staff.console.users", EMAIL, "staff"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr

    patient_browser = open_page()
    patient = patient_browser.page
    open_chat(patient, stack.web_url, responses)
    conversation_id = session_id_of(patient)
    saved = store.save_request(store.NewRequest(kind=store.RequestKind.CALLBACK, conversation_id=conversation_id,
                                                channel="socketio"), stack.env()["DATABASE_URL"])

    staff_browser = open_page(axe=True)
    staff = staff_browser.page
    staff.goto(f"http://127.0.0.1:{stack.config.console_port}/signin")
    staff.get_by_label("Email").fill(EMAIL)
    staff.get_by_label("Password").fill(PASSWORD)
    staff.get_by_role("button", name="Sign in").click()
    staff.get_by_role("link", name=saved.reference).first.click()
    staff.get_by_role("button", name="Take over").click()
    expect(staff.get_by_text("You hold this conversation", exact=False).first).to_be_visible()
    assert serious_axe_violations(staff) == []

    # The patient is told, on their own channel, who joined.
    expect(bot_says(patient, f"Anna from {clinic_details().name} has joined the conversation. "
                             "You are now talking with a person.")).to_be_visible()

    # The assistant stays quiet; the question is Anna's to answer.
    time.sleep(handover.HOLDER_CACHE_SECONDS + 0.5)
    bubbles_before = transcript(patient).locator(".vc-msg-bot").count()
    ask(patient, "Does sclerotherapy hurt?")
    time.sleep(3)
    assert transcript(patient).locator(".vc-msg-bot").count() == bubbles_before
    staff.reload()
    expect(staff.get_by_text("Does sclerotherapy hurt?")).to_be_visible()
    staff.get_by_label("Message").fill("Hi, this is Anna. Most people feel only a small pinch.")
    staff.get_by_role("button", name="Send").click()
    expect(staff.get_by_role("status").filter(has_text="Sent to the patient")).to_be_visible()
    expect(bot_says(patient, "Hi, this is Anna. Most people feel only a small pinch.")).to_be_visible()
    # The patient sees who wrote it: the staff member, not "Assistant".
    expect(transcript(patient).locator(".vc-msg-bot .vc-author").last).to_have_text("Anna: ")

    # A red flag still gets the emergency reply at once.
    ask(patient, "my calf is hot and swollen since this morning")
    expect(bot_says(patient, responses.text("utter_emergency"))).to_be_visible()

    # Hand back: the patient is told, and the assistant answers the next question.
    staff.get_by_role("button", name="Hand back").click()
    expect(staff.get_by_role("button", name="Take over")).to_be_visible()
    expect(bot_says(patient, responses.text("utter_handover_returned"))).to_be_visible()
    time.sleep(handover.HOLDER_CACHE_SECONDS + 0.5)
    bubbles_before = transcript(patient).locator(".vc-msg-bot").count()
    ask(patient, "What is sclerotherapy?")
    expect(transcript(patient).locator(".vc-msg-bot")).to_have_count(bubbles_before + 1)
    assert staff_browser.recorded.console_errors == [] and patient_browser.recorded.console_errors == []

"""Take over and hand back with the whole assistant (`make run`'s stack): a member of staff
takes a conversation over in the console, the assistant stops answering it except for a
red flag, the staff member's message is in the conversation as theirs, and after the hand
back the assistant answers again."""
from __future__ import annotations

import subprocess
import sys
import time
from typing import List

import pytest
import requests
import sqlalchemy as sa

from clinic import handover, store
from clinic.store import NewRequest, RequestKind
from tests.conftest import ROOT
from tests.staff_console import PASSWORD, Console, csrf_token, signed_in

pytestmark = pytest.mark.e2e

# Longer than clinic.handover.HOLDER_CACHE_SECONDS: every Rasa process has read the change.
CACHE_WAIT_SECONDS = handover.HOLDER_CACHE_SECONDS + 0.5
RED_FLAG = "my calf is hot and swollen since this morning"
QUESTION = "What is sclerotherapy?"


def _add_user(stack, email: str, name: str = "", role: str = "staff") -> None:  # type: ignore[no-untyped-def]
    env = {**stack.env(), "STAFF_PASSWORD": PASSWORD, "STAFF_NAME": name}
    done = subprocess.run([sys.executable, "-m", "staff.console.users", email, role], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def _bot_events(stack, sender: str) -> List[dict]:  # type: ignore[no-untyped-def]
    tracker = requests.get(f"{stack.rasa_url}/conversations/{sender}/tracker", params={"token": stack.token},
                           timeout=10).json()
    return [event for event in tracker["events"] if event["event"] == "bot"]


def _post(client: requests.Session, url: str, **form: str) -> requests.Response:
    page = client.get(url, timeout=10)
    action = form.pop("action")
    return client.post(f"{url}/{action}", data={"csrf_token": csrf_token(page.text), **form}, timeout=30)


def test_staff_take_over_reply_and_hand_back(stack, sender, responses) -> None:  # type: ignore[no-untyped-def]
    assert stack.send(sender, "hello")
    saved = store.save_request(NewRequest(kind=RequestKind.CALLBACK, conversation_id=sender, channel="rest",
                                          full_name="Rosa Diaz", phone="+12125550150"),
                               stack.env()["DATABASE_URL"])
    _add_user(stack, "anna@clinic.example", "Anna")
    _add_user(stack, "ben@clinic.example")
    console = Console(f"http://127.0.0.1:{stack.config.console_port}", stack.env(), stack.log_dir / "console.log")
    page_url = f"{console.url}/requests/{saved.reference}"
    anna, ben = signed_in(console, "anna@clinic.example"), signed_in(console, "ben@clinic.example")

    # Anna takes over; the patient is told who joined.
    assert '<button type="submit">Take over</button>' in anna.get(page_url, timeout=10).text
    taken = _post(anna, page_url, action="takeover")
    assert taken.status_code == 200 and "You hold this conversation" in taken.text
    assert '<label for="message">Message</label>' in taken.text and "Hand back</button>" in taken.text
    clinic_name = responses.text("utter_greet").split("virtual assistant of ")[1].split(":")[0]
    assert _bot_events(stack, sender)[-1]["text"].startswith(f"Anna from {clinic_name} has joined")

    # Ben sees who holds it, in the inbox and on the page, and cannot take it.
    inbox = ben.get(f"{console.url}/", timeout=10).text
    held = inbox.split("Conversations staff have taken over")[1].split("</table>")[0]
    assert saved.reference in held and "Anna (anna@clinic.example)" in held
    seen = ben.get(page_url, timeout=10).text
    assert "Held by Anna (anna@clinic.example)" in seen and "Take over</button>" not in seen
    refused = _post(ben, page_url, action="takeover")
    assert "Someone else holds this conversation" in refused.text
    assert handover.holder(sender, stack.env()["DATABASE_URL"]).staff_email == "anna@clinic.example"

    # The assistant is quiet: the question waits for Anna.
    time.sleep(CACHE_WAIT_SECONDS)
    assert stack.send(sender, QUESTION) == []
    sent = _post(anna, page_url, action="message", message="Hi Rosa, this is Anna. Sclerotherapy is <b>an injection</b>.")
    assert "Sent to the patient" in sent.text
    staff_event = _bot_events(stack, sender)[-1]
    assert staff_event["text"] == "Hi Rosa, this is Anna. Sclerotherapy is <b>an injection</b>."
    assert staff_event["metadata"][handover.STAFF_METADATA_KEY]["name"] == "Anna"
    # In the console, each message says who wrote it; the staff's HTML is text.
    transcript = anna.get(page_url, timeout=10).text
    assert "Anna (anna@clinic.example)" in transcript and "&lt;b&gt;an injection&lt;/b&gt;" in transcript
    assert '<span class="speaker">patient</span>' in transcript
    assert '<span class="speaker">assistant</span>' in transcript
    assert QUESTION in transcript

    # A red flag still gets the emergency reply at once.
    assert responses.names(stack.send(sender, RED_FLAG)) == ["utter_emergency"]

    # Ben cannot write into Anna's conversation nor hand it back.
    assert "You do not hold this conversation" in _post(ben, page_url, action="message", message="hi").text
    assert "You do not hold this conversation" in _post(ben, page_url, action="handback").text

    # Anna hands back: the patient is told, and the assistant answers again.
    returned = _post(anna, page_url, action="handback")
    assert "Handed back" in returned.text and "Take over</button>" in returned.text
    assert "Conversations staff have taken over" not in anna.get(f"{console.url}/", timeout=10).text
    assert _bot_events(stack, sender)[-1]["text"] == responses.text("utter_handover_returned")
    time.sleep(CACHE_WAIT_SECONDS)
    answer = stack.send(sender, QUESTION)
    assert answer and responses.names(answer) != ["utter_handover_returned"]
    assert any("sclerotherapy" in message.get("text", "").lower() for message in answer), answer

    # Anna takes it again and leaves it held: Ben (staff) cannot release it, an admin can.
    assert "You hold this conversation" in _post(anna, page_url, action="takeover").text
    _add_user(stack, "boss@clinic.example", role="admin")
    boss = signed_in(console, "boss@clinic.example")
    assert "Hand back</button>" not in ben.get(page_url, timeout=10).text
    assert "Hand back</button>" in boss.get(page_url, timeout=10).text
    assert "Handed back" in _post(boss, page_url, action="handback").text
    assert handover.holder(sender, stack.env()["DATABASE_URL"]) is None
    assert _bot_events(stack, sender)[-1]["text"] == responses.text("utter_handover_returned")

    # Every take-over, message and hand-back is in the audit trail, with who and which request.
    with store.engine(stack.env()["DATABASE_URL"]).connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT actor, action, detail FROM staff_audit WHERE reference = :ref ORDER BY id"),
            {"ref": saved.reference}).all()
    actions = [(actor.split("@")[0], action) for actor, action, _ in rows if action != "view_request"]
    assert actions == [("anna", "take_over"), ("ben", "take_over_refused"), ("anna", "staff_message"),
                       ("ben", "staff_message_refused"), ("ben", "hand_back_refused"), ("anna", "hand_back"),
                       ("anna", "take_over"), ("boss", "hand_back")]
    assert [row.detail for row in rows if row.action == "hand_back"][-1] == "released from anna@clinic.example"

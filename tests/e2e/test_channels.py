"""SMS/WhatsApp (Twilio) and callback channels against a running Rasa server.

Everything up to the boundary with Twilio's API is real: the Rasa server with
addons.channels, the action server, the databases and Twilio's own client
library. api.twilio.com is replaced by a local HTTP server (TWILIO_API_BASE_URL),
and the callback platform by a local receiver.
"""
from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional
from urllib.parse import parse_qs, quote

import pytest
import requests
from twilio.request_validator import RequestValidator

from clinic import handover
from clinic.store import is_opted_out
from ops.stack import ROOT, Stack, StackConfig
from staff.console import rasa_api
from tests.conftest import free_port

pytestmark = pytest.mark.e2e

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-" + uuid.uuid4().hex
CLINIC_NUMBER = "+15550100200"
CALLBACK_TOKEN = "callback-token-" + uuid.uuid4().hex
GREET_PROMPT = 'Reply 1 for "What is sclerotherapy?", 2 to book a consultation, 3 to talk to staff.'
USED_NUMBERS: List[str] = []


class _Recorder(ThreadingHTTPServer):
    """A real local HTTP server that records what it is sent."""

    def __init__(self, handler: type) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.records: List[Dict[str, Any]] = []
        self.fail_with: Optional[int] = None  # answer every request with this status
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def record(self, entry: Dict[str, Any]) -> None:
        with self.lock:
            self.records.append(entry)

    def matching(self, predicate: Callable[[Dict[str, Any]], bool]) -> List[Dict[str, Any]]:
        with self.lock:
            return [r for r in self.records if predicate(r)]


class _TwilioApi(BaseHTTPRequestHandler):
    """Stands in for api.twilio.com: POST /2010-04-01/Accounts/<sid>/Messages.json."""

    server: _Recorder

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
        if self.server.fail_with:
            return self._answer(self.server.fail_with, {"code": 20500, "message": "Internal error", "status": self.server.fail_with})
        if self.path != f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json":
            return self._answer(404, {"code": 20404, "message": "Not found", "status": 404})
        form = parse_qs(body, keep_blank_values=True)
        message = {k: v[0] for k, v in form.items()}
        message["MediaUrl"] = form.get("MediaUrl", [])
        self.server.record(message)
        sid = "SM" + uuid.uuid4().hex
        self._answer(
            201,
            {
                "sid": sid, "account_sid": ACCOUNT_SID, "to": message.get("To"),
                "from": message.get("From"), "body": message.get("Body"), "status": "queued",
                "num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
                "date_created": "Thu, 01 Jan 2026 10:00:00 +0000", "uri": f"{self.path[:-5]}/{sid}.json",
            },
        )

    def _answer(self, status: int, payload: Dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _CallbackPlatform(BaseHTTPRequestHandler):
    """The other messaging platform: receives the bot's replies as JSON."""

    server: _Recorder

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.record(
            {"path": self.path, "authorization": self.headers.get("Authorization"), "json": json.loads(body)}
        )
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def twilio_api() -> Iterator[_Recorder]:
    server = _Recorder(_TwilioApi)
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def platform() -> Iterator[_Recorder]:
    server = _Recorder(_CallbackPlatform)
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def channel_stack(
    tmp_path_factory: pytest.TempPathFactory, twilio_api: _Recorder, platform: _Recorder
) -> Iterator[Stack]:
    """Action server + Rasa server with the Twilio and callback channels switched on."""
    running = Stack(
        StackConfig(
            rasa_port=free_port(),
            action_port=free_port(),
            web_port=free_port(),
            var_dir=tmp_path_factory.mktemp("channels-var"),
            with_worker=False,
            with_web=False,
            extra_env={
                "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "TWILIO_NUMBER": CLINIC_NUMBER,
                "TWILIO_API_BASE_URL": twilio_api.url,
                "CALLBACK_URL": f"{platform.url}/bot-replies",
                "CALLBACK_TOKEN": CALLBACK_TOKEN,
            },
        )
    )
    try:
        running.start(timeout=300)
        yield running
    finally:
        running.stop()


@pytest.fixture
def number() -> str:
    """A fresh patient number for each test (fictional 555 range)."""
    value = f"+1555{random.randint(2000000, 9999999)}"
    USED_NUMBERS.append(value)
    return value


def webhook_url(stack: Stack) -> str:
    return f"{stack.rasa_url}/webhooks/twilio/webhook"


def twilio_form(sender: str, body: str) -> Dict[str, str]:
    """The fields Twilio posts for an incoming SMS (blank ones included, as Twilio does)."""
    return {
        "ToCountry": "US", "ToState": "", "SmsMessageSid": "SM" + uuid.uuid4().hex,
        "NumMedia": "0", "ToCity": "", "FromZip": "", "SmsSid": "SM" + uuid.uuid4().hex,
        "FromState": "", "SmsStatus": "received", "FromCity": "", "Body": body,
        "FromCountry": "US", "To": CLINIC_NUMBER, "ToZip": "", "NumSegments": "1",
        "MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": ACCOUNT_SID, "From": sender,
        "ApiVersion": "2010-04-01",
    }


def post_twilio(
    stack: Stack,
    sender: str,
    body: str,
    *,
    token: str = AUTH_TOKEN,
    signed_url: Optional[str] = None,
    tamper: Optional[Dict[str, str]] = None,
    signature: Optional[str] = "compute",
) -> requests.Response:
    """POST a Twilio webhook signed as Twilio signs it (or deliberately not)."""
    form = twilio_form(sender, body)
    headers = {}
    if signature == "compute":
        signature = RequestValidator(token).compute_signature(signed_url or webhook_url(stack), form)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    form.update(tamper or {})
    return requests.post(webhook_url(stack), data=form, headers=headers, timeout=60)


def sms_to(twilio_api: _Recorder, recipient: str) -> List[Dict[str, Any]]:
    return twilio_api.matching(lambda m: m.get("To") == recipient)


def tracker(stack: Stack, sender: str) -> Dict[str, Any]:
    answer = requests.get(
        f"{stack.rasa_url}/conversations/{quote(sender, safe='+:')}/tracker",
        params={"token": stack.token}, timeout=30,
    )
    answer.raise_for_status()
    return answer.json()


def user_texts(stack: Stack, sender: str) -> List[str]:
    return [e.get("text") for e in tracker(stack, sender)["events"] if e["event"] == "user"]


def text_of(responses: Any, name: str) -> str:
    return responses.texts[name][0]


# --- Twilio: signatures ---------------------------------------------------------


def test_a_signed_sms_gets_one_reply_through_twilios_api(channel_stack, twilio_api, number, responses) -> None:
    answer = post_twilio(channel_stack, number, "hello")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/xml")
    assert "<Response" in answer.text

    sent = sms_to(twilio_api, number)
    assert len(sent) == 1, sent
    assert sent[0]["From"] == CLINIC_NUMBER
    assert sent[0]["Body"] == f"{text_of(responses, 'utter_greet')}\n\n{GREET_PROMPT}"
    assert tracker(channel_stack, number)["latest_input_channel"] == "twilio"


@pytest.mark.parametrize(
    "how",
    ["unsigned", "empty signature", "wrong token", "tampered body", "other url", "added field"],
)
def test_unsigned_or_forged_requests_get_403_and_reach_no_conversation(
    channel_stack, twilio_api, number, how: str
) -> None:
    kwargs: Dict[str, Any] = {
        "unsigned": {"signature": None},
        "empty signature": {"signature": ""},
        "wrong token": {"token": "not-the-auth-token"},
        "tampered body": {"tamper": {"Body": "I want to book"}},
        "other url": {"signed_url": "https://attacker.example/webhooks/twilio/webhook"},
        "added field": {"tamper": {"Extra": "1"}},
    }[how]
    answer = post_twilio(channel_stack, number, "hello", **kwargs)
    assert answer.status_code == 403, answer.text
    assert "X-Twilio-Signature" in answer.json()["error"]
    assert user_texts(channel_stack, number) == []
    assert sms_to(twilio_api, number) == []


def test_signed_but_malformed_requests_get_a_clear_4xx(channel_stack, twilio_api) -> None:
    answer = post_twilio(channel_stack, "../../etc/passwd", "hello")
    assert answer.status_code == 400
    assert "'From'" in answer.json()["error"]

    huge = requests.post(webhook_url(channel_stack), data={"Body": "x" * 100_000}, timeout=30)
    assert huge.status_code == 413

    not_utf8 = requests.post(
        webhook_url(channel_stack), data=b"From=%2B15551234567&Body=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "x"},
        timeout=30,
    )
    assert not_utf8.status_code == 403


# --- Twilio: replies fit for SMS ----------------------------------------------------


def test_buttons_arrive_as_one_numbered_sms_and_2_selects_the_second(
    channel_stack, twilio_api, number, responses
) -> None:
    post_twilio(channel_stack, number, "/bot_challenge")
    offer = sms_to(twilio_api, number)
    assert [m["Body"] for m in offer] == [
        f"{text_of(responses, 'utter_bot_challenge')}\n\nReply 1 to talk to staff, 2 to ask another question."
    ]

    assert post_twilio(channel_stack, number, "2").status_code == 200
    reply = sms_to(twilio_api, number)[1:]
    assert [m["Body"] for m in reply] == [text_of(responses, "utter_ask_question")]
    assert user_texts(channel_stack, number)[-1] == "/ask_question"


def test_a_button_title_reply_selects_that_button(channel_stack, twilio_api, number, responses) -> None:
    post_twilio(channel_stack, number, "/bot_challenge")
    post_twilio(channel_stack, number, "Ask another question")
    assert sms_to(twilio_api, number)[-1]["Body"] == text_of(responses, "utter_ask_question")
    assert user_texts(channel_stack, number)[-1] == "/ask_question"


def test_a_numbered_reply_answers_as_the_payload_itself_would(channel_stack, twilio_api, number) -> None:
    """'2' after the greeting gives exactly what typing the second button's payload gives."""
    other = f"+1555{random.randint(2000000, 9999999)}"
    USED_NUMBERS.append(other)
    for patient, second in ((number, "2"), (other, "/book_appointment")):
        post_twilio(channel_stack, patient, "hello")
        post_twilio(channel_stack, patient, second)
    by_number = [m["Body"].replace(number, "<patient>") for m in sms_to(twilio_api, number)]
    by_payload = [m["Body"].replace(other, "<patient>") for m in sms_to(twilio_api, other)]
    assert len(by_number) == 2 and by_number == by_payload
    assert user_texts(channel_stack, number) == ["hello", "/book_appointment"]


def test_a_number_without_buttons_goes_to_the_assistant_as_typed(channel_stack, twilio_api, number) -> None:
    post_twilio(channel_stack, number, "/ask_question")  # a reply without buttons
    post_twilio(channel_stack, number, "2")
    assert user_texts(channel_stack, number) == ["/ask_question", "2"]


def test_a_whatsapp_sender_is_answered_on_whatsapp(channel_stack, twilio_api, number, responses) -> None:
    address = f"whatsapp:{number}"
    assert post_twilio(channel_stack, address, "hello").status_code == 200
    sent = sms_to(twilio_api, address)
    assert len(sent) == 1
    assert sent[0]["From"] == f"whatsapp:{CLINIC_NUMBER}"
    assert sent[0]["Body"].startswith(text_of(responses, "utter_greet"))
    assert sms_to(twilio_api, number) == []
    state = tracker(channel_stack, address)
    assert state["sender_id"] == address and state["latest_input_channel"] == "twilio"


def test_twilio_api_errors_leave_the_webhook_answering(channel_stack, twilio_api, number, responses) -> None:
    twilio_api.fail_with = 500
    try:
        assert post_twilio(channel_stack, number, "hello").status_code == 200
    finally:
        twilio_api.fail_with = None
    assert sms_to(twilio_api, number) == []
    assert user_texts(channel_stack, number) == ["hello"]
    post_twilio(channel_stack, number, "/ask_question")
    assert [m["Body"] for m in sms_to(twilio_api, number)] == [text_of(responses, "utter_ask_question")]


# --- Twilio: opt-out ------------------------------------------------------------------


def test_stop_and_offered_buttons_survive_a_rasa_restart(
    channel_stack, twilio_api, number, responses
) -> None:
    post_twilio(channel_stack, number, "hello")
    assert len(sms_to(twilio_api, number)) == 1
    chooser = f"+1555{random.randint(2000000, 9999999)}"
    USED_NUMBERS.append(chooser)
    post_twilio(channel_stack, chooser, "/bot_challenge")  # offers buttons before the restart

    assert post_twilio(channel_stack, number, "STOP").status_code == 200
    assert post_twilio(channel_stack, number, "hello again").status_code == 200
    assert len(sms_to(twilio_api, number)) == 1, "no reply after STOP, no confirmation either"
    assert user_texts(channel_stack, number) == ["hello"], "opted-out messages reach no conversation"

    # Recorded in the request database, not in the server's memory.
    database = channel_stack.env()["DATABASE_URL"]
    assert is_opted_out(number, url=database)
    channel_stack.stop_process("rasa")
    channel_stack.start_process("rasa")
    channel_stack.wait_ready(timeout=300)

    # The last offered buttons are read from the tracker store, not from memory.
    post_twilio(channel_stack, chooser, "2")
    assert sms_to(twilio_api, chooser)[-1]["Body"] == text_of(responses, "utter_ask_question")

    post_twilio(channel_stack, number, "hello")
    post_twilio(channel_stack, number, "yes")  # only START/UNSTOP/YES opt back in; YES does here
    assert len(sms_to(twilio_api, number)) == 1
    assert not is_opted_out(number, url=database)

    post_twilio(channel_stack, number, "hello")
    sent = sms_to(twilio_api, number)
    assert len(sent) == 2
    assert sent[1]["Body"].startswith(text_of(responses, "utter_greet"))


@pytest.mark.parametrize("word", ["unsubscribe", "Cancel", "END", "quit", "stop"])
def test_every_opt_out_word_silences_and_start_resumes(channel_stack, twilio_api, number, word) -> None:
    post_twilio(channel_stack, number, word)
    post_twilio(channel_stack, number, "/greet")
    assert sms_to(twilio_api, number) == []
    post_twilio(channel_stack, number, "START")
    assert sms_to(twilio_api, number) == [], "Twilio confirms the opt-in itself"
    post_twilio(channel_stack, number, "/greet")
    assert len(sms_to(twilio_api, number)) == 1


def test_messages_sent_outside_a_webhook_call_go_out_as_sms(channel_stack, twilio_api, number, responses) -> None:
    """Rasa's trigger_intent API with output_channel=latest uses the channel's own output."""
    post_twilio(channel_stack, number, "/ask_question")

    def trigger() -> None:
        answer = requests.post(
            f"{channel_stack.rasa_url}/conversations/{quote(number, safe='+:')}/trigger_intent",
            params={"token": channel_stack.token, "output_channel": "latest"},
            json={"name": "greet"}, timeout=60,
        )
        assert answer.status_code == 200, answer.text

    trigger()
    sent = sms_to(twilio_api, number)
    assert len(sent) == 2
    assert sent[1]["Body"] == f"{text_of(responses, 'utter_greet')}\n\n{GREET_PROMPT}"

    post_twilio(channel_stack, number, "STOP")
    trigger()
    assert len(sms_to(twilio_api, number)) == 2, "opted out: nothing sent, even proactively"


# --- Callback channel ------------------------------------------------------------------


def post_callback(stack: Stack, body: Any, token: Optional[str] = CALLBACK_TOKEN) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{stack.rasa_url}/webhooks/callback/webhook", json=body, headers=headers, timeout=60)


def test_the_callback_channel_delivers_replies_to_the_platform(channel_stack, platform, responses) -> None:
    sender = f"platform-user-{uuid.uuid4().hex[:8]}"
    answer = post_callback(channel_stack, {"sender": sender, "message": "hello"})
    assert answer.status_code == 200 and answer.text == "success"

    replies = platform.matching(lambda r: r["json"].get("recipient_id") == sender)
    assert len(replies) == 1
    assert replies[0]["path"] == "/bot-replies"
    assert replies[0]["authorization"] == f"Bearer {CALLBACK_TOKEN}"
    assert replies[0]["json"]["text"] == text_of(responses, "utter_greet")
    assert [b["payload"] for b in replies[0]["json"]["buttons"]] == [
        "What is sclerotherapy?", "/book_appointment", "/human_handoff",
    ]
    assert tracker(channel_stack, sender)["latest_input_channel"] == "callback"


def test_the_callback_channel_refuses_bad_requests(channel_stack, platform) -> None:
    sender = f"platform-user-{uuid.uuid4().hex[:8]}"
    assert post_callback(channel_stack, {"sender": sender, "message": "hello"}, token=None).status_code == 401
    assert post_callback(channel_stack, {"sender": sender, "message": "hello"}, token="wrong").status_code == 401
    bad = post_callback(channel_stack, ["not", "an", "object"])
    assert bad.status_code == 400 and "JSON object" in bad.json()["error"]
    assert post_callback(channel_stack, {"sender": "../x", "message": "hi"}).status_code == 400
    assert platform.matching(lambda r: r["json"].get("recipient_id") == sender) == []
    assert user_texts(channel_stack, sender) == []


# --- Empty messages: the channel answers with utter_empty_message itself --------------------


def test_an_empty_sms_gets_the_prompt_and_reaches_no_conversation(channel_stack, twilio_api, number, responses) -> None:
    assert post_twilio(channel_stack, number, "  ").status_code == 200
    assert [m["Body"] for m in sms_to(twilio_api, number)] == [text_of(responses, "utter_empty_message")]
    assert user_texts(channel_stack, number) == []


def test_an_empty_callback_message_gets_the_prompt(channel_stack, platform, responses) -> None:
    sender = f"platform-user-{uuid.uuid4().hex[:8]}"
    answer = post_callback(channel_stack, {"sender": sender, "message": " \n "})
    assert answer.status_code == 200 and answer.text == "success"
    replies = platform.matching(lambda r: r["json"].get("recipient_id") == sender)
    assert [r["json"]["text"] for r in replies] == [text_of(responses, "utter_empty_message")]
    assert user_texts(channel_stack, sender) == []


# --- The patches' line in credentials.yml ---------------------------------------------------


def test_the_rasa_server_starts_with_every_patch_installed(channel_stack) -> None:
    """credentials.yml's first entry installed addons/patches before the model loaded."""
    status = requests.get(f"{channel_stack.rasa_url}/webhooks/rasa_patches/", timeout=30)
    assert status.status_code == 200
    assert status.json()["rasa"] == "3.6.21"
    assert status.json()["patches"] and all(status.json()["patches"].values()), status.json()


# --- Privacy ----------------------------------------------------------------------------


def test_patient_numbers_never_reach_the_logs(channel_stack) -> None:
    """Runs last in this module: every number used above is absent from every log."""
    assert USED_NUMBERS, "run with the other tests of this module"
    logs = "".join(p.read_text(errors="replace") for p in channel_stack.log_dir.glob("*.log"))
    assert "Twilio webhook refused" in logs  # the logs are the ones the tests wrote to
    leaked = [n for n in USED_NUMBERS if n in logs or n[1:] in logs]
    assert leaked == []


# --- Channels off --------------------------------------------------------------------------

OFF_SERVER = """
import sys
from sanic import Sanic
from rasa.core.channels.channel import register
from addons.channels.callback import CallbackChannel
from addons.channels.twilio import TwilioChannel

app = Sanic("channels_off")

async def handler(message):
    open(sys.argv[2], "a").write("reached\\n")

register([TwilioChannel.from_credentials(None), CallbackChannel.from_credentials(None)], app, "/webhooks/")
app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False)
"""


def test_channels_are_off_without_their_environment(tmp_path: Path) -> None:
    """A real Sanic server with both channels and no TWILIO_*/CALLBACK_URL: 503, nothing reached."""
    script, reached, port = tmp_path / "off.py", tmp_path / "reached", free_port()
    script.write_text(OFF_SERVER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "CALLBACK_"))}
    env["PYTHONPATH"] = str(ROOT)
    server = subprocess.Popen([sys.executable, str(script), str(port), str(reached)], cwd=ROOT, env=env)
    try:
        base = f"http://127.0.0.1:{port}/webhooks"
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{base}/twilio/", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None, "server did not start"
                time.sleep(0.3)
        form = twilio_form("+15551234567", "hello")
        signature = RequestValidator(AUTH_TOKEN).compute_signature(f"{base}/twilio/webhook", form)
        twilio = requests.post(f"{base}/twilio/webhook", data=form, headers={"X-Twilio-Signature": signature}, timeout=10)
        callback = requests.post(f"{base}/callback/webhook", json={"sender": "a", "message": "hi"}, timeout=10)
        assert (twilio.status_code, callback.status_code) == (503, 503)
        assert requests.get(f"{base}/twilio/", timeout=5).status_code == 503
        assert not reached.exists()
    finally:
        server.terminate()
        server.wait(10)



# --- A take-over (staff console) on SMS and the callback channel -------------------------------


def _as_the_console(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> str:
    """The console's settings for this stack (what ops.stack gives the console process);
    returns the request database's URL."""
    monkeypatch.setenv("STAFF_CONSOLE_RASA_URL", stack.rasa_url)
    monkeypatch.setenv("RASA_AUTH_TOKEN", stack.token)
    return stack.env()["DATABASE_URL"]


def test_a_take_over_reaches_an_sms_patient(channel_stack, twilio_api, number, responses, monkeypatch) -> None:
    database = _as_the_console(channel_stack, monkeypatch)
    post_twilio(channel_stack, number, "hello")
    assert handover.take_over(number, 1, "anna@clinic.example", "Anna", url=database).ok
    rasa_api.announce_take_over(number, "Anna")
    assert sms_to(twilio_api, number)[-1]["Body"].startswith("Anna from ")
    time.sleep(handover.HOLDER_CACHE_SECONDS + 0.5)
    sent = len(sms_to(twilio_api, number))
    post_twilio(channel_stack, number, "what is sclerotherapy?")
    assert len(sms_to(twilio_api, number)) == sent, "the assistant answered a held conversation"
    rasa_api.send_staff_message(number, "Hi, Anna here: it is an injection that closes the vein.", 1, "Anna")
    assert sms_to(twilio_api, number)[-1]["Body"] == "Hi, Anna here: it is an injection that closes the vein."
    post_twilio(channel_stack, number, "my calf is hot and swollen since this morning")
    assert sms_to(twilio_api, number)[-1]["Body"].startswith(text_of(responses, "utter_emergency")[:40])
    assert handover.hand_back(number, 1, url=database)
    rasa_api.announce_hand_back(number)
    assert sms_to(twilio_api, number)[-1]["Body"] == text_of(responses, "utter_handover_returned")


def test_a_take_over_reaches_a_callback_patient(channel_stack, platform, responses, monkeypatch) -> None:
    database = _as_the_console(channel_stack, monkeypatch)
    sender = f"platform-user-{uuid.uuid4().hex[:8]}"
    post_callback(channel_stack, {"sender": sender, "message": "hello"})
    assert handover.take_over(sender, 1, "anna@clinic.example", None, url=database).ok
    rasa_api.announce_take_over(sender, None)
    rasa_api.send_staff_message(sender, "Hello, how can I help?", 1, "")
    replies = [r["json"] for r in platform.matching(lambda r: r["json"].get("recipient_id") == sender)]
    assert replies[-2]["text"].startswith("A member of our team at ")
    assert replies[-1]["text"] == "Hello, how can I help?"
    # The platform gets the words; the conversation keeps who wrote them.
    kept = [e for e in tracker(channel_stack, sender)["events"] if e["event"] == "bot"][-1]
    assert kept["text"] == "Hello, how can I help?" and kept["metadata"]["staff"] == {"id": 1, "name": ""}
    handover.hand_back(sender, 1, url=database)

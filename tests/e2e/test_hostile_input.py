"""Whatever is sent to the REST webhook, the server answers sensibly and keeps running."""
from __future__ import annotations

import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.e2e

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def webhook(stack) -> str:
    return f"{stack.rasa_url}/webhooks/rest/webhook"


def post_raw(stack, body: bytes, content_type: str = "application/json") -> requests.Response:
    return requests.post(webhook(stack), data=body, headers={"Content-Type": content_type}, timeout=30)


def still_answers(stack, sender: str, responses) -> None:
    assert responses.names(stack.send(sender, "hello")) == ["utter_greet"]


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"{not json", "valid JSON"),
        (b"\xff\xfe\xfa not utf-8", "valid JSON"),
        (b"[1, 2, 3]", "JSON object"),
        (b'"just a string"', "JSON object"),
        (b'{"message": "hi"}', "'sender'"),
        (b'{"sender": 42, "message": "hi"}', "'sender'"),
        (b'{"sender": "", "message": "hi"}', "'sender'"),
        (b'{"sender": "../../etc/passwd", "message": "hi"}', "'sender'"),
        (json.dumps({"sender": "x" * 129, "message": "hi"}).encode(), "'sender'"),
        (b'{"sender": "abc"}', "'message'"),
        (b'{"sender": "abc", "message": ["hi"]}', "'message'"),
        (b'{"sender": "abc", "message": {"text": "hi"}}', "'message'"),
        (b'{"sender": "abc", "message": "hi\\u0000there"}', "control characters"),
        (b'{"sender": "abc", "message": "bell\\u0007"}', "control characters"),
        (b'{"sender": "abc", "message": "\\ud800"}', "valid Unicode"),
        (b'{"sender": "abc", "message": "hi", "metadata": "nope"}', "'metadata'"),
    ],
)
def test_malformed_requests_get_a_clear_400(stack, body: bytes, reason: str) -> None:
    answer = post_raw(stack, body)
    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["error"]


def test_a_huge_body_is_refused_with_413(stack) -> None:
    answer = post_raw(stack, json.dumps({"sender": "abc", "message": "a" * 3_000_000}).encode())
    assert answer.status_code == 413


def test_empty_and_whitespace_messages_get_a_prompt(stack, sender, responses) -> None:
    for text in ["", "   ", "\n\t "]:
        replies = stack.send(sender, text)
        assert responses.names(replies) == ["utter_empty_message"], replies
        assert replies == [{"recipient_id": sender, "text": responses.text("utter_empty_message")}]


def test_an_overlong_message_is_screened_then_politely_declined(stack, sender, responses) -> None:
    replies = stack.send(sender, "does it hurt? " * 200)
    assert responses.names(replies) == ["utter_message_too_long"], replies
    replies = stack.send(sender, "does it hurt? " * 200 + "my calf is swollen and hot since this morning")
    assert responses.names(replies) == ["utter_emergency"], replies


def test_markup_and_scripts_are_just_text(stack, sender, responses) -> None:
    replies = stack.send(sender, "<img src=x onerror=alert(1)><script>alert(1)</script>")
    assert replies, "no reply"
    assert all("<script>" not in m.get("text", "") for m in replies)


@FUZZ
@given(body=JSON_VALUES)
def test_fuzzed_json_bodies_never_get_a_5xx(stack, body) -> None:
    answer = post_raw(stack, json.dumps(body).encode())
    assert answer.status_code < 500, (body, answer.text)


@FUZZ
@given(message=st.text(max_size=1200), sender=st.from_regex(r"[A-Za-z0-9_.:@+\-]{1,40}", fullmatch=True))
def test_fuzzed_messages_never_get_a_5xx(stack, message: str, sender: str) -> None:
    answer = requests.post(webhook(stack), json={"sender": f"fuzz-{sender}", "message": message}, timeout=60)
    assert answer.status_code < 500, (message, answer.text)
    if answer.status_code == 200:
        assert isinstance(answer.json(), list)


@FUZZ
@given(raw=st.binary(max_size=2000))
def test_fuzzed_raw_bytes_never_get_a_5xx(stack, raw: bytes) -> None:
    assert post_raw(stack, raw).status_code < 500


def test_server_still_answers_after_the_abuse(stack, sender, responses) -> None:
    still_answers(stack, sender, responses)


def test_api_routes_need_the_token(stack) -> None:
    for path in ["/status", "/conversations/someone/tracker", "/model/parse", "/version/../status"]:
        method = requests.post if path == "/model/parse" else requests.get
        assert method(f"{stack.rasa_url}{path}", timeout=10).status_code in (401, 403, 404), path
    assert requests.get(f"{stack.rasa_url}/status", timeout=10).status_code == 401
    assert requests.get(f"{stack.rasa_url}/status", params={"token": "wrong"}, timeout=10).status_code == 401
    assert requests.get(f"{stack.rasa_url}/status", params={"token": stack.token}, timeout=10).status_code == 200


def test_cors_allows_only_the_configured_page(stack) -> None:
    allowed = f"http://localhost:{stack.config.web_port}"
    ok = requests.options(webhook(stack), headers={"Origin": allowed, "Access-Control-Request-Method": "POST"}, timeout=10)
    assert ok.headers.get("Access-Control-Allow-Origin") == allowed
    evil = requests.options(webhook(stack), headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, timeout=10)
    assert evil.headers.get("Access-Control-Allow-Origin") in (None, "")


def test_action_server_listens_on_loopback_only(stack) -> None:
    import psutil

    pid = stack.processes["actions"].pid
    family_ports = [
        c.laddr for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == stack.config.action_port
    ]
    assert family_ports and all(addr.ip in ("127.0.0.1", "::1") for addr in family_ports), (pid, family_ports)

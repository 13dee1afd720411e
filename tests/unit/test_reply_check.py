"""addons/patches/reply_check.py: the compiled check of action-server replies agrees with Rasa's own."""
from __future__ import annotations

from typing import Any, Dict

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from addons.patches import reply_check

ORIGINAL_CHECK = reply_check._original_validate  # Rasa 3.6.21 own check, whatever is installed
REPLIES = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "email", "value": "a@b.co"}], "responses": [{"text": "hi"}]},
    {"events": [{"event": "followup", "name": "action_listen"}], "responses": [{"response": "utter_greet"}]},
    {"events": "not a list", "responses": []},
    {"events": [{"no_event_key": 1}], "responses": []},
    {"events": [{"event": "slot", "name": "email", "value": "x"}], "responses": "not a list"},
    {"events": [{"event": "no_such_event"}], "responses": []},
    {"events": [{"event": 7}], "responses": []},
    {"events": [{"event": "slot", "name": 7, "value": "x"}], "responses": []},  # name must be a string
    {"events": [{"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 1.0}}},
                {"event": "active_loop", "name": "booking_form"}, {"event": "slot", "name": "requested_slot",
                                                                  "value": "patient_name"}], "responses": []},
    {"events": [{"event": "user", "parse_data": {"intent": "not an object"}}], "responses": []},
    {"events": [{"event": "bot", "text": "hi", "timestamp": "yesterday"}], "responses": []},
    {"responses": [{"text": "no events key"}]},
    {"events": [], "responses": ["not an object"]},
    "not an object",
]


@pytest.fixture()
def action() -> RemoteAction:
    reply_check.install()
    return RemoteAction("action_submit_booking", EndpointConfig(url="http://127.0.0.1:9/webhook"))


def verdict(check, action: RemoteAction, reply: Dict[str, Any]) -> str:
    try:
        check(action, reply)
        return "valid"
    except ValidationError as error:
        return error.message


@pytest.mark.parametrize("reply", REPLIES)
def test_same_verdict_and_message_as_rasa(action: RemoteAction, reply: Dict[str, Any]) -> None:
    assert RemoteAction._validate_action_result is reply_check.validate_action_result
    assert verdict(reply_check.validate_action_result, action, reply) == verdict(ORIGINAL_CHECK, action, reply)


def test_invalid_replies_are_refused(action: RemoteAction) -> None:
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        reply_check.validate_action_result(action, {"events": "not a list", "responses": []})


@pytest.mark.parametrize("reply", REPLIES)
def test_compiled_check_agrees_with_jsonschema(reply: Dict[str, Any]) -> None:
    """The fast path accepts exactly what jsonschema accepts (else errors would be lost)."""
    fast = "valid" if reply_check.fast_reply_check()(reply) else "invalid"
    slow = "valid" if reply_check.reply_validator().is_valid(reply) else "invalid"
    assert fast == slow

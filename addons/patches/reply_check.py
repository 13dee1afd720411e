"""Rasa's check of every action-server reply, with its schema compiled once.

Rasa 3.6's `RemoteAction._validate_action_result` calls `jsonschema.validate` on
every reply, which first re-checks the schema itself against its metaschema:
about 50 ms of CPU per custom action here, the largest single cost of a booking
turn (benchmarks/TUNING.md). Here the schema is compiled to Python code once
(fastjsonschema) and a valid reply costs a few microseconds; an invalid one goes
through jsonschema as well, so that the error and its message are exactly Rasa's.
"""
from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any, Callable, Dict

import fastjsonschema
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

_original_validate = RemoteAction._validate_action_result


@lru_cache(maxsize=1)
def reply_validator() -> Validator:
    """The validator for action-server replies, its schema checked once per process."""
    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


@lru_cache(maxsize=1)
def fast_reply_check() -> Callable[[Dict[str, Any]], bool]:
    """Rasa's reply schema, compiled to Python code by fastjsonschema, with its `oneOf`
    over 23 event types decided by each event's name.

    The event types differ in their constant "event" name, so at most one of them can
    match, and `oneOf` holds exactly when the type named by the event matches. Checked
    that way instead of trying all 23 (each failure raising an exception), a reply
    costs a few microseconds rather than a millisecond (benchmarks/TUNING.md)."""
    spec = copy.deepcopy(RemoteAction.action_response_format_spec())
    event_schema = spec["properties"]["events"]["items"]
    alternatives = event_schema.pop("oneOf")
    by_name = {alt["properties"]["event"]["const"]: fastjsonschema.compile(alt) for alt in alternatives}
    reply_check = fastjsonschema.compile(spec)

    def check(reply: Dict[str, Any]) -> bool:
        try:
            reply_check(reply)
            for event in reply.get("events") or []:
                name = event["event"]
                if not isinstance(name, str) or name not in by_name:
                    return False
                by_name[name](event)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return check


def validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
    """Rasa 3.6's check of an action server reply: the same verdict and error, compiled."""
    if fast_reply_check()(result):
        return True
    error = best_match(reply_validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            "from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def install() -> None:
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


def uninstall() -> None:
    RemoteAction._validate_action_result = _original_validate  # type: ignore[method-assign]

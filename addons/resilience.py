"""When the action server cannot be reached, apologise instead of going silent.

Rasa 3.6 logs a failed custom action and carries on with no reply at all. This
wraps RemoteAction.run so that a failure to run a custom action becomes one
short apology with the clinic's phone number, once per patient message. The
text is built here, from the clinic's details, because no rule or story could
ever "use" a domain response that only a failure sends. Installed when the Rasa server loads addons.nlg.
"""
from __future__ import annotations

import copy
import logging
from functools import lru_cache
from typing import Any, Callable, Dict, List

import fastjsonschema
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction, create_bot_utterance
from rasa.shared.core.events import BotUttered, Event, UserUttered
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.exceptions import RasaException

from clinic.settings import clinic_details

logger = logging.getLogger(__name__)

APOLOGY = "action_unavailable_apology"  # marks the apology in the tracker
# Background bookkeeping the patient never sees: a failure is logged, not apologised
# for (the emergency reply must stay the only message of its turn).
SILENT_ACTIONS = {"action_record_emergency"}
_original_run = RemoteAction.run


def apologised_this_turn(tracker: Any) -> bool:
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered) and (event.metadata or {}).get("utter_action") == APOLOGY:
            return True
    return False


async def run_or_apologise(self: RemoteAction, output_channel, nlg, tracker, domain) -> List[Event]:
    try:
        return await _original_run(self, output_channel, nlg, tracker, domain)
    except ActionExecutionRejection:
        raise
    except RasaException:
        logger.error("Custom action %s could not run.", self.name())
        if self.name() in SILENT_ACTIONS or apologised_this_turn(tracker):
            return []
        return [create_bot_utterance({"text": apology_text(), "utter_action": APOLOGY})]


def apology_text() -> str:
    clinic = clinic_details()
    return (
        "Sorry, part of our system isn't available right now, so I can't finish that. "
        f"Please try again in a few minutes, or call the clinic at {clinic.phone} ({clinic.hours})."
    )


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
    """Rasa 3.6's check of an action server reply, with the schema compiled once.

    Rasa calls jsonschema.validate on every reply, which first re-checks the schema
    itself against its metaschema: about 50 ms of CPU per custom action here, the
    largest single cost of a booking turn (benchmarks/TUNING.md). A valid reply is
    accepted by the compiled check; an invalid one goes through jsonschema as well,
    so that the error and its message are exactly Rasa's.
    """
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
    """Idempotent: wrap RemoteAction.run and compile its reply check once per process."""
    if RemoteAction.run is not run_or_apologise:
        RemoteAction.run = run_or_apologise
    RemoteAction._validate_action_result = validate_action_result

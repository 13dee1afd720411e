"""When the action server cannot be reached, apologise instead of going silent.

Rasa 3.6 logs a failed custom action and carries on with no reply at all. This
wraps RemoteAction.run so that a failure to run a custom action becomes one
short apology with the clinic's phone number, once per patient message. The
text is built here, from the clinic's details, because no rule or story could
ever "use" a domain response that only a failure sends.
"""
from __future__ import annotations

import logging
from typing import Any, List

from rasa.core.actions.action import ActionExecutionRejection, RemoteAction, create_bot_utterance
from rasa.shared.core.events import BotUttered, Event, UserUttered
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


async def run_or_apologise(self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> List[Event]:
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


def install() -> None:
    RemoteAction.run = run_or_apologise  # type: ignore[method-assign]


def uninstall() -> None:
    RemoteAction.run = _original_run  # type: ignore[method-assign]

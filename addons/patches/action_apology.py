"""When the action server cannot be reached, apologise instead of going silent.

Rasa 3.6 logs a failed custom action and carries on with no reply at all. This
wraps RemoteAction.run so that a failure to run a custom action becomes one
short apology with the clinic's phone number, once per patient message: the
domain response utter_action_unavailable (domain/system.yml), rendered by the
server's NLG as any other response, and marked with its name in the tracker as
Rasa marks every response it sends.
"""
from __future__ import annotations

import logging
from typing import Any, List

from rasa.core.actions.action import ActionExecutionRejection, RemoteAction, create_bot_utterance
from rasa.core.channels.channel import OutputChannel
from rasa.core.nlg import NaturalLanguageGenerator
from rasa.shared.core.events import BotUttered, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException

logger = logging.getLogger(__name__)

APOLOGY = "utter_action_unavailable"
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


async def run_or_apologise(
    self: RemoteAction, output_channel: OutputChannel, nlg: NaturalLanguageGenerator,
    tracker: DialogueStateTracker, domain: Any,
) -> List[Event]:
    try:
        return await _original_run(self, output_channel, nlg, tracker, domain)
    except ActionExecutionRejection:
        raise
    except RasaException:
        logger.error("Custom action %s could not run.", self.name())
        if self.name() in SILENT_ACTIONS or apologised_this_turn(tracker):
            return []
        return await apology(nlg, tracker, output_channel)


async def apology(nlg: NaturalLanguageGenerator, tracker: DialogueStateTracker, output_channel: OutputChannel) -> List[Event]:
    """The apology as Rasa's own response actions send a response (ActionBotResponse.run)."""
    message = await nlg.generate(APOLOGY, tracker, output_channel.name())
    if message is None:  # a model trained without domain/system.yml
        logger.error("The domain has no response %s: the patient gets no apology.", APOLOGY)
        return []
    message["utter_action"] = APOLOGY
    return [create_bot_utterance(message)]


def install() -> None:
    RemoteAction.run = run_or_apologise  # type: ignore[method-assign]


def uninstall() -> None:
    RemoteAction.run = _original_run  # type: ignore[method-assign]

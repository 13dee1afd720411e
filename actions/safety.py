"""Recording an emergency for staff follow-up (issue 3, part 2).

When the red-flag screen fires, the Rasa server answers the patient itself
(utter_emergency) and runs action_record_emergency, which stores an urgent
call-back request carrying the conversation id, the channel and the patient's
own words, and nothing else. It sends the patient nothing: the emergency reply
must stand alone.
"""
from __future__ import annotations

import asyncio
import logging
from typing import List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from clinic.store import NewRequest, RequestKind, StoreUnavailable, save_request

logger = logging.getLogger(__name__)

EMERGENCY_INTENT = "medical_emergency"
EMERGENCY_REPLY = "utter_emergency"


def patient_words(tracker: Tracker) -> str:
    """What the patient wrote that raised the alarm: the latest message, and the one
    before it when the red flag was only found reading the two together (the
    latest message alone then has no medical_emergency intent)."""
    latest_intent = (tracker.latest_message.get("intent") or {}).get("name")
    wanted = 1 if latest_intent == EMERGENCY_INTENT else 2
    texts: List[str] = []
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "session_started" or (kind == "action" and event.get("name") == EMERGENCY_REPLY and texts):
            break  # nothing from an earlier session, nor what an earlier alarm already covered
        if kind == "user" and not (event.get("text") or "").startswith("/"):
            texts.append(event["text"].strip())
            if len(texts) == wanted:
                break
    return "\n".join(reversed(texts))


class ActionRecordEmergency(Action):
    """Stores an urgent call-back request for the emergency just reported."""

    def name(self) -> str:
        return "action_record_emergency"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        new = NewRequest(
            kind=RequestKind.URGENT_CALLBACK,
            conversation_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel() or "unknown",
            patient_message=patient_words(tracker) or None,
        )
        try:
            saved = await asyncio.to_thread(save_request, new)
        except StoreUnavailable:
            logger.error("An emergency could not be recorded for staff: the request store is unavailable.")
            return []
        logger.info("Emergency recorded for staff follow-up as request %s.", saved.reference)
        return []

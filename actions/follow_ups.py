"""Follow-ups answered against the last topic: "tell me more", "why?", "what about afterwards?".

The context is the last FAQ answer the assistant gave, read from the conversation itself
(each bot message records the response it came from). Anything else said since (a booking,
a decline, another topic) ends it. Which answer each follow-up gets is data
(data/faq/follow_ups.yml); the words are domain responses.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import last_bot_response

FOLLOW_UPS_FILE = Path(__file__).resolve().parent.parent / "data" / "faq" / "follow_ups.yml"
FAQ_PREFIX = "utter_faq/"
NO_CONTEXT = "utter_follow_up_without_context"
NO_MORE = "utter_follow_up_no_more"

WHY = re.compile(r"\b(why|how come|what for|reason)\b", re.IGNORECASE)
AFTERWARDS = re.compile(r"\b(after\w*|then|later|next)\b", re.IGNORECASE)


@lru_cache(maxsize=1)
def follow_ups() -> Dict[str, Dict[str, str]]:
    return yaml.safe_load(FOLLOW_UPS_FILE.read_text(encoding="utf-8"))["follow_ups"]


def kind_of(text: str) -> str:
    """more | why | afterwards: what the follow-up asks for."""
    if WHY.search(text):
        return "why"
    if AFTERWARDS.search(text):
        return "afterwards"
    return "more"


def last_topic(events: List[Dict[Text, Any]]) -> Optional[str]:
    """The FAQ topic of the assistant's last message before this one, if it was an FAQ answer."""
    response = last_bot_response(events) or ""
    return response[len(FAQ_PREFIX):] if response.startswith(FAQ_PREFIX) else None


def answer_for(topic: Optional[str], kind: str) -> str:
    if topic is None:
        return NO_CONTEXT
    target = follow_ups().get(topic, {}).get(kind)
    return FAQ_PREFIX + target if target else NO_MORE


class ActionAnswerFollowUp(Action):
    def name(self) -> Text:
        return "action_answer_follow_up"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        text = tracker.latest_message.get("text") or ""
        dispatcher.utter_message(response=answer_for(last_topic(tracker.events), kind_of(text)))
        return []

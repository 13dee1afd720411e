"""Declines that name the topic and the next step, and that do not repeat themselves.

A question the approved facts do not answer (intent out_of_scope) is declined. When it
names a topic the clinic hears often (price, insurance, whether the treatment is right for
this patient, other treatments, timelines), the reply names it and says who can answer
(data/declines/topics.yml; the words are in domain/declines.yml). A second miss in a row
gets other wording; from the third, the patient is offered the topics the assistant can
answer, staff, and the phone instead of another refusal.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Pattern, Text

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import last_bot_response, response_of

TOPICS_FILE = Path(__file__).resolve().parent.parent / "data" / "declines" / "topics.yml"

GENERAL = "utter_out_of_scope"
AGAIN = "utter_decline_again"
OFFER_HELP = "utter_decline_offer_help"
# Replies that tell the patient "I could not answer that" (with the topic replies): misses.
GENERAL_MISSES = {GENERAL, AGAIN, OFFER_HELP, "utter_ask_rephrase", "utter_offer_staff"}
MISSES_BEFORE_OFFER = 2


@dataclass(frozen=True)
class DeclineTopic:
    topic: str
    response: str
    pattern: Pattern[str]


def _word_pattern(word: str) -> str:
    """A phrase matched whole; a trailing * matches any ending of its last word."""
    stem, wildcard = (word[:-1], True) if word.endswith("*") else (word, False)
    escaped = re.escape(stem.lower())
    if not stem[-1:].isalnum():  # "$": a symbol, not a word
        return escaped
    return rf"\b{escaped}" + (r"\w*" if wildcard else r"\b")


@lru_cache(maxsize=1)
def decline_topics() -> List[DeclineTopic]:
    data = yaml.safe_load(TOPICS_FILE.read_text(encoding="utf-8"))
    return [
        DeclineTopic(entry["topic"], entry["response"],
                     re.compile("|".join(_word_pattern(w) for w in entry["words"]), re.IGNORECASE))
        for entry in data["topics"]
    ]


def topic_of(text: str) -> Optional[DeclineTopic]:
    """The first topic (in the file's order) whose words the message uses."""
    return next((topic for topic in decline_topics() if topic.pattern.search(text)), None)


def misses_in_a_row(events: List[Dict[Text, Any]]) -> int:
    """How many of the patient's previous messages in a row got a miss (a decline or a
    request to rephrase), not counting the message being answered now."""
    misses_replies = GENERAL_MISSES | {topic.response for topic in decline_topics()}
    misses, missed_this_turn, seen_current = 0, False, False
    for event in reversed(events):
        kind = event.get("event")
        if kind == "bot" and response_of(event) in misses_replies:
            missed_this_turn = True
        elif kind == "user":
            if not seen_current:  # the message being answered now
                seen_current, missed_this_turn = True, False
                continue
            if not missed_this_turn:
                break
            misses, missed_this_turn = misses + 1, False
    return misses


def choose_decline(text: str, misses_before: int, previous: Optional[str]) -> str:
    if misses_before >= MISSES_BEFORE_OFFER:
        return OFFER_HELP
    topic = topic_of(text)
    if topic is not None and topic.response != previous:
        return topic.response
    return AGAIN if misses_before else GENERAL


class ActionDecline(Action):
    def name(self) -> Text:
        return "action_decline"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        events = tracker.events
        response = choose_decline(tracker.latest_message.get("text") or "", misses_in_a_row(events),
                                  last_bot_response(events))
        dispatcher.utter_message(response=response)
        return []

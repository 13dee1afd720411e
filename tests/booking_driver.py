"""A patient who answers whatever the booking form asks, in whatever order it asks.

Shared by the booking, privacy and fault tests (and usable by load drivers): it
recognises the bot's questions by their text, as an outside tester would.
"""
from __future__ import annotations

import re
from typing import Callable, Dict, List, Optional

from actions import forms
from actions.forms import CONFIRMED, CONSENT, EMAIL, METHOD, NAME, PHONE, REASON, TIME
from ops.stack import Stack

REFERENCE = re.compile(r"reference (VC-[0-9A-Z]{6})")

# What a patient answers to each question; tests override some.
ANSWERS: Dict[str, str] = {
    NAME: "Jane Smith",
    METHOD: "Text message",
    PHONE: "(212) 555-0147",
    EMAIL: "jane.smith@example.org",
    TIME: "next Tuesday afternoon",
    REASON: "Spider vein consultation",
    CONSENT: "yes, I agree",
    CONFIRMED: "/affirm",  # the Confirm button
}


# --- Talking to the assistant ------------------------------------------------------------


def asked(replies: List[dict]) -> Optional[str]:
    """The slot whose question the bot asked last, if any."""
    for message in reversed(replies):
        text = message.get("text", "")
        if text.startswith(forms.SUMMARY_INTRO):
            return CONFIRMED
        if text.startswith("What phone number should the clinic use?"):
            return PHONE
        for slot in forms.QUESTIONS:
            if text == forms.question_text(slot):
                return slot
    return None


def texts(replies: List[dict]) -> List[str]:
    return [m.get("text", "") for m in replies]


class Patient:
    """One conversation: answers each question the bot asks, logs what was said."""

    def __init__(self, stack: Stack, sender: str, answers: Optional[Dict[str, str]] = None) -> None:
        self.stack, self.sender = stack, sender
        self.answers = {**ANSWERS, **(answers or {})}
        self.questions: List[str] = []
        self.replies: List[dict] = []

    def say(self, text: str) -> List[dict]:
        self.replies = self.stack.send(self.sender, text)
        slot = asked(self.replies)
        if slot:
            self.questions.append(slot)
        return self.replies

    def answer_until(self, stop: Callable[[Optional[str]], bool] = lambda slot: slot is None,
                     max_turns: int = 15) -> List[dict]:
        """Answer the questions until `stop(question)`; returns the last replies."""
        for _ in range(max_turns):
            slot = asked(self.replies)
            if stop(slot):
                return self.replies
            assert slot is not None, f"no question and not done: {texts(self.replies)}"
            self.say(self.answers[slot])
        raise AssertionError(f"still asking after {max_turns} turns: {self.questions}")

    def reference(self) -> str:
        found = REFERENCE.search(" ".join(texts(self.replies)))
        assert found, f"no reference in {texts(self.replies)}"
        return found.group(1)



"""A patient who answers whatever the booking form asks, in whatever order it asks.

Shared by the booking, privacy and fault tests (and usable by load drivers): it
recognises the bot's questions by their text, as an outside tester would.
"""
from __future__ import annotations

import re
from typing import Callable, Dict, List, Optional, Pattern, Tuple

from actions.forms import CONFIRMED, CONSENT, EMAIL, FIELD, METHOD, NAME, PHONE, REASON, TIME, TOPIC
from ops.stack import Stack
from tests.responses import ResponseCatalog

REFERENCE = re.compile(r"reference (VC-[0-9A-Z]{6})")

# What a patient answers to each question; tests override some.
ANSWERS: Dict[str, str] = {
    NAME: "Jane Smith",
    METHOD: "Text message",
    PHONE: "(212) 555-0147",
    EMAIL: "jane.smith@example.org",
    TIME: "next Tuesday afternoon",
    REASON: "Spider vein consultation",
    TOPIC: "skip",
    CONSENT: "yes, I agree",
    CONFIRMED: "/affirm",  # the Confirm button
}


# --- Talking to the assistant ------------------------------------------------------------


# Each question's responses in domain/forms.yml (a form's own wording included).
QUESTIONS: Dict[str, List[str]] = {
    NAME: ["utter_ask_patient_name", "utter_ask_callback_form_patient_name"],
    METHOD: ["utter_ask_contact_method"],
    PHONE: ["utter_ask_patient_phone", "utter_ask_patient_phone_sender"],
    EMAIL: ["utter_ask_patient_email"],
    TIME: ["utter_ask_preferred_time"],
    REASON: ["utter_ask_visit_reason"],
    TOPIC: ["utter_ask_callback_topic"],
    CONSENT: ["utter_ask_contact_consent"],
    FIELD: ["utter_ask_field_to_change", "utter_ask_callback_form_field_to_change"],
    CONFIRMED: ["utter_summary", "utter_summary_flexible"],
}


def _pattern(template: str) -> Pattern[str]:
    """The template with the clinic's details filled and any other {value} matching anything."""
    parts = re.split(r"\{[a-z_0-9]+\}", template)
    return re.compile(".*?".join(re.escape(part) for part in parts), re.S)


def _question_patterns() -> List[Tuple[str, Pattern[str]]]:
    catalog = ResponseCatalog.load()
    return [(slot, _pattern(text)) for slot, names in QUESTIONS.items() for name in names
            for text in catalog.texts[name]]


PATTERNS = _question_patterns()


def asked(replies: List[dict]) -> Optional[str]:
    """The slot whose question the bot asked last, if any."""
    for message in reversed(replies):
        text = message.get("text", "")
        for slot, pattern in PATTERNS:
            if pattern.fullmatch(text):
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



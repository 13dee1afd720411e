"""One bot turn as a phone message, and a patient's reply mapped back to a button (pure functions).

All texts of a turn go out as ONE message (split only above Twilio's 1600-character
limit), buttons as one numbered line ("Reply 1 to book a consultation, 2 for ..."), and a
numeric or button-title reply is mapped back to that button's payload. The prompt's
words are domain responses (domain/system.yml, one variation per language) and its
grammar data (data/sms/, one list per language).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence

import yaml

from rasa.shared.core.events import BotUttered, UserUttered

from clinic.languages import variation_language

# Twilio refuses message bodies above 1600 characters (SMS and WhatsApp).
SMS_MAX_CHARS = 1600
# Twilio can attach at most 10 media URLs to one message.
MAX_MEDIA = 10
NUMBERED_REPLY = re.compile(r"^\s*#?\s*([0-9]{1,2})\s*[.)!]?\s*$")
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class PromptWording:
    """The reply prompt's words (domain/system.yml) and the verbs that make a button an
    action (data/sms/button_verbs.yml): copy and grammar as data, not in this module."""

    prompt: str
    to_do: str
    question: str
    other: str
    verbs: FrozenSet[str]


@lru_cache(maxsize=None)
def prompt_wording(language: str = "en") -> PromptWording:
    """The words in one reply language: the variation of each response whose `language`
    condition names it (the unconditioned one for English)."""
    responses = yaml.safe_load((ROOT / "domain" / "system.yml").read_text(encoding="utf-8"))["responses"]
    verbs = yaml.safe_load((ROOT / "data" / "sms" / "button_verbs.yml").read_text(encoding="utf-8"))[language]

    def text(name: str) -> str:
        return next(v["text"] for v in responses[name] if variation_language(v) == language)

    return PromptWording(text("utter_sms_reply_prompt"), text("utter_sms_choice_to_do"),
                         text("utter_sms_choice_question"), text("utter_sms_choice_other"), frozenset(verbs))


def turn_language(messages: Sequence[Dict[str, Any]]) -> str:
    """The language of a turn's buttons: the one its channel noted on the messages
    (`language`, from the NLG's reply metadata), the last message with buttons first."""
    marked = [m for m in messages if m.get("language")]
    with_buttons = [m for m in marked if m.get("buttons") or m.get("quick_replies")]
    return str((with_buttons or marked)[-1]["language"]) if marked else "en"


@dataclass(frozen=True)
class SmsTurn:
    """What one bot turn becomes on a phone: message bodies and media URLs."""

    bodies: List[str]
    media: List[str]


def _lower_first(title: str) -> str:
    """'Book a consultation' -> 'book a consultation'; 'WhatsApp' stays as it is."""
    first, _, rest = title.partition(" ")
    if len(first) > 1 and first[1:].islower():
        first = first[0].lower() + first[1:]
    return f"{first} {rest}".strip()


def button_choice(number: int, title: str, wording: PromptWording) -> str:
    """How one button reads in the reply prompt, with its number."""
    title = " ".join(title.split())
    if title.endswith("?"):
        return wording.question.format(number=number, title=title)
    first_word = title.split(" ", 1)[0].lower() if title else ""
    form = wording.to_do if first_word in wording.verbs else wording.other
    return form.format(number=number, title=_lower_first(title))


def button_prompt(buttons: Sequence[Dict[str, Any]], wording: Optional[PromptWording] = None) -> str:
    """'Reply 1 to book a consultation, 2 to ask another question.'"""
    wording = wording or prompt_wording()
    choices = [button_choice(n, str(b.get("title", "")), wording) for n, b in enumerate(buttons, 1)]
    return wording.prompt.format(choices=", ".join(choices)) if choices else ""


def _pieces(text: str, limit: int) -> List[str]:
    """Cut one over-long paragraph at sentence, then word, then character limits."""
    if len(text) <= limit:
        return [text]
    for separator in (r"(?<=[.!?])\s+", r"\s+"):
        parts = [p for p in re.split(separator, text) if p]
        if len(parts) > 1:
            return _pack(parts, " ", limit)
    return [text[i : i + limit] for i in range(0, len(text), limit)]


def _pack(parts: Iterable[str], joiner: str, limit: int) -> List[str]:
    """Greedily join parts into chunks no longer than limit."""
    chunks: List[str] = []
    current = ""
    for part in parts:
        for piece in _pieces(part, limit):
            candidate = f"{current}{joiner}{piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
            else:
                chunks.append(current)
                current = piece
    if current:
        chunks.append(current)
    return chunks


def split_for_sms(text: str, limit: int = SMS_MAX_CHARS) -> List[str]:
    """One body when it fits, else as few bodies as possible, cut between paragraphs first."""
    text = text.strip()
    if not text:
        return []
    return _pack(re.split(r"\n\s*\n", text), "\n\n", limit)


def turn_buttons(messages: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """All buttons (and quick replies) of a turn, numbered in the order they were sent."""
    buttons: List[Dict[str, Any]] = []
    for message in messages:
        for key in ("buttons", "quick_replies"):
            buttons.extend(b for b in message.get(key) or [] if isinstance(b, dict) and b.get("title"))
    return buttons


def compose_sms(messages: Sequence[Dict[str, Any]], limit: int = SMS_MAX_CHARS) -> SmsTurn:
    """One bot turn (Rasa's collected messages) as SMS: texts, then the numbered buttons,
    whose line is in the turn's language ("Reply 1 to ..." / "Responda 1 para ...")."""
    paragraphs = [str(m["text"]).strip() for m in messages if m.get("text")]
    prompt = button_prompt(turn_buttons(messages), prompt_wording(turn_language(messages)))
    if prompt:
        paragraphs.append(prompt)
    media = [str(m["image"]) for m in messages if isinstance(m.get("image"), str)]
    media += [str(m["attachment"]) for m in messages if isinstance(m.get("attachment"), str)]
    return SmsTurn(split_for_sms("\n\n".join(p for p in paragraphs if p), limit), media[:MAX_MEDIA])


def _normalise(text: str) -> str:
    return " ".join(text.casefold().split()).strip(" .!?\"'")


def resolve_reply(text: str, buttons: Sequence[Dict[str, Any]]) -> Optional[str]:
    """The payload a numeric ("2") or button-title reply selects; None for anything else."""
    if not buttons:
        return None
    number = NUMBERED_REPLY.match(text)
    if number:
        index = int(number.group(1))
        return str(buttons[index - 1].get("payload")) if 1 <= index <= len(buttons) else None
    wanted = _normalise(text)
    for button in buttons:
        if wanted and _normalise(str(button.get("title", ""))) == wanted:
            return str(button.get("payload"))
    return None


def last_offered_buttons(
    events: Sequence[Any], now: float, max_age_seconds: Optional[float]
) -> List[Dict[str, Any]]:
    """Buttons of the bot's last turn (all bot messages since the patient last wrote).

    Read from the tracker store rather than kept in memory, so a reply to a
    question asked before a Rasa restart still maps to the right button. A turn
    older than the session expiry is ignored: a new session starts afresh.
    """
    turn: List[Dict[str, Any]] = []
    newest: Optional[float] = None
    for event in reversed(events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            newest = newest or event.timestamp
            turn.insert(0, {"buttons": event.data.get("buttons"), "quick_replies": event.data.get("quick_replies")})
    if newest is None or (max_age_seconds and now - newest > max_age_seconds):
        return []
    return turn_buttons(turn)


def clean_sms_text(text: str) -> str:
    """Drop control characters; undo the carriers' '@' -> '¡' corruption, as Rasa's connector does."""
    text = text.replace("¡", "@")
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")

"""The three safety outcomes, ordered so that the safer one compares greater."""
from __future__ import annotations

from enum import IntEnum


class Outcome(IntEnum):
    """What the assistant must do with a message (docs: data/red_flags/README.md).

    NONE: not a red flag (negated, past and resolved, mild after-effects, needle nerves...).
    SAFETY_NET: a red-flag symptom asked about, conditional or uncertain: say when to
        call the emergency number and give the urgent line, nothing more.
    EMERGENCY: an acute red flag now: the emergency reply first.
    """

    NONE = 0
    SAFETY_NET = 1
    EMERGENCY = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> "Outcome":
        return cls[label.strip().upper()]

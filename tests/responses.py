"""Recognise the bot's replies by the domain response they came from."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import yaml

from clinic.languages import variation_language
from clinic.settings import clinic_details
from clinic.settings import max_message_chars

ROOT = Path(__file__).resolve().parent.parent
RESPONSE_FILES = [*sorted((ROOT / "domain").rglob("*.yml")), *sorted((ROOT / "data" / "responses").glob("*.yml"))]


@dataclass
class ResponseCatalog:
    """Response name -> list of its texts, clinic details filled in."""

    texts: Dict[str, List[str]]

    @classmethod
    def load(cls) -> "ResponseCatalog":
        texts: Dict[str, List[str]] = {}
        for path in RESPONSE_FILES:
            for name, variations in (yaml.safe_load(path.read_text()).get("responses") or {}).items():
                for variation in variations:
                    if "text" in variation:
                        # Each variation with the clinic's details in its own language.
                        values = {**clinic_details().as_template_values(variation_language(variation)),
                                  "max_message_chars": str(max_message_chars())}
                        texts.setdefault(name, []).append(_fill(variation["text"], values))
        return cls(texts)

    def name_of(self, text: str) -> Optional[str]:
        """Which response a reply text is (None for text built by an action)."""
        for name, options in self.texts.items():
            if text in options:
                return name
        return None

    def names(self, messages: Iterable[dict]) -> List[Optional[str]]:
        return [self.name_of(m.get("text", "")) for m in messages if "text" in m]

    def text(self, name: str) -> str:
        return self.texts[name][0]


def _fill(text: str, values: Dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text

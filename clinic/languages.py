"""The languages the assistant replies in, and clinic details named in each of them.

Every patient-facing response exists in each reply language: the English text, and a
variation for each other language on the slot `language`
(`condition: [{type: slot, name: language, value: es}]`, domain/ and data/responses/).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Dict, Mapping, Optional, Tuple

from babel import Locale
from babel.lists import format_list

# The first is the default: the response's variation without a condition.
REPLY_LANGUAGES: Tuple[str, ...] = ("en", "es")
LANGUAGE_SLOT = "language"


def reply_language(value: object) -> str:
    """The conversation's `language` slot as a language the replies exist in (else the default)."""
    return value if isinstance(value, str) and value in REPLY_LANGUAGES else REPLY_LANGUAGES[0]


def variation_language(variation: Mapping[str, Any]) -> str:
    """The language a response variation is written in: its `language` condition, else the default."""
    for condition in variation.get("condition") or []:
        if condition.get("type") == "slot" and condition.get("name") == LANGUAGE_SLOT:
            return reply_language(condition.get("value"))
    return REPLY_LANGUAGES[0]


# "English and Spanish", "English, Spanish, Vietnamese", "en, es", "inglés y español".
_LANGUAGE_LIST_SEPARATORS = re.compile(r"\s*(?:[,;/&]|\band\b|\by\b)\s*", re.IGNORECASE)


def spoken_languages(text: str, language: str) -> str:
    """CLINIC_LANGUAGES as patients of one reply language read it: "inglés y español".

    The setting is written in English and shown to English readers as written. For other
    languages, when every item names a language (its code, or its English or Spanish
    name), the names and the list come from Babel's locale data; other text stays as written."""
    codes = _language_codes(text) if language != REPLY_LANGUAGES[0] else None
    if not codes:
        return text
    names = Locale.parse(language).languages
    return format_list([names.get(code, code) for code in codes], locale=language)


def _language_codes(text: str) -> Optional[Tuple[str, ...]]:
    items = [item for item in _LANGUAGE_LIST_SEPARATORS.split(text.strip()) if item]
    known = _language_names()
    codes = tuple(known.get(item.casefold()) for item in items)
    return codes if codes and all(codes) else None  # type: ignore[return-value]


@lru_cache(maxsize=1)
def _language_names() -> Dict[str, str]:
    """Language name or code (casefolded) -> code, from Babel's English and Spanish names."""
    names: Dict[str, str] = {}
    for locale in REPLY_LANGUAGES:
        for code, name in Locale.parse(locale).languages.items():
            if "_" not in code:  # "en", not "en_GB" ("British English")
                names.setdefault(name.casefold(), code)
                names.setdefault(code.casefold(), code)
    return names

"""Settings read from the environment, once, validated with a clear error.

(The first of the core's settings; issue 14 moves every environment variable here.)
"""
from __future__ import annotations

import os
from functools import lru_cache


class SettingError(ValueError):
    """An environment variable with a value the assistant cannot use."""


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise SettingError(f"{name} must be above 0, got {value}")
    return value


@lru_cache(maxsize=None)
def max_message_chars() -> int:
    """MAX_MESSAGE_CHARS: longer messages are screened for red flags, then declined politely."""
    return _positive_int("MAX_MESSAGE_CHARS", 1000)

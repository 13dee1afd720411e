"""At most MAX_CONCURRENT_TURNS patient messages are processed at once per Rasa process.

The Rasa server runs every message on one event loop. A message that waits for
the action server (starting a booking makes three calls) goes to the back of the
loop's queue at every wait, behind every other message in progress: with twenty
patients typing at once, such a message took half a second while an FAQ answer
took a tenth of that (benchmarks/TUNING.md). Admitting a few messages at a time,
first come first served, keeps the processor busy during those waits while the
other messages queue in arrival order, so no kind of message is starved.
"""
from __future__ import annotations

import asyncio
import os
from typing import Any, Dict, List, Optional

from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor

DEFAULT_MAX_CONCURRENT_TURNS = 4
_original_handle_message = MessageProcessor.handle_message
_gates: Dict[int, asyncio.Semaphore] = {}


def max_concurrent_turns() -> int:
    """MAX_CONCURRENT_TURNS from the environment (README, Configuration); at least 1."""
    try:
        return max(1, int(os.environ.get("MAX_CONCURRENT_TURNS", DEFAULT_MAX_CONCURRENT_TURNS)))
    except ValueError:
        return DEFAULT_MAX_CONCURRENT_TURNS


def gate() -> asyncio.Semaphore:
    """The running event loop's semaphore (Sanic has one loop per process)."""
    loop = asyncio.get_running_loop()
    if id(loop) not in _gates:
        _gates.clear()  # a new loop (tests start several): the old one's semaphore is useless
        _gates[id(loop)] = asyncio.Semaphore(max_concurrent_turns())
    return _gates[id(loop)]


async def handle_message_in_turn(self: MessageProcessor, message: UserMessage) -> Optional[List[Dict[str, Any]]]:
    async with gate():
        return await _original_handle_message(self, message)


def install() -> None:
    """Idempotent: every channel's messages go through MessageProcessor.handle_message."""
    MessageProcessor.handle_message = handle_message_in_turn  # type: ignore[method-assign]

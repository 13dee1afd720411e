"""Patient messages take turns on the Rasa server's event loop, first come first served.

The Rasa server runs every message on one event loop. A message that waits for
the action server (starting a booking makes three calls) went to the back of the
loop's queue at every wait, behind every other message in progress: with twenty
patients typing at once it took half a second while an FAQ answer took a tenth
of that (benchmarks/TUNING.md).

Here at most MAX_CONCURRENT_TURNS messages are being processed at once; the
others wait in arrival order, so the loop only ever juggles a few. A message
keeps its place while it waits for an HTTP endpoint (the action server, a
callback URL) that answers at once, as the action server does; a call that takes
longer than SLOW_CALL_SECONDS gives the place up, so a slow or stuck action
server never holds up anyone else (an emergency reply included), and the
message gets the next free place before any new one when its answer is back.
"""
from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from typing import Any, Deque, Dict, List, Optional

from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.utils.endpoints import EndpointConfig

from clinic.settings import max_concurrent_turns

SLOW_CALL_SECONDS = 0.05  # the action server answers in 1-3 ms when it is well
_original_handle_message = MessageProcessor.handle_message
_original_request = EndpointConfig.request
_holds_place: contextvars.ContextVar[bool] = contextvars.ContextVar("holds_turn_place", default=False)


class TurnGate:
    """A semaphore with two queues: messages coming back from a wait go before new ones."""

    def __init__(self, places: int) -> None:
        self.free = places
        self.returning: Deque[asyncio.Future] = deque()
        self.arriving: Deque[asyncio.Future] = deque()

    async def enter(self, returning: bool = False) -> None:
        if self.free > 0 and not self.returning and (returning or not self.arriving):
            self.free -= 1
            return
        place: asyncio.Future = asyncio.get_running_loop().create_future()
        (self.returning if returning else self.arriving).append(place)
        try:
            await place
        except asyncio.CancelledError:
            if place.done() and not place.cancelled():
                self.leave()  # the place was handed over just as the wait was cancelled
            else:
                (self.returning if returning else self.arriving).remove(place)
            raise

    def leave(self) -> None:
        """Hand the place to the first waiter (returning ones first), else free it."""
        for queue in (self.returning, self.arriving):
            while queue:
                place = queue.popleft()
                if not place.done():
                    place.set_result(None)
                    return
        self.free += 1


_gates: Dict[int, TurnGate] = {}


def gate() -> TurnGate:
    """The running event loop's gate (Sanic has one loop per process)."""
    loop = asyncio.get_running_loop()
    if id(loop) not in _gates:
        _gates.clear()  # a new loop (tests start several): the old gate is of no use
        _gates[id(loop)] = TurnGate(max_concurrent_turns())
    return _gates[id(loop)]


async def handle_message_in_turn(self: MessageProcessor, message: UserMessage) -> Optional[List[Dict[str, Any]]]:
    turns = gate()
    await turns.enter()
    holding = _holds_place.set(True)
    try:
        return await _original_handle_message(self, message)
    finally:
        if _holds_place.get():  # not when cancelled while waiting to come back
            turns.leave()
        _holds_place.reset(holding)


async def request_in_turn(self: EndpointConfig, *args: Any, **kwargs: Any) -> Any:
    """An HTTP call to an endpoint; after SLOW_CALL_SECONDS the message gives its place up."""
    if not _holds_place.get():
        return await _original_request(self, *args, **kwargs)
    call = asyncio.ensure_future(_original_request(self, *args, **kwargs))
    try:
        await asyncio.wait({call}, timeout=SLOW_CALL_SECONDS)
    except asyncio.CancelledError:
        call.cancel()
        raise
    if call.done():
        return call.result()
    turns = gate()
    turns.leave()
    _holds_place.set(False)
    try:
        return await call  # cancelling this message cancels the call too
    finally:
        await turns.enter(returning=True)
        _holds_place.set(True)


def install() -> None:
    """Every channel's messages go through MessageProcessor.handle_message,
    every call to the action server through EndpointConfig.request."""
    MessageProcessor.handle_message = handle_message_in_turn  # type: ignore[method-assign]
    EndpointConfig.request = request_in_turn  # type: ignore[method-assign]


def uninstall() -> None:
    MessageProcessor.handle_message = _original_handle_message  # type: ignore[method-assign]
    EndpointConfig.request = _original_request  # type: ignore[method-assign]

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

Fairness between conversations (issue 18), the policy in full:
- A conversation's messages start one after another, each only once the one before is
  answered and then behind the messages other conversations sent meanwhile
  (`ConversationAdmission.take_turn`): when N conversations have messages waiting, each
  gets one turn in N, however many messages it sent. A conversation is what a client is
  to Rasa: a REST `sender`, a socket.io session, a phone number (SMS, WhatsApp).
- At most ADMISSION_MESSAGES_PER_CONVERSATION (3) messages of one conversation are in the
  server at once (answered or waiting for Rasa's lock). A message arriving beyond that
  is not processed: it gets the response `utter_please_wait` (domain/admission.yml, in the
  conversation's language) at once, on its own channel, and is not written to the
  conversation. A patient who waits for each answer, or sends two or three messages
  quickly, is never refused; a script with many requests in flight is.
- A message that reads as a red flag, alone or read on from the conversation's latest
  message, is always admitted and answered, beyond the limit too.
"""
from __future__ import annotations

import asyncio
import contextvars
from collections import deque
import logging
from typing import Any, Awaitable, Callable, Deque, Dict, List, Optional, TypeVar

from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from clinic.red_flags import Outcome, shared_screen
from clinic.settings import admission_messages_per_conversation, max_concurrent_turns

logger = logging.getLogger(__name__)
T = TypeVar("T")
PLEASE_WAIT = "utter_please_wait"  # domain/admission.yml
# How long a message lets the event loop read requests already sent before its turn starts
# (handle_message_admitted): parsing one takes about 0.1 ms, an FAQ turn 10-20 ms.
ARRIVAL_WAIT_SECONDS = 0.001

SLOW_CALL_SECONDS = 0.05  # the action server answers in 1-3 ms when it is well
_original_handle_message = MessageProcessor.handle_message
_original_agent_handle_message = Agent.handle_message
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


class ConversationAdmission:
    """How many messages of each conversation are in the server (up to `limit` admitted at
    once), and the order their turns start in.

    A message waits until the conversation's previous one is answered, then for
    ARRIVAL_WAIT_SECONDS, so it goes behind the messages other conversations sent
    meanwhile: conversations with messages waiting take turns one message each, round
    robin, however many messages each has sent. Only conversations with a message in the
    server are remembered, so memory is bounded by the messages in flight."""

    def __init__(self, limit: int, arrival_wait: float = 0.001) -> None:
        self.limit = limit
        self.arrival_wait = arrival_wait
        self.in_server: Dict[str, int] = {}
        self.latest: Dict[str, asyncio.Future] = {}  # each conversation's latest message: answered?

    def try_enter(self, conversation: str, urgent: bool = False) -> bool:
        """Admit one message of `conversation` if it is under the limit, or `urgent` (a red flag)."""
        if self.in_server.get(conversation, 0) >= self.limit and not urgent:
            return False
        self.in_server[conversation] = self.in_server.get(conversation, 0) + 1
        return True

    def is_full(self, conversation: str) -> bool:
        return self.in_server.get(conversation, 0) >= self.limit

    def leave(self, conversation: str) -> None:
        left = self.in_server.get(conversation, 0) - 1
        if left > 0:
            self.in_server[conversation] = left
        else:
            self.in_server.pop(conversation, None)

    async def take_turn(self, conversation: str, turn: Callable[[], Awaitable[T]], urgent: bool = False) -> T:
        """Run an admitted message's `turn` when its place in the round comes; a red flag
        does not wait for the conversation's earlier messages."""
        previous = self.latest.get(conversation)
        answered: asyncio.Future = asyncio.get_running_loop().create_future()
        self.latest[conversation] = answered
        try:
            if previous is not None and not urgent:
                await asyncio.shield(previous)
            # Also lets the event loop read requests already sent: a turn that never waits
            # on I/O (an FAQ answer) would otherwise run as soon as its request is read, so
            # requests in flight would be neither counted nor queued (8 streams on one
            # conversation took 8 turns in 18 beside ten patients).
            await asyncio.sleep(self.arrival_wait)
            return await turn()
        finally:
            answered.set_result(None)
            if self.latest.get(conversation) is answered:
                del self.latest[conversation]
            self.leave(conversation)


_admissions: Dict[int, ConversationAdmission] = {}


def admission() -> ConversationAdmission:
    """The running event loop's count of messages per conversation."""
    loop = asyncio.get_running_loop()
    if id(loop) not in _admissions:
        _admissions.clear()
        _admissions[id(loop)] = ConversationAdmission(admission_messages_per_conversation(), ARRIVAL_WAIT_SECONDS)
    return _admissions[id(loop)]


def reads_as_red_flag(text: Optional[str], latest: Optional[str]) -> bool:
    """The red-flag screen's verdict on a message, read on from the conversation's latest one
    (a red flag split over two messages: "my left calf" / "is swollen and hot")."""
    if not text or text.startswith("/"):
        return False
    outcome = shared_screen().screen_turns(latest, text).outcome
    return outcome in (Outcome.EMERGENCY, Outcome.SAFETY_NET)


def kept_tracker(agent: Agent, sender_id: str) -> DialogueStateTracker:
    """The conversation as the tracker store keeps it in memory, for its language and latest
    message, without a database read (addons.stores); else a new tracker (English)."""
    peek = getattr(agent.tracker_store, "peek", None)
    kept = peek(sender_id) if peek is not None else None
    return kept if kept is not None else DialogueStateTracker(sender_id, agent.domain.slots)


async def ask_to_wait(agent: Agent, message: UserMessage, tracker: DialogueStateTracker) -> Optional[List[Dict[str, Any]]]:
    """utter_please_wait on the message's own channel, as a response action would send it."""
    channel = message.output_channel
    reply = await agent.processor.nlg.generate(PLEASE_WAIT, tracker, channel.name())
    await channel.send_response(message.sender_id, reply)
    return channel.messages if isinstance(channel, CollectingOutputChannel) else None


async def handle_message_admitted(self: Agent, message: UserMessage) -> Optional[List[Dict[str, Any]]]:
    """Rasa's Agent.handle_message (lock, then the processor) for a message admitted by the
    policy above; a message beyond its conversation's limit is asked to wait instead."""
    if not self.is_ready():
        return await _original_agent_handle_message(self, message)
    conversation = message.sender_id
    admitted = admission()
    urgent = False
    if admitted.is_full(conversation):
        tracker = kept_tracker(self, conversation)
        if PLEASE_WAIT not in self.domain.responses:  # a model trained without domain/admission.yml
            logger.error("The model's domain has no response %s: messages beyond the limit are answered.", PLEASE_WAIT)
        elif not reads_as_red_flag(message.text, tracker.latest_message.text if tracker.latest_message else None):
            logger.debug("Conversation %s has %d messages in the server: asked to wait.", conversation, admitted.limit)
            return await ask_to_wait(self, message, tracker)
        urgent = True
    admitted.try_enter(conversation, urgent=urgent)
    return await admitted.take_turn(conversation, lambda: _original_agent_handle_message(self, message), urgent)


def install() -> None:
    """Every channel's messages go through Agent.handle_message and then
    MessageProcessor.handle_message, every call to the action server through EndpointConfig.request."""
    Agent.handle_message = handle_message_admitted  # type: ignore[method-assign]
    MessageProcessor.handle_message = handle_message_in_turn  # type: ignore[method-assign]
    EndpointConfig.request = request_in_turn  # type: ignore[method-assign]


def uninstall() -> None:
    Agent.handle_message = _original_agent_handle_message  # type: ignore[method-assign]
    MessageProcessor.handle_message = _original_handle_message  # type: ignore[method-assign]
    EndpointConfig.request = _original_request  # type: ignore[method-assign]

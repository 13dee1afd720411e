"""addons/patches/admission.py: messages take turns in arrival order; a slow endpoint holds up no one."""
from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, List, Tuple

import pytest
from rasa.utils.endpoints import EndpointConfig

from addons.patches import admission
from addons.patches.admission import TurnGate


def run(coroutine):
    return asyncio.run(coroutine)


def test_at_most_places_turns_run_and_the_rest_go_in_arrival_order() -> None:
    async def scenario() -> List[Any]:
        turns, log, running = TurnGate(2), [], []

        async def message(name: str) -> None:
            await turns.enter()
            running.append(name)
            log.append((name, len(running)))
            await asyncio.sleep(0.01)
            running.remove(name)
            turns.leave()

        await asyncio.gather(*(message(f"m{i}") for i in range(6)))
        return log

    log = run(scenario())
    assert [name for name, _ in log] == [f"m{i}" for i in range(6)]
    assert max(count for _, count in log) == 2


def test_a_message_coming_back_goes_before_new_ones() -> None:
    async def scenario() -> List[str]:
        turns, order = TurnGate(1), []
        await turns.enter()  # someone is running
        waiting_new = asyncio.ensure_future(turns.enter())
        await asyncio.sleep(0)
        coming_back = asyncio.ensure_future(turns.enter(returning=True))
        await asyncio.sleep(0)
        waiting_new.add_done_callback(lambda _: order.append("new"))
        coming_back.add_done_callback(lambda _: order.append("returning"))
        turns.leave()
        await coming_back
        turns.leave()
        await waiting_new
        return order

    assert run(scenario()) == ["returning", "new"]


def test_a_cancelled_wait_neither_keeps_nor_loses_a_place() -> None:
    async def scenario() -> int:
        turns = TurnGate(1)
        await turns.enter()
        doomed = asyncio.ensure_future(turns.enter())
        await asyncio.sleep(0)
        doomed.cancel()
        with pytest.raises(asyncio.CancelledError):
            await doomed
        turns.leave()
        return turns.free

    assert run(scenario()) == 1


def test_a_place_handed_to_a_cancelled_waiter_passes_on() -> None:
    async def scenario() -> bool:
        turns = TurnGate(1)
        await turns.enter()
        first = asyncio.ensure_future(turns.enter())
        second = asyncio.ensure_future(turns.enter())
        await asyncio.sleep(0)
        turns.leave()  # hands the place to `first` ...
        first.cancel()  # ... which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await first
        await asyncio.wait_for(second, 1)  # the place went on to `second`
        return turns.free == 0

    assert run(scenario())


class FakeEndpoint(EndpointConfig):
    """An endpoint whose answer takes `delay` seconds (no network needed for the gate's logic)."""

    def __init__(self, delay: float) -> None:
        super().__init__(url="http://127.0.0.1:9")
        self.delay = delay


@pytest.fixture()
def slow_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    async def answer(self: FakeEndpoint, *args: Any, **kwargs: Any) -> dict:
        await asyncio.sleep(self.delay)
        return {"events": []}

    monkeypatch.setattr(admission, "_original_request", answer)


def booking_and_another(call_seconds: float, other: str) -> List[str]:
    """A booking holds the only place and calls an endpoint taking `call_seconds`; another
    message arrives meanwhile. The order in which the two are answered."""
    async def scenario() -> List[str]:
        admission._gates.clear()
        turns, order = admission.gate(), []
        turns.free = 1

        async def booking() -> None:
            await turns.enter()
            token = admission._holds_place.set(True)
            await admission.request_in_turn(FakeEndpoint(delay=call_seconds))
            order.append("booking answered")
            admission._holds_place.reset(token)
            turns.leave()

        async def another() -> None:
            await asyncio.sleep(0.01 if call_seconds > 0.1 else 0)
            await turns.enter()
            order.append(f"{other} answered")
            turns.leave()

        await asyncio.wait_for(asyncio.gather(booking(), another()), 2)
        return order

    return run(scenario())


def test_a_slow_endpoint_call_gives_the_place_up(slow_requests: None) -> None:
    assert booking_and_another(0.3, "emergency") == ["emergency answered", "booking answered"]


def test_a_fast_endpoint_call_keeps_the_place(slow_requests: None) -> None:
    assert booking_and_another(0.001, "faq") == ["booking answered", "faq answered"]


def test_calls_outside_a_turn_are_untouched(slow_requests: None) -> None:
    async def scenario() -> dict:
        admission._gates.clear()
        return await admission.request_in_turn(FakeEndpoint(delay=0.0))

    assert run(scenario()) == {"events": []}
    assert admission._holds_place.get() is False


# --- fairness between conversations (issue 18) ----------------------------------------------

def test_a_conversation_has_at_most_its_limit_of_messages_in_the_server() -> None:
    admitted = admission.ConversationAdmission(3)
    assert [admitted.try_enter("flood") for _ in range(5)] == [True, True, True, False, False]
    assert admitted.try_enter("patient"), "another conversation is not held back by the flood"
    admitted.leave("flood")
    assert admitted.try_enter("flood"), "a message that left makes room for the next"
    assert not admitted.try_enter("flood")


def test_a_red_flag_is_admitted_beyond_the_limit() -> None:
    admitted = admission.ConversationAdmission(1)
    assert admitted.try_enter("flood")
    assert not admitted.try_enter("flood")
    assert admitted.try_enter("flood", urgent=True)
    assert admitted.in_server["flood"] == 2


def test_only_conversations_with_messages_in_the_server_are_remembered() -> None:
    admitted = admission.ConversationAdmission(2)
    for number in range(100):
        assert admitted.try_enter(f"c{number}")
        admitted.leave(f"c{number}")
    assert admitted.in_server == {}


@pytest.mark.parametrize("latest, text, urgent", [
    (None, "my chest hurts and I can't breathe", True),
    ("my left calf", "is really swollen and hot", True),  # a red flag split over two messages
    ("la pierna izquierda", "la tengo hinchada y caliente", True),
    ("what are spider veins?", "does it hurt?", False),
    (None, "/book_appointment", False),
    (None, "", False),
])
def test_what_reads_as_a_red_flag_when_a_conversation_is_full(latest: Any, text: str, urgent: bool) -> None:
    assert admission.reads_as_red_flag(text, latest) is urgent


def turn_order(arrivals: List[Tuple[str, bool]]) -> List[str]:
    """The order in which turns start when `arrivals` (conversation, urgent) come in at once;
    each turn takes a little time without yielding, as an FAQ answer does."""
    async def scenario() -> List[str]:
        admitted, started = admission.ConversationAdmission(limit=10), []

        async def message(conversation: str, number: int, urgent: bool) -> None:
            async def turn() -> None:
                started.append(f"{conversation}{number}")
                time.sleep(0.002)

            assert admitted.try_enter(conversation, urgent)
            await admitted.take_turn(conversation, turn, urgent)

        counts: Dict[str, int] = {}
        messages = []
        for conversation, urgent in arrivals:
            counts[conversation] = counts.get(conversation, 0) + 1
            messages.append(message(conversation, counts[conversation], urgent))
        await asyncio.gather(*messages)
        assert admitted.in_server == {} and admitted.latest == {}
        return started

    return run(scenario())


def test_conversations_with_messages_waiting_take_turns_round_robin() -> None:
    flood = [("flood", False)] * 4
    order = turn_order([*flood, ("ann", False), ("bob", False), ("ann", False)])
    assert order == ["flood1", "ann1", "bob1", "flood2", "ann2", "flood3", "flood4"]


def test_a_red_flag_does_not_wait_behind_its_conversations_earlier_messages() -> None:
    order = turn_order([("flood", False)] * 3 + [("flood", True)])
    assert order.index("flood4") < order.index("flood2")

"""addons/stores.py against a real Redis: tickets of one conversation never collide.

Several Rasa processes share the lock store; here threads with their own Redis
connections play those processes and all ask for a ticket at the same moment.
"""
from __future__ import annotations

import asyncio
import os
import threading
import uuid
from typing import Iterator, List

import pytest
import redis

from addons.stores import AtomicRedisLockStore, URLLockStore
from benchmarks.load import redis_answers
from rasa.core.lock_store import InMemoryLockStore
from rasa.utils.endpoints import EndpointConfig

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/6")
PROCESSES = 8


@pytest.fixture()
def redis_url() -> Iterator[str]:
    why_not = redis_answers(REDIS_URL)
    if why_not:
        pytest.skip(f"{why_not}; the lock store tests need Redis (it runs on CI)")
    yield REDIS_URL


def store_for(url: str) -> AtomicRedisLockStore:
    store = URLLockStore(EndpointConfig(url=url))
    assert isinstance(store, AtomicRedisLockStore)
    return store


def at_once(count: int, work) -> List[object]:
    """Run work(i) in `count` threads released together; their results in order."""
    start = threading.Barrier(count)
    results: List[object] = [None] * count

    def run(i: int) -> None:
        start.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_memory_url_gives_the_in_memory_store() -> None:
    assert isinstance(URLLockStore(EndpointConfig(url="memory")), InMemoryLockStore)
    assert isinstance(URLLockStore(None), InMemoryLockStore)


def test_simultaneous_tickets_are_all_different(redis_url: str) -> None:
    stores = [store_for(redis_url) for _ in range(PROCESSES)]
    for attempt in range(20):  # a race: one try may not hit it
        conversation = f"lock-test-{uuid.uuid4().hex}"
        tickets = at_once(PROCESSES, lambda i: stores[i].issue_ticket(conversation, 60))
        assert sorted(tickets) == list(range(PROCESSES)), f"attempt {attempt}: {tickets}"
        lock = stores[0].get_lock(conversation)
        assert lock is not None and len(lock.tickets) == PROCESSES
        at_once(PROCESSES, lambda i: stores[i].cleanup(conversation, tickets[i]))
        assert stores[0].get_lock(conversation) is None, "the key outlived its last ticket"


def test_a_finishing_turn_never_drops_a_newly_issued_ticket(redis_url: str) -> None:
    first, second = store_for(redis_url), store_for(redis_url)
    for _ in range(50):
        conversation = f"lock-test-{uuid.uuid4().hex}"
        served = first.issue_ticket(conversation, 60)
        results = at_once(2, lambda i: first.cleanup(conversation, served) if i == 0
                          else second.issue_ticket(conversation, 60))
        waiting = second.get_lock(conversation)
        assert waiting is not None and [t.number for t in waiting.tickets] == [results[1]]
        second.cleanup(conversation, results[1])


def test_turns_of_one_conversation_run_one_at_a_time(redis_url: str) -> None:
    """The lock() context manager Rasa uses around each message, from several processes."""
    inside, overlaps = [0], []
    guard = threading.Lock()

    def turn(i: int) -> None:
        async def handle() -> None:
            async with stores[i].lock(conversation, lock_lifetime=30, wait_time_in_seconds=0.01):
                with guard:
                    inside[0] += 1
                    overlaps.append(inside[0])
                await asyncio.sleep(0.05)
                with guard:
                    inside[0] -= 1

        asyncio.run(handle())

    stores = [store_for(redis_url) for _ in range(PROCESSES)]
    conversation = f"lock-test-{uuid.uuid4().hex}"
    at_once(PROCESSES, turn)
    assert len(overlaps) == PROCESSES and max(overlaps) == 1, overlaps
    assert not redis.Redis.from_url(redis_url).exists(stores[0].key_prefix + conversation)

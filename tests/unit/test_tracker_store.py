"""addons/stores.URLSQLTrackerStore: trackers kept in memory are never stale, and what it
writes is what Rasa's own SQL tracker store reads back. On SQLite and a real PostgreSQL."""
from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Iterator, List

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from addons.stores import URLSQLTrackerStore
from benchmarks.load import postgres_answers

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load([str(ROOT / "domain"), str(ROOT / "data" / "responses")])


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tracker.db'}"
        return
    why_not = postgres_answers(POSTGRES_URL)
    if why_not:
        pytest.skip(f"{why_not}; PostgreSQL runs on CI")
    yield POSTGRES_URL


def run(coroutine):  # the stores' methods are coroutines
    return asyncio.run(coroutine)


def turn(text: str, reply: str) -> List[Event]:
    return [UserUttered(text, {"name": "greet", "confidence": 1.0}), ActionExecuted("utter_greet"),
            BotUttered(reply), ActionExecuted("action_listen")]


def session_start() -> List[Event]:
    """As Rasa logs it: the action's SessionStarted is made before the action is logged."""
    started = SessionStarted()
    return [ActionExecuted("action_session_start"), started, ActionExecuted("action_listen")]


def new_conversation(store: URLSQLTrackerStore, sender: str) -> DialogueStateTracker:
    tracker = run(store.get_or_create_tracker(sender, append_action_listen=False))
    for event in [*session_start(), *turn("hi", "Hello!")]:
        tracker.update(event)
    run(store.save(tracker))
    return tracker


def stored_events(url: str, domain: Domain, sender: str) -> List[dict]:
    """Every stored event of the conversation, as Rasa's own SQL tracker store reads them."""
    tracker = run(SQLTrackerStore.retrieve_full_tracker(URLSQLTrackerStore(host=url, domain=domain), sender))
    return [e.as_dict() for e in tracker.events] if tracker else []


def without_times(events: List[dict]) -> List[dict]:
    return [{k: v for k, v in e.items() if k != "timestamp"} for e in events]


def test_saved_turns_read_back_identically_by_rasa(url: str, domain: Domain) -> None:
    store, sender = URLSQLTrackerStore(host=url, domain=domain), f"t-{uuid.uuid4().hex}"
    tracker = new_conversation(store, sender)
    for i in range(3):  # kept tracker: only the new events are written
        tracker = run(store.retrieve(sender))
        for event in [*turn(f"message {i}", f"reply {i}"), SlotSet("patient_name", f"Ann {i}")]:
            tracker.update(event)
        run(store.save(tracker))
    assert stored_events(url, domain, sender) == [e.as_dict() for e in tracker.events]


def test_a_kept_tracker_is_returned_without_rebuilding(url: str, domain: Domain) -> None:
    store, sender = URLSQLTrackerStore(host=url, domain=domain), f"t-{uuid.uuid4().hex}"
    tracker = new_conversation(store, sender)
    assert run(store.retrieve(sender)) is tracker


def test_another_process_writing_the_conversation_is_seen(url: str, domain: Domain) -> None:
    """Scale-out: two Rasa processes share the database; each sees the other's turns."""
    first, second = URLSQLTrackerStore(host=url, domain=domain), URLSQLTrackerStore(host=url, domain=domain)
    sender = f"t-{uuid.uuid4().hex}"
    new_conversation(first, sender)
    other = run(second.retrieve(sender))
    other.update(UserUttered("from the other process", {"name": "greet", "confidence": 1.0}))
    run(second.save(other))
    seen = run(first.retrieve(sender))
    assert seen.latest_message.text == "from the other process"
    # ... and the first process's next save appends after it, losing nothing.
    seen.update(ActionExecuted("action_listen"))
    run(first.save(seen))
    assert [e["event"] for e in stored_events(url, domain, sender)][-2:] == ["user", "action"]
    assert len(stored_events(url, domain, sender)) == len(seen.events)


def test_a_turn_that_failed_before_saving_is_not_kept(url: str, domain: Domain) -> None:
    store, sender = URLSQLTrackerStore(host=url, domain=domain), f"t-{uuid.uuid4().hex}"
    tracker = new_conversation(store, sender)
    tracker.update(UserUttered("never saved", {"name": "greet", "confidence": 1.0}))  # then the turn crashed
    fresh = run(store.retrieve(sender))
    assert fresh is not tracker
    assert fresh.latest_message.text == "hi"


def test_a_purged_conversation_is_gone_from_memory_too(url: str, domain: Domain) -> None:
    """The retention purge deletes rows behind the running server's back."""
    store, sender = URLSQLTrackerStore(host=url, domain=domain), f"t-{uuid.uuid4().hex}"
    new_conversation(store, sender)
    with sa.create_engine(url).begin() as connection:
        connection.execute(sa.text("DELETE FROM events WHERE sender_id = :s"), {"s": sender})
    assert run(store.retrieve(sender)) is None


def test_a_new_session_is_read_from_the_database(url: str, domain: Domain) -> None:
    """After a session restart the database returns only the new session: so does the store."""
    store, sender = URLSQLTrackerStore(host=url, domain=domain), f"t-{uuid.uuid4().hex}"
    tracker = new_conversation(store, sender)
    for event in [*session_start(), *turn("back again", "Welcome back")]:
        tracker.update(event)
    run(store.save(tracker))
    again = run(store.retrieve(sender))
    assert again is not tracker
    assert sum(isinstance(e, SessionStarted) for e in again.events) == 1
    assert again.latest_message.text == "back again"


def test_idle_conversations_leave_memory(url: str, domain: Domain) -> None:
    store, sender = URLSQLTrackerStore(host=url, domain=domain, cache_seconds=0.01), f"t-{uuid.uuid4().hex}"
    tracker = new_conversation(store, sender)
    run(asyncio.sleep(0.05))
    assert sender not in store._kept
    assert run(store.retrieve(sender)) is not tracker


def test_at_most_cache_size_conversations_are_kept(url: str, domain: Domain) -> None:
    store = URLSQLTrackerStore(host=url, domain=domain, cache_size=3)
    senders = [f"t-{uuid.uuid4().hex}" for _ in range(5)]
    trackers = [new_conversation(store, sender) for sender in senders]
    assert len(store._kept) == 3
    assert run(store.retrieve(senders[0])) is not trackers[0]  # evicted: read from the database
    assert run(store.retrieve(senders[0])).latest_message.text == "hi"
    assert run(store.retrieve(senders[4])) is trackers[4]


def test_a_long_conversation_is_kept_as_a_window(url: str, domain: Domain) -> None:
    """Past `window_events` the kept tracker loses its oldest turns; the database keeps them all."""
    store, sender = URLSQLTrackerStore(host=url, domain=domain, window_events=20), f"t-{uuid.uuid4().hex}"
    tracker = new_conversation(store, sender)
    tracker.update(SlotSet("language", "es"))
    for number in range(10):
        for event in turn(f"question {number}", f"answer {number}"):
            tracker.update(event)
        run(store.save(tracker))
        tracker = run(store.retrieve(sender))
        assert len(tracker.events) <= 20 + len(turn("", ""))
    assert tracker.latest_message.text == "question 9"
    assert tracker.get_slot("language") == "es"
    # the window replays to the same slots: the language set before the cut comes first
    assert isinstance(tracker.events[0], SlotSet) and tracker.events[0].key == "language"
    replay = tracker.init_copy()
    for event in tracker.events:
        replay.update(event)
    assert replay.get_slot("language") == "es"
    # each turn was stored once, and Rasa's own store reads the whole conversation back
    texts = [e["text"] for e in stored_events(url, domain, sender) if e["event"] == "user"]
    assert texts == ["hi", *[f"question {number}" for number in range(10)]]
    tracker.update(UserUttered("and another", {"name": "greet", "confidence": 1.0}))
    run(store.save(tracker))
    assert [e["text"] for e in stored_events(url, domain, sender) if e["event"] == "user"][-1] == "and another"


def test_a_window_is_never_cut_inside_a_form(url: str, domain: Domain) -> None:
    """Rasa folds a form's runs together back to the form's previous run: a cut between
    them would change the states the rules see, so a form's turns stay whole."""
    store, sender = URLSQLTrackerStore(host=url, domain=domain, window_events=10), f"t-{uuid.uuid4().hex}"
    tracker = new_conversation(store, sender)
    tracker.update(ActionExecuted("booking_form"))
    tracker.update(ActiveLoop("booking_form"))
    tracker.update(ActionExecuted("action_listen"))
    for number in range(6):
        for event in [UserUttered(f"answer {number}", {"name": "inform", "confidence": 1.0}),
                      ActionExecuted("booking_form"), SlotSet("requested_slot", f"slot{number}"),
                      ActionExecuted("action_listen")]:
            tracker.update(event)
        run(store.save(tracker))
        tracker = run(store.retrieve(sender))
    form_runs = [e for e in tracker.events if isinstance(e, ActionExecuted) and e.action_name == "booking_form"]
    assert len(form_runs) == 7, "the form's first run and every answer since stay in the window"
    assert any(isinstance(e, ActiveLoop) and e.name == "booking_form" for e in tracker.events)


def test_a_long_conversation_read_from_the_database_is_kept_as_a_window(url: str, domain: Domain) -> None:
    """Memory holds windows, even of a conversation first read whole from the database."""
    writer, sender = URLSQLTrackerStore(host=url, domain=domain), f"t-{uuid.uuid4().hex}"
    tracker = new_conversation(writer, sender)
    for number in range(30):
        for event in turn(f"question {number}", f"answer {number}"):
            tracker.update(event)
    run(writer.save(tracker))
    store = URLSQLTrackerStore(host=url, domain=domain, window_events=20)  # another process, nothing kept
    whole = run(store.retrieve(sender))
    assert len(whole.events) > 100
    whole.update(UserUttered("one more", {"name": "greet", "confidence": 1.0}))
    run(store.save(whole))
    assert len(store.peek(sender).events) <= 20
    assert [e["text"] for e in stored_events(url, domain, sender) if e["event"] == "user"][-2:] == \
        ["question 29", "one more"]

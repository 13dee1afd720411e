"""Tracker and lock stores configured by a single URL each.

Rasa's endpoint files want host, port, db, ... separately; operators and the
interface contract use TRACKER_STORE_URL / LOCK_STORE_URL instead.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional

from cachetools import TTLCache
from rasa.core.brokers.broker import EventBroker
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockError, LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from clinic.settings import tracker_store_url


# A kept tracker longer than this is cut back to at least half of it (window_of): 60 events
# are about ten FAQ turns (about 20 actions), and the longest of the trained rules spans 4
# actions (159 rules; 2 for the forms' unhappy paths), the red-flag policy one patient
# message back. Small, so that a message at the 300th turn costs what one at the 10th does.
DEFAULT_WINDOW_EVENTS = 120


@dataclass
class CachedTracker:
    """A tracker as this process last saved it, and how to tell that it is still current."""

    tracker: DialogueStateTracker
    saved_events: int  # len(tracker.events) when saved: more means a turn failed midway
    last_event_id: Optional[int]  # the conversation's newest row id in the database then


class URLSQLTrackerStore(SQLTrackerStore):
    """SQL tracker store for a SQLAlchemy URL (sqlite:///var/tracker.db, postgresql://...).

    Rasa's SQL store rebuilds the whole tracker from the database for every message
    (load every event, parse its JSON, replay it) and counts the stored events
    again before each save: about a quarter of the server's time per message
    (benchmarks/TUNING.md). This store keeps the trackers it saved in memory and
    writes only the new events. Before a kept tracker is used, one indexed query
    checks that the conversation's newest row in the database is still the one this
    process wrote, so another Rasa process sharing the database (scale-out), a
    retention purge, or a turn that failed before it was saved all lead back to the
    database. Kept trackers leave memory after `cache_seconds` without a message, and
    beyond `cache_size` conversations the least recently served goes first: a tracker of
    a ten-message conversation takes about 165 KB (`make soak` plateaued 330 MB above
    start-up with 2,000 kept), so the default of 200 bounds it to about 35 MB; a busier
    clinic raises `cache_size` in endpoints.yml. A conversation not kept is read from the
    database, as Rasa does.
    """

    def __init__(
        self,
        host: Optional[str] = None,
        domain: Optional[Domain] = None,
        event_broker: Optional[EventBroker] = None,
        cache_size: int = 200,
        cache_seconds: float = 900,
        window_events: int = DEFAULT_WINDOW_EVENTS,
        **_: Any,
    ) -> None:
        self.window_events = int(window_events)
        self._kept: Dict[str, CachedTracker] = TTLCache(maxsize=int(cache_size), ttl=float(cache_seconds))
        url = make_url(host or tracker_store_url())
        if url.drivername.startswith("sqlite"):
            super().__init__(domain=domain, dialect="sqlite", db=url.database, event_broker=event_broker)
            self._use_pooled_wal_engine(url)
            return
        super().__init__(
            domain=domain,
            dialect=url.drivername,
            host=url.host,
            port=url.port,
            db=url.database,
            username=url.username,
            password=url.password,
            event_broker=event_broker,
            query=dict(url.query),
        )

    def _use_pooled_wal_engine(self, url: URL) -> None:
        """Rasa opens a new SQLite connection per turn (SQLAlchemy's default for files)
        and fsyncs a rollback journal on every commit: 16-31% of the server's time under
        load (benchmarks/TUNING.md). Pooled connections and write-ahead logging keep
        committed turns durable across a crash of the process (synchronous=NORMAL: an
        operating-system crash or power cut may lose the last turns, never corrupt the file)."""
        self.engine.dispose()
        self.engine = sa.create_engine(
            url, poolclass=sa.pool.QueuePool, pool_size=4,
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        @sa.event.listens_for(self.engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    _NEWEST_EVENT = sa.text("SELECT max(id) FROM events WHERE sender_id = :sender_id")

    def _newest_event_id(self, connection: Any, sender_id: str) -> Optional[int]:
        return connection.execute(self._NEWEST_EVENT, {"sender_id": sender_id}).scalar()

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        kept = self._kept.get(sender_id)
        if kept is not None and len(kept.tracker.events) == kept.saved_events:
            with self.engine.connect() as connection:
                if self._newest_event_id(connection, sender_id) == kept.last_event_id:
                    if len(kept.tracker.events) > self.window_events:
                        kept.tracker.events = window_of(kept.tracker, self.window_events // 2)
                        kept.saved_events = len(kept.tracker.events)
                    return kept.tracker
        self._kept.pop(sender_id, None)
        return await super().retrieve(sender_id)

    def peek(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The tracker kept for a conversation, unchecked and unchanged (None if not kept): for
        a quick look at its language and latest message while a turn may be running on it
        (addons/patches/admission.py), never to process a message with."""
        kept = self._kept.get(sender_id)
        return kept.tracker if kept is not None else None

    async def save(self, tracker: DialogueStateTracker) -> None:
        kept = self._kept.pop(tracker.sender_id, None)
        if self.event_broker is not None or kept is None or kept.tracker is not tracker:
            await super().save(tracker)  # Rasa's own path: counts what is stored
            with self.engine.connect() as connection:
                newest = self._newest_event_id(connection, tracker.sender_id)
        else:
            newest = self._insert(tracker, list(tracker.events)[kept.saved_events:])
        if not self._has_later_session(tracker):
            if len(tracker.events) > self.window_events:
                # Kept in memory as a window too (the turn is over: Rasa's processor saves
                # last), so memory is bounded by `cache_size` windows, not by how long the
                # kept conversations are; one read from the database may be a whole session.
                tracker.events = window_of(tracker, self.window_events // 2)
            self._kept[tracker.sender_id] = CachedTracker(tracker, len(tracker.events), newest)

    def _insert(self, tracker: DialogueStateTracker, events: List[Any]) -> Optional[int]:
        """Writes `events` in one transaction; returns the conversation's newest row id."""
        rows = []
        for event in events:
            data = event.as_dict()
            rows.append({
                "sender_id": tracker.sender_id,
                "type_name": event.type_name,
                "timestamp": data.get("timestamp"),
                "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
                "action_name": data.get("name"),
                "data": json.dumps(data),
            })
        with self.engine.begin() as connection:
            if rows:
                connection.execute(self.SQLEvent.__table__.insert(), rows)
            return self._newest_event_id(connection, tracker.sender_id)

    @staticmethod
    def _has_later_session(tracker: DialogueStateTracker) -> bool:
        """A session started during this turn: the database now returns only the new one."""
        return sum(isinstance(event, SessionStarted) for event in tracker.events) > 1


def window_of(tracker: DialogueStateTracker, keep_events: int) -> Deque[Event]:
    """The tracker's events without its oldest turns, for the same predictions.

    The cut is made at the start of a turn (the `action_listen` before a patient's message)
    with no form or loop active, as late as leaves at least `keep_events` events: a cut
    inside a form's turns would change which of the form's runs Rasa folds together
    (`applied_events`). The slots as they were at the cut come first, as `SlotSet` events,
    so a replay of the window (Rasa's `past_states`) meets the same slot values; the
    tracker's own attributes (slots, active loop, latest message) are untouched. Rules
    look back a few turns and the red-flag policy one patient message, so they decide
    alike on the window. With no such point the events are returned whole."""
    events = list(tracker.events)
    replay = tracker.init_copy()
    cut: Optional[int] = None
    cut_slots: List[Event] = []
    latest_cut = len(events) - keep_events
    for index, event in enumerate(events):
        if index > latest_cut:
            break
        if (
            isinstance(event, ActionExecuted) and event.action_name == ACTION_LISTEN_NAME
            and index + 1 < len(events) and isinstance(events[index + 1], UserUttered)
            and not replay.active_loop_name
        ):
            cut = index
            cut_slots = [
                SlotSet(slot.name, slot.value, timestamp=event.timestamp)
                for slot in replay.slots.values() if slot.value != slot.initial_value
            ]
        replay.update(event)
    if cut is None:
        return tracker.events
    return deque([*cut_slots, *events[cut:]], tracker.events.maxlen)


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's Redis ticket lock, with every read-modify-write made atomic.

    Rasa 3.6 issues a ticket by reading the lock, appending, and writing it back,
    and finishes one the same way: two Rasa processes taking a ticket for the same
    conversation at the same moment both read an empty queue, both get ticket 0,
    and both process their message at once; one turn is then lost from the
    tracker (tests/e2e/test_scale_out.py showed it). Here each change runs in a
    WATCH/MULTI/EXEC transaction that Redis aborts, and redis-py retries, when
    another process changed the lock in between.
    """

    def _change(self, conversation_id: str, change: Callable[[TicketLock], Any]) -> Any:
        """Apply `change` to the stored lock atomically; returns what `change` returned.

        An empty queue afterwards deletes the key (Rasa's cleanup, without its race)."""
        key = self.key_prefix + conversation_id

        def transaction(pipe: Any) -> Any:
            stored = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(stored)) if stored else TicketLock(conversation_id)
            result = change(lock)
            pipe.multi()
            if lock.is_someone_waiting():
                pipe.set(key, lock.dumps())
            else:
                pipe.delete(key)
            return result

        return self.red.transaction(transaction, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return self._change(conversation_id, lambda lock: lock.issue_ticket(lock_lifetime))
        except Exception as error:  # Rasa's contract: any failure here is a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        self._change(conversation_id, lambda lock: lock.remove_expired_tickets())

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._change(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number))

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # finish_serving already deletes the key when no one else waits.
        self.finish_serving(conversation_id, ticket_number)


class URLLockStore:
    """Lock store factory: (atomic) Redis for redis://host:port/db, in-memory for "memory".

    Rasa instantiates the configured class with the endpoint config; __new__
    returns the matching Rasa lock store itself.
    """

    def __new__(cls, endpoint_config: Optional[EndpointConfig] = None) -> LockStore:  # type: ignore[misc]
        raw = endpoint_config.url if endpoint_config else None
        if not raw or raw == "memory":
            return InMemoryLockStore()
        url = make_url(raw)
        return AtomicRedisLockStore(
            host=url.host or "localhost",
            port=url.port or 6379,
            db=int(url.database or 0),
            password=url.password,
            key_prefix=endpoint_config.kwargs.get("key_prefix") if endpoint_config else None,
        )

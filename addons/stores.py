"""Tracker and lock stores configured by a single URL each.

Rasa's endpoint files want host, port, db, ... separately; operators and the
interface contract use TRACKER_STORE_URL / LOCK_STORE_URL instead.
"""
from __future__ import annotations

from typing import Any, Optional

from rasa.core.brokers.broker import EventBroker
from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.engine import make_url

from actions.clinic import tracker_store_url


class URLSQLTrackerStore(SQLTrackerStore):
    """SQL tracker store for a SQLAlchemy URL (sqlite:///var/tracker.db, postgresql://...)."""

    def __init__(
        self,
        host: Optional[str] = None,
        domain: Optional[Domain] = None,
        event_broker: Optional[EventBroker] = None,
        **_: Any,
    ) -> None:
        url = make_url(host or tracker_store_url())
        if url.drivername.startswith("sqlite"):
            super().__init__(domain=domain, dialect="sqlite", db=url.database, event_broker=event_broker)
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


class URLLockStore:
    """Lock store factory: Redis for redis://host:port/db, in-memory for "memory".

    Rasa instantiates the configured class with the endpoint config; __new__
    returns the matching Rasa lock store itself.
    """

    def __new__(cls, endpoint_config: Optional[EndpointConfig] = None) -> LockStore:  # type: ignore[misc]
        raw = endpoint_config.url if endpoint_config else None
        if not raw or raw == "memory":
            return InMemoryLockStore()
        url = make_url(raw)
        return RedisLockStore(
            host=url.host or "localhost",
            port=url.port or 6379,
            db=int(url.database or 0),
            password=url.password,
            key_prefix=endpoint_config.kwargs.get("key_prefix") if endpoint_config else None,
        )

"""Durable store for booking and call-back requests, with a transactional outbox.

A request and its outbox row are written in one transaction: once the patient
is given a reference, the request exists and the delivery worker
(actions/delivery.py) will send it. The outbox row carries the delivery state:

    pending ──2xx──► delivered (final)
       │  └─timeout / connection error / 5xx──► pending again, later (backoff)
       └─4xx──► dead (reason kept; `python -m staff retry REF` makes it pending)

Workers claim due rows with a lease (plus FOR UPDATE SKIP LOCKED on PostgreSQL),
so several workers never send the same row at the same time.

SQLite (default, var/requests.db) or PostgreSQL, chosen by DATABASE_URL. The
schema is managed by Alembic (migrations/); `python -m clinic.store migrate`
brings a database to the newest revision.
"""
from __future__ import annotations

import enum
import secrets
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import sqlalchemy as sa
from sqlalchemy import event, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, declarative_base, relationship

from clinic.settings import PROJECT_ROOT, database_url

# --- Values ---------------------------------------------------------------------------


class RequestKind(str, enum.Enum):
    BOOKING = "booking"
    CALLBACK = "callback"
    URGENT_CALLBACK = "urgent_callback"


class DeliveryState(str, enum.Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True)
class NewRequest:
    """What the conversation collected; contact details only with the patient's consent."""

    kind: RequestKind
    conversation_id: str
    channel: str  # input channel name, e.g. "rest", "socketio", "twilio"
    # Personal data stays out of repr(), so a logged request never shows it.
    full_name: Optional[str] = field(default=None, repr=False)
    phone: Optional[str] = field(default=None, repr=False)  # E.164
    email: Optional[str] = field(default=None, repr=False)
    contact_method: Optional[str] = None  # "phone" | "email" | "sms"
    requested_start: Optional[datetime] = None  # tz-aware
    requested_end: Optional[datetime] = None
    preferred_time_text: Optional[str] = field(default=None, repr=False)  # what the patient wrote
    reason: Optional[str] = None  # spider_vein_consultation | sclerotherapy_treatment | follow_up | other
    consent_version: Optional[str] = None
    patient_message: Optional[str] = field(default=None, repr=False)  # urgent call-backs only: the patient's own words


@dataclass(frozen=True)
class SavedRequest:
    id: str  # UUID; also the Standard Webhooks webhook-id
    reference: str  # short code the patient quotes, e.g. "VC-7K3Q9P"


@dataclass(frozen=True)
class StoredRequest:
    """A request as stored, with its delivery state (for the worker and staff)."""

    id: str
    reference: str
    kind: RequestKind
    conversation_id: str
    channel: str
    full_name: Optional[str] = field(repr=False)
    phone: Optional[str] = field(repr=False)
    email: Optional[str] = field(repr=False)
    contact_method: Optional[str]
    requested_start: Optional[datetime]
    requested_end: Optional[datetime]
    preferred_time_text: Optional[str] = field(repr=False)
    reason: Optional[str]
    consent_version: Optional[str]
    patient_message: Optional[str] = field(repr=False)
    created_at: datetime
    state: DeliveryState
    attempts: int
    next_attempt_at: Optional[datetime]
    last_status: Optional[int]
    last_error: Optional[str]
    delivered_at: Optional[datetime]


class StoreUnavailable(Exception):
    """The database cannot be reached or the write failed; nothing was stored."""


# Crockford-like alphabet without 0/O, 1/I/L and U: easy to read out on the phone.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_PREFIX = "VC-"
REFERENCE_LENGTH = 6
_REFERENCE_TRIES = 5
MAX_ERROR_CHARS = 500


def new_reference() -> str:
    return REFERENCE_PREFIX + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --- Schema ---------------------------------------------------------------------------


class UTCDateTime(sa.types.TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no time zones) as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: times must carry a time zone")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


Base = declarative_base()


class RequestRow(Base):
    __tablename__ = "requests"
    __table_args__ = (sa.UniqueConstraint("reference", name="uq_requests_reference"),)

    id = sa.Column(sa.String(36), primary_key=True)
    reference = sa.Column(sa.String(16), nullable=False)
    kind = sa.Column(sa.String(32), nullable=False)
    conversation_id = sa.Column(sa.String(255), nullable=False, index=True)
    channel = sa.Column(sa.String(64), nullable=False)
    full_name = sa.Column(sa.String(255))
    phone = sa.Column(sa.String(32))
    email = sa.Column(sa.String(320))
    contact_method = sa.Column(sa.String(32))
    requested_start = sa.Column(UTCDateTime())
    requested_end = sa.Column(UTCDateTime())
    preferred_time_text = sa.Column(sa.Text)
    reason = sa.Column(sa.String(64))
    consent_version = sa.Column(sa.String(64))
    patient_message = sa.Column(sa.Text)
    created_at = sa.Column(UTCDateTime(), nullable=False, index=True)

    outbox = relationship("OutboxRow", uselist=False, back_populates="request", lazy="joined")


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (sa.CheckConstraint("state IN ('pending', 'delivered', 'dead')", name="ck_outbox_state"),)

    request_id = sa.Column(
        sa.String(36), sa.ForeignKey("requests.id", ondelete="CASCADE", name="fk_outbox_request"),
        primary_key=True,
    )
    state = sa.Column(sa.String(16), nullable=False, index=True)
    attempts = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    next_attempt_at = sa.Column(UTCDateTime(), nullable=False, index=True)
    lease_owner = sa.Column(sa.String(64))
    lease_until = sa.Column(UTCDateTime())
    last_status = sa.Column(sa.Integer)
    last_error = sa.Column(sa.Text)
    delivered_at = sa.Column(UTCDateTime())
    updated_at = sa.Column(UTCDateTime(), nullable=False)

    request = relationship("RequestRow", back_populates="outbox")


class OptOutRow(Base):
    """SMS/WhatsApp addresses that sent STOP; kept until START (not purged: the law wants it honoured)."""

    __tablename__ = "sms_opt_outs"

    address = sa.Column(sa.String(64), primary_key=True)
    opted_out = sa.Column(sa.Boolean, nullable=False)
    updated_at = sa.Column(UTCDateTime(), nullable=False)


# --- Engine ---------------------------------------------------------------------------

SQLITE_BUSY_TIMEOUT_S = 30
PG_CONNECT_TIMEOUT_S = 5


def engine(url: Optional[str] = None) -> Engine:
    """The engine for `url`, default DATABASE_URL as it is now (tests change it)."""
    return _engine(url or database_url())


@lru_cache(maxsize=None)
def _engine(url: str) -> Engine:
    """One engine per URL and process; SQLite waits for the other process's lock instead of failing."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            try:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError:
                pass  # connecting will fail, and callers get StoreUnavailable
        created = sa.create_engine(url, future=True, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        event.listen(created, "connect", _sqlite_pragmas)
        return created
    connect_args = {"connect_timeout": PG_CONNECT_TIMEOUT_S} if parsed.get_backend_name() == "postgresql" else {}
    return sa.create_engine(url, future=True, pool_pre_ping=True, connect_args=connect_args)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL lets the worker read while the action server writes; foreign keys make purges cascade.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _session(url: Optional[str]) -> Session:
    return Session(engine(url), future=True, expire_on_commit=False)


def migrate(url: Optional[str] = None) -> None:
    """Alembic upgrade to head, in-process (used by ops/stack.py and the tests)."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["skip_logging_config"] = True  # keep the host process's logging as it is
    with engine(url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


# --- Requests -------------------------------------------------------------------------


def save_request(new: NewRequest, url: Optional[str] = None) -> SavedRequest:
    """Store the request and its outbox row in one transaction; StoreUnavailable if not both."""
    for _ in range(_REFERENCE_TRIES):
        saved = SavedRequest(id=str(uuid.uuid4()), reference=new_reference())
        try:
            _insert(new, saved, url)
            return saved
        except IntegrityError as error:
            if "reference" not in str(error.orig).lower():
                raise StoreUnavailable(type(error).__name__) from error
            # a reference collision (one in hundreds of millions): draw another
        except SQLAlchemyError as error:
            raise StoreUnavailable(type(error).__name__) from error
    raise StoreUnavailable("no free reference")


def _insert(new: NewRequest, saved: SavedRequest, url: Optional[str]) -> None:
    now = utcnow()
    with _session(url) as session, session.begin():
        session.add(RequestRow(
            id=saved.id,
            reference=saved.reference,
            kind=RequestKind(new.kind).value,
            conversation_id=new.conversation_id,
            channel=new.channel,
            full_name=new.full_name,
            phone=new.phone,
            email=new.email,
            contact_method=new.contact_method,
            requested_start=new.requested_start,
            requested_end=new.requested_end,
            preferred_time_text=new.preferred_time_text,
            reason=new.reason,
            consent_version=new.consent_version,
            patient_message=new.patient_message,
            created_at=now,
        ))
        session.flush()  # the request first, so the outbox row's foreign key holds
        session.add(OutboxRow(
            request_id=saved.id, state=DeliveryState.PENDING.value, attempts=0,
            next_attempt_at=now, updated_at=now,
        ))


def _stored(row: RequestRow) -> StoredRequest:
    box = row.outbox
    return StoredRequest(
        id=row.id, reference=row.reference, kind=RequestKind(row.kind),
        conversation_id=row.conversation_id, channel=row.channel,
        full_name=row.full_name, phone=row.phone, email=row.email,
        contact_method=row.contact_method,
        requested_start=row.requested_start, requested_end=row.requested_end,
        preferred_time_text=row.preferred_time_text, reason=row.reason,
        consent_version=row.consent_version, patient_message=row.patient_message,
        created_at=row.created_at,
        state=DeliveryState(box.state) if box else DeliveryState.DEAD,
        attempts=box.attempts if box else 0,
        next_attempt_at=box.next_attempt_at if box else None,
        last_status=box.last_status if box else None,
        last_error=box.last_error if box else "no outbox row",
        delivered_at=box.delivered_at if box else None,
    )


def get_request(reference_or_id: str, url: Optional[str] = None) -> Optional[StoredRequest]:
    """One request by its reference (case-insensitive) or id."""
    key = reference_or_id.strip()
    with _session(url) as session:
        row = session.execute(
            select(RequestRow).where(sa.or_(RequestRow.reference == key.upper(), RequestRow.id == key))
        ).unique().scalar_one_or_none()
        return _stored(row) if row else None


def list_requests(
    state: Optional[DeliveryState] = None, limit: Optional[int] = None, url: Optional[str] = None,
    kinds: Optional[List[RequestKind]] = None,
) -> List[StoredRequest]:
    """Newest first, optionally only those in one delivery state, or of some kinds."""
    query = select(RequestRow).join(OutboxRow).order_by(RequestRow.created_at.desc(), RequestRow.id)
    if state is not None:
        query = query.where(OutboxRow.state == DeliveryState(state).value)
    if kinds is not None:
        query = query.where(RequestRow.kind.in_([RequestKind(kind).value for kind in kinds]))
    if limit is not None:
        query = query.limit(limit)
    with _session(url) as session:
        return [_stored(row) for row in session.execute(query).unique().scalars()]


def count_by_state(url: Optional[str] = None) -> Dict[str, int]:
    with _session(url) as session:
        rows = session.execute(select(OutboxRow.state, sa.func.count()).group_by(OutboxRow.state))
        return {state: count for state, count in rows}


# --- Outbox (delivery worker) ---------------------------------------------------------


def claim_due(
    worker: str, lease_seconds: float, limit: int = 1, url: Optional[str] = None,
    now: Optional[datetime] = None,
) -> List[StoredRequest]:
    """Lease up to `limit` due pending rows to `worker` for `lease_seconds`.

    The conditional UPDATE is what makes a claim exclusive (on SQLite, writes are
    serialised and the loser matches no row); SKIP LOCKED on PostgreSQL only keeps
    concurrent workers from waiting on each other's candidates.
    """
    now = now or utcnow()
    until = now + timedelta(seconds=lease_seconds)
    due = sa.and_(
        OutboxRow.state == DeliveryState.PENDING.value,
        OutboxRow.next_attempt_at <= now,
        sa.or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until < now),
    )
    claimed: List[str] = []
    with _session(url) as session, session.begin():
        candidates = session.execute(
            select(OutboxRow.request_id).where(due).order_by(OutboxRow.next_attempt_at)
            .limit(limit).with_for_update(skip_locked=True)
        ).scalars().all()
        for request_id in candidates:
            result = session.execute(
                sa.update(OutboxRow).where(OutboxRow.request_id == request_id, due)
                .values(lease_owner=worker, lease_until=until, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                claimed.append(request_id)
    if not claimed:
        return []
    with _session(url) as session:
        rows = session.execute(select(RequestRow).where(RequestRow.id.in_(claimed))).unique().scalars()
        return sorted((_stored(row) for row in rows), key=lambda r: claimed.index(r.id))


def _finish(request_id: str, worker: str, url: Optional[str], **values: Any) -> bool:
    """Update a row this worker still holds; False if the lease was lost meanwhile."""
    now = utcnow()
    with _session(url) as session, session.begin():
        result = session.execute(
            sa.update(OutboxRow)
            .where(OutboxRow.request_id == request_id, OutboxRow.lease_owner == worker,
                   OutboxRow.state == DeliveryState.PENDING.value)
            .values(lease_owner=None, lease_until=None, updated_at=now,
                    attempts=OutboxRow.attempts + 1, **values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def mark_delivered(request_id: str, worker: str, status: int, url: Optional[str] = None) -> bool:
    return _finish(request_id, worker, url, state=DeliveryState.DELIVERED.value,
                   last_status=status, last_error=None, delivered_at=utcnow())


def mark_retry(
    request_id: str, worker: str, error: str, next_attempt_at: datetime,
    status: Optional[int] = None, url: Optional[str] = None,
) -> bool:
    return _finish(request_id, worker, url, last_status=status,
                   last_error=error[:MAX_ERROR_CHARS], next_attempt_at=next_attempt_at)


def mark_dead(request_id: str, worker: str, reason: str, status: Optional[int] = None,
              url: Optional[str] = None) -> bool:
    return _finish(request_id, worker, url, state=DeliveryState.DEAD.value,
                   last_status=status, last_error=reason[:MAX_ERROR_CHARS])


def release(request_id: str, worker: str, url: Optional[str] = None) -> None:
    """Give a claimed row back untouched (e.g. the worker stops before sending it)."""
    with _session(url) as session, session.begin():
        session.execute(
            sa.update(OutboxRow)
            .where(OutboxRow.request_id == request_id, OutboxRow.lease_owner == worker)
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )


def retry_dead(reference_or_id: str, url: Optional[str] = None) -> bool:
    """A dead letter back to pending, due now; False if there is no such dead letter."""
    found = get_request(reference_or_id, url)
    if found is None or found.state is not DeliveryState.DEAD:
        return False
    now = utcnow()
    with _session(url) as session, session.begin():
        result = session.execute(
            sa.update(OutboxRow)
            .where(OutboxRow.request_id == found.id, OutboxRow.state == DeliveryState.DEAD.value)
            .values(state=DeliveryState.PENDING.value, next_attempt_at=now, updated_at=now,
                    lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def count_requests_older_than(days: int, url: Optional[str] = None, now: Optional[datetime] = None) -> int:
    cutoff = (now or utcnow()) - timedelta(days=days)
    with _session(url) as session:
        return session.execute(
            select(sa.func.count()).select_from(RequestRow).where(RequestRow.created_at < cutoff)
        ).scalar_one()


def purge_requests(days: int, url: Optional[str] = None, now: Optional[datetime] = None) -> int:
    """Delete requests (and their outbox rows) created more than `days` days ago."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    old = select(RequestRow.id).where(RequestRow.created_at < cutoff)
    with _session(url) as session, session.begin():
        # Outbox first: the foreign key must hold even where ON DELETE CASCADE is not enforced.
        session.execute(sa.delete(OutboxRow).where(OutboxRow.request_id.in_(old))
                        .execution_options(synchronize_session=False))
        result = session.execute(sa.delete(RequestRow).where(RequestRow.created_at < cutoff)
                                 .execution_options(synchronize_session=False))
        return result.rowcount


# --- SMS / WhatsApp opt-outs -----------------------------------------------------------


def set_opted_out(address: str, opted_out: bool, url: Optional[str] = None) -> None:
    """Record STOP (True) or START (False) from an SMS/WhatsApp address."""
    try:
        with _session(url) as session, session.begin():
            session.merge(OptOutRow(address=address, opted_out=opted_out, updated_at=utcnow()))
    except SQLAlchemyError as error:
        raise StoreUnavailable(type(error).__name__) from error


def is_opted_out(address: str, url: Optional[str] = None) -> bool:
    try:
        with _session(url) as session:
            row = session.get(OptOutRow, address)
            return bool(row and row.opted_out)
    except SQLAlchemyError as error:
        raise StoreUnavailable(type(error).__name__) from error


def iter_tables() -> Iterator[str]:
    """Tables this module owns (tests compare them with the migrations)."""
    yield from Base.metadata.tables


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["migrate"]:
        print("usage: python -m clinic.store migrate", file=sys.stderr)
        return 2
    migrate()
    print("request database is at the newest schema")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Which conversation a member of staff has taken over, by whom and since when.

The state lives in the request database (DATABASE_URL, table `handovers`, migration
0003), never in a process: the staff console writes it, and every Rasa replica reads it
(addons/handover.py), so a take-over made through one replica holds on all of them.

One holder at a time: the conversation id is the table's primary key, so of two staff
members taking the same conversation at once, the database lets exactly one insert win;
the other is told who holds it. Only the holder hands it back.

Rasa asks for every prediction of a turn; `HeldConversations` keeps each answer for a
short while (HOLDER_CACHE_SECONDS), so a take-over or hand-back reaches every replica
within that time, and a turn costs at most one indexed query.
"""
from __future__ import annotations

import enum
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, List, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from clinic.store import Base, RequestRow, StoreUnavailable, UTCDateTime, engine, utcnow

logger = logging.getLogger(__name__)

# The patient's notices, domain/handover.yml (named here so tools/validate.sh counts them as used).
JOINED_NOTICE = "utter_handover_joined"
JOINED_NOTICE_UNNAMED = "utter_handover_joined_unnamed"
RETURNED_NOTICE = "utter_handover_returned"
STAFF_NAME_SLOT = "handover_staff_name"
# How long a Rasa process trusts what it last read about a conversation.
HOLDER_CACHE_SECONDS = 1.5
# A staff message in the tracker: a bot event whose metadata carries this key (the author).
STAFF_METADATA_KEY = "staff"


class HandoverRow(Base):
    __tablename__ = "handovers"

    conversation_id = sa.Column(sa.String(255), primary_key=True)
    staff_id = sa.Column(sa.Integer, nullable=False)  # staff_accounts.id
    staff_email = sa.Column(sa.String(320), nullable=False)
    staff_name = sa.Column(sa.String(80))  # shown to the patient; None: "a member of our team"
    since = sa.Column(UTCDateTime(), nullable=False)


@dataclass(frozen=True)
class Holder:
    conversation_id: str
    staff_id: int
    staff_email: str
    staff_name: Optional[str]
    since: datetime


class TakeOverOutcome(str, enum.Enum):
    TAKEN = "taken"
    ALREADY_YOURS = "already_yours"
    HELD_BY_OTHER = "held_by_other"


@dataclass(frozen=True)
class TakeOver:
    outcome: TakeOverOutcome
    holder: Holder  # who holds it now (the caller, unless HELD_BY_OTHER)

    @property
    def ok(self) -> bool:
        return self.outcome is not TakeOverOutcome.HELD_BY_OTHER


def _session(url: Optional[str]) -> Session:
    return Session(engine(url), future=True, expire_on_commit=False)


def _holder(row: HandoverRow) -> Holder:
    return Holder(row.conversation_id, row.staff_id, row.staff_email, row.staff_name, row.since)


def holder(conversation_id: str, url: Optional[str] = None) -> Optional[Holder]:
    """Who holds the conversation now (None: the assistant answers it)."""
    try:
        with _session(url) as session:
            row = session.get(HandoverRow, conversation_id)
            return _holder(row) if row else None
    except SQLAlchemyError as error:
        raise StoreUnavailable(type(error).__name__) from error


def take_over(conversation_id: str, staff_id: int, staff_email: str, staff_name: Optional[str],
              url: Optional[str] = None) -> TakeOver:
    """Hold the conversation for this staff member, unless someone else already does."""
    row = HandoverRow(conversation_id=conversation_id, staff_id=staff_id, staff_email=staff_email,
                      staff_name=(staff_name or "").strip()[:80] or None, since=utcnow())
    try:
        with _session(url) as session, session.begin():
            session.add(row)
        return TakeOver(TakeOverOutcome.TAKEN, _holder(row))
    except IntegrityError:
        pass  # held already: by whom is read below
    except SQLAlchemyError as error:
        raise StoreUnavailable(type(error).__name__) from error
    current = holder(conversation_id, url)
    if current is None:  # handed back in the meantime: try once more
        return take_over(conversation_id, staff_id, staff_email, staff_name, url)
    outcome = TakeOverOutcome.ALREADY_YOURS if current.staff_id == staff_id else TakeOverOutcome.HELD_BY_OTHER
    return TakeOver(outcome, current)


def hand_back(conversation_id: str, staff_id: int, url: Optional[str] = None) -> bool:
    """Give the conversation back to the assistant; False when this staff member does not hold it."""
    try:
        with _session(url) as session, session.begin():
            result = session.execute(
                sa.delete(HandoverRow)
                .where(HandoverRow.conversation_id == conversation_id, HandoverRow.staff_id == staff_id)
                .execution_options(synchronize_session=False))
            return result.rowcount == 1
    except SQLAlchemyError as error:
        raise StoreUnavailable(type(error).__name__) from error


def held_conversations(url: Optional[str] = None) -> List[Holder]:
    """Every conversation held now, longest-held first."""
    try:
        with _session(url) as session:
            rows = session.execute(sa.select(HandoverRow).order_by(HandoverRow.since)).scalars()
            return [_holder(row) for row in rows]
    except SQLAlchemyError as error:
        raise StoreUnavailable(type(error).__name__) from error


_IS_HELD = sa.select(HandoverRow.staff_id).where(HandoverRow.conversation_id == sa.bindparam("conversation_id"))


def is_held(conversation_id: str, url: Optional[str] = None) -> bool:
    """Whether anyone holds the conversation: one indexed lookup, without the ORM (asked per turn)."""
    try:
        with engine(url).connect() as connection:
            return connection.execute(_IS_HELD, {"conversation_id": conversation_id}).first() is not None
    except SQLAlchemyError as error:
        raise StoreUnavailable(type(error).__name__) from error


@dataclass(frozen=True)
class HeldRequest:
    """A held conversation with the newest request made in it (how the console addresses it)."""

    holder: Holder
    reference: Optional[str]


def held_with_requests(url: Optional[str] = None) -> List[HeldRequest]:
    """Every conversation held now, longest-held first, with its newest request's reference."""
    newest = (sa.select(RequestRow.reference).where(RequestRow.conversation_id == HandoverRow.conversation_id)
              .order_by(RequestRow.created_at.desc()).limit(1).correlate(HandoverRow).scalar_subquery())
    try:
        with _session(url) as session:
            rows = session.execute(sa.select(HandoverRow, newest).order_by(HandoverRow.since)).all()
            return [HeldRequest(_holder(row), reference) for row, reference in rows]
    except SQLAlchemyError as error:
        raise StoreUnavailable(type(error).__name__) from error


class HeldConversations:
    """Whether a conversation is held, as a Rasa process asks it on every prediction:
    each answer is kept `ttl` seconds (per conversation), and a database that cannot be
    read counts as "not held", so the assistant keeps answering rather than falling silent."""

    def __init__(self, url: Optional[str] = None, ttl: float = HOLDER_CACHE_SECONDS, max_size: int = 10_000) -> None:
        self.url = url
        self.ttl = ttl
        self.max_size = max_size
        self._known: Dict[str, Tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def is_held(self, conversation_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            known = self._known.get(conversation_id)
        if known is not None and now - known[0] < self.ttl:
            return known[1]
        try:
            held = is_held(conversation_id, self.url)
        except StoreUnavailable as error:
            logger.warning("hand-over state unreadable (%s): the assistant answers", error)
            held = False
        with self._lock:
            if len(self._known) >= self.max_size:
                self._known = {key: value for key, value in self._known.items() if now - value[0] < self.ttl}
            self._known[conversation_id] = (now, held)
        return held

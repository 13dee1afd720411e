"""The messages of one conversation, read from the tracker store (TRACKER_STORE_URL), for
the request view: what the patient wrote, what the assistant answered and what staff wrote
during a take-over (a bot message whose metadata names them: staff/console/rasa_api.py),
in order, each with its author."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable, Dict, List, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from clinic.handover import STAFF_METADATA_KEY
from clinic.settings import tracker_store_url

MAX_MESSAGES = 500
_EVENTS = sa.Table("events", sa.MetaData(), sa.Column("id", sa.Integer), sa.Column("sender_id", sa.String),
                   sa.Column("type_name", sa.String), sa.Column("timestamp", sa.Float), sa.Column("data", sa.Text))


@dataclass(frozen=True)
class Message:
    at: datetime
    speaker: str  # "patient" | "assistant" | "staff"
    text: str
    author: str  # "patient", "assistant", or the staff member ("Anna (anna@clinic.example)")


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    return sa.create_engine(url, future=True)


def staff_author(metadata: Any, email_of: Callable[[int], Optional[str]]) -> Optional[str]:
    """Who wrote a bot message, when a member of staff did (None: the assistant)."""
    staff = metadata.get(STAFF_METADATA_KEY) if isinstance(metadata, dict) else None
    if not isinstance(staff, dict):
        return None
    name = str(staff.get("name") or "").strip()
    email = email_of(staff["id"]) if isinstance(staff.get("id"), int) else None
    if name and email:
        return f"{name} ({email})"
    return name or email or "staff"


def messages(conversation_id: str, email_of: Callable[[int], Optional[str]] = lambda _id: None) -> List[Message]:
    """The conversation's texts, oldest first (empty when the store has none, or is purged).
    `email_of`: a staff account's email by its id, to name the author of staff messages."""
    try:
        engine = _engine(tracker_store_url())
        if not sa.inspect(engine).has_table("events"):
            return []
        query = (sa.select(_EVENTS.c.type_name, _EVENTS.c.timestamp, _EVENTS.c.data)
                 .where(_EVENTS.c.sender_id == conversation_id, _EVENTS.c.type_name.in_(["user", "bot"]))
                 .order_by(_EVENTS.c.id).limit(MAX_MESSAGES))
        with engine.connect() as connection:
            rows = connection.execute(query).all()
    except SQLAlchemyError:
        return []
    found = []
    for type_name, timestamp, data in rows:
        try:
            event: Dict[str, Any] = json.loads(data or "{}")
            text = (event.get("text") or "").strip()
        except (ValueError, AttributeError):
            continue
        if not text or (type_name == "user" and text.startswith("/")):
            continue  # button payloads are not words anyone wrote
        at = datetime.fromtimestamp(timestamp or 0, timezone.utc)
        staff = staff_author(event.get("metadata"), email_of) if type_name == "bot" else None
        if type_name == "user":
            found.append(Message(at, "patient", text, "patient"))
        elif staff is not None:
            found.append(Message(at, "staff", text, staff))
        else:
            found.append(Message(at, "assistant", text, "assistant"))
    return found

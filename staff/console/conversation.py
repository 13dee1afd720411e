"""The messages of one conversation, read from the tracker store (TRACKER_STORE_URL), for
the request view: what the patient wrote and what the assistant answered, in order."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import List

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from clinic.settings import tracker_store_url

MAX_MESSAGES = 500
_EVENTS = sa.Table("events", sa.MetaData(), sa.Column("id", sa.Integer), sa.Column("sender_id", sa.String),
                   sa.Column("type_name", sa.String), sa.Column("timestamp", sa.Float), sa.Column("data", sa.Text))


@dataclass(frozen=True)
class Message:
    at: datetime
    speaker: str  # "patient" | "assistant"
    text: str


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    return sa.create_engine(url, future=True)


def messages(conversation_id: str) -> List[Message]:
    """The conversation's texts, oldest first (empty when the store has none, or is purged)."""
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
            text = (json.loads(data or "{}").get("text") or "").strip()
        except (ValueError, AttributeError):
            continue
        if not text or (type_name == "user" and text.startswith("/")):
            continue  # button payloads are not words anyone wrote
        found.append(Message(datetime.fromtimestamp(timestamp or 0, timezone.utc),
                             "patient" if type_name == "user" else "assistant", text))
    return found

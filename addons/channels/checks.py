"""The checks every channel applies to what a client sends, before a conversation sees it.

Malformed input gets InvalidRequest with a reason a client can act on (the REST and
callback channels answer 400 with it, the web chat drops the event). Patient text is
never logged.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Dict, Optional

from sanic.exceptions import SanicException
from sanic.request import Request

SENDER_ID = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,128}$")
ALLOWED_CONTROL = {"\n", "\r", "\t"}


class InvalidRequest(ValueError):
    """A request the webhook refuses with 400 and this message."""


def parse_body(request: Request) -> Dict[str, Any]:
    """The JSON body as a dict, or InvalidRequest with a reason a client can act on."""
    try:
        body = request.json
    except (SanicException, ValueError, UnicodeDecodeError):
        raise InvalidRequest("The body must be valid JSON encoded as UTF-8.")
    if not isinstance(body, dict):
        raise InvalidRequest('The body must be a JSON object: {"sender": "...", "message": "..."}.')
    return body


def checked_sender(body: Dict[str, Any]) -> str:
    sender = body.get("sender")
    if not isinstance(sender, str) or not SENDER_ID.match(sender):
        raise InvalidRequest(
            "'sender' must be a string of 1 to 128 letters, digits or . _ : @ + -"
        )
    return sender


def checked_message(body: Dict[str, Any]) -> str:
    message = body.get("message")
    if not isinstance(message, str):
        raise InvalidRequest("'message' must be a string.")
    if any(unicodedata.category(c) == "Cc" and c not in ALLOWED_CONTROL for c in message):
        raise InvalidRequest("'message' must not contain control characters.")
    if any(unicodedata.category(c) == "Cs" for c in message):
        raise InvalidRequest("'message' must be valid Unicode text.")
    return message


def checked_metadata(body: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidRequest("'metadata' must be a JSON object when given.")
    return metadata

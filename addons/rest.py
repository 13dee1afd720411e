"""The REST channel, with the input checked before it reaches a conversation.

Same URL and JSON as Rasa's RestInput (POST /webhooks/rest/webhook with
{"sender": ID, "message": TEXT}), but malformed requests get a clear 4xx, an
empty message gets a prompt (utter_empty_message, domain/system.yml). An over-long message is not cut here: the red-flag
screen reads all of it first, then the NLU declines it politely (addons/red_flags.py,
MAX_MESSAGE_CHARS). Patient text is never logged.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

SENDER_ID = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,128}$")
ALLOWED_CONTROL = {"\n", "\r", "\t"}

EMPTY_MESSAGE_REPLY = "utter_empty_message"


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


async def send_system_response(app: Sanic, name: str, sender: str, output: OutputChannel) -> None:
    """Send a domain response (domain/system.yml) that a channel answers with itself,
    before any message reaches Rasa's processor and without touching the conversation.

    Rendered by the running agent's NLG from the loaded model's domain, as Rasa renders
    every response: the copy lives with the other replies, clinic details filled in.
    Nothing is sent while no model is loaded (Rasa could not answer anything either)."""
    agent = getattr(app.ctx, "agent", None)
    if agent is None or agent.domain is None:
        logger.error("No model loaded: the response %s could not be sent.", name)
        return
    message = await agent.nlg.generate(name, DialogueStateTracker(sender, agent.domain.slots), output.name())
    if message is None:
        logger.error("The model's domain has no response %s.", name)
        return
    await output.send_response(sender, message)


class GuardedRestInput(RestInput):
    """Rasa's REST channel behind input checks; keeps the name "rest"."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = Blueprint("guarded_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = parse_body(request)
                sender = checked_sender(body)
                text = checked_message(body)
                metadata = checked_metadata(body)
            except InvalidRequest as error:
                return response.json({"error": str(error)}, status=400)

            collector = CollectingOutputChannel()
            if not text.strip():
                await send_system_response(request.app, EMPTY_MESSAGE_REPLY, sender, collector)
                return response.json(collector.messages)

            try:
                await on_new_message(
                    UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata)
                )
            except CancelledError:
                logger.error("REST message timed out (conversation %s).", sender)
            except Exception:  # the conversation must answer; details go to the log
                logger.exception("REST message failed (conversation %s).", sender)
            return response.json(collector.messages)

        return webhook

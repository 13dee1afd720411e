"""The REST channel, with the input checked before it reaches a conversation.

Same URL and JSON as Rasa's RestInput (POST /webhooks/rest/webhook with
{"sender": ID, "message": TEXT}), but malformed requests get a clear 4xx (checks.py)
and an empty message gets a prompt (utter_empty_message, domain/system.yml). An
over-long message is not cut here: the red-flag screen reads all of it first, then the
NLU declines it politely (addons/red_flags.py, MAX_MESSAGE_CHARS). Patient text is
never logged.
"""
from __future__ import annotations

import logging
from asyncio import CancelledError
from typing import Awaitable, Callable, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from addons.channels.checks import InvalidRequest, checked_message, checked_metadata, checked_sender, parse_body
from addons.channels.system_replies import EMPTY_MESSAGE_REPLY, send_system_response

logger = logging.getLogger(__name__)


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

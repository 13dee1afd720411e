"""Any other messaging platform: POST /webhooks/callback/webhook, replies POSTed to CALLBACK_URL.

Rasa's callback channel with the reply URL from CALLBACK_URL: off (503) when it is unset
(Rasa's ${VAR} substitution in credentials.yml would stop the server instead), the input
checked like the REST channel's (checks.py), and an optional shared CALLBACK_TOKEN as a
bearer token both ways.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

import aiohttp
from rasa.core.channels.callback import CallbackOutput
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.utils.endpoints import ClientResponseError, EndpointConfig
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from addons.channels.checks import InvalidRequest, checked_message, checked_metadata, checked_sender, parse_body
from addons.channels.errors import json_error, log_failure
from addons.channels.system_replies import EMPTY_MESSAGE_REPLY, send_system_response
from clinic import settings as clinic_settings
from clinic.settings import CallbackSettings

logger = logging.getLogger(__name__)


class SafeCallbackOutput(CallbackOutput):
    """Rasa's callback output, logging (not raising) when the reply URL is unreachable."""

    async def _persist_message(self, message: Dict[Text, Any]) -> None:
        self.messages.append(message)
        try:
            await self.callback_endpoint.request("post", content_type="application/json", json=message)
        except ClientResponseError as error:
            logger.error("Callback URL refused a reply: HTTP %s.", error.status)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            logger.error("Callback URL unreachable: %s.", type(error).__name__)


def _callback_endpoint(settings: CallbackSettings) -> EndpointConfig:
    headers = {"Authorization": f"Bearer {settings.token}"} if settings.token else None
    return EndpointConfig(settings.url, headers=headers)


class CallbackChannel(InputChannel):
    """Any other platform: messages in on /webhooks/callback/webhook, replies POSTed to CALLBACK_URL."""

    @classmethod
    def name(cls) -> Text:
        return "callback"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        settings = clinic_settings.callback()
        if settings is None:
            logger.info("Callback channel off: CALLBACK_URL is not set.")
        elif settings.token is None:
            logger.warning("Callback channel on without CALLBACK_TOKEN: anyone who can reach it can post messages.")
        return cls(settings)

    def __init__(self, settings: Optional[CallbackSettings]) -> None:
        self.settings = settings

    def get_output_channel(self) -> Optional[OutputChannel]:
        return SafeCallbackOutput(_callback_endpoint(self.settings)) if self.settings else None

    def authorised(self, request: Request) -> bool:
        if self.settings is None or self.settings.token is None:
            return True
        expected = f"Bearer {self.settings.token}".encode()
        return hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("vein_callback_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            if self.settings is None:
                return json_error(503, "The callback channel is not configured.")
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if self.settings is None:
                return json_error(503, "The callback channel is not configured.")
            if not self.authorised(request):
                return json_error(401, "Missing or wrong bearer token.")
            try:
                body = parse_body(request)
                sender, text = checked_sender(body), checked_message(body)
                metadata = checked_metadata(body)
            except InvalidRequest as error:
                return json_error(400, str(error))
            output = SafeCallbackOutput(_callback_endpoint(self.settings))
            if not text.strip():
                await send_system_response(request.app, EMPTY_MESSAGE_REPLY, sender, output)
                return response.text("success")
            try:
                await on_new_message(
                    UserMessage(text, output, sender, input_channel=self.name(), metadata=metadata)
                )
            except Exception as error:
                log_failure(logger, "A callback-channel message could not be handled", error)
            return response.text("success")

        return webhook

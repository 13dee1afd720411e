"""Sending bot turns through Twilio's REST API (SMS and WhatsApp), never to an opted-out address."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Optional, Sequence, Text
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client

from addons.channels.opt_outs import is_opted_out
from addons.channels.sms_format import compose_sms
from clinic.settings import TwilioSettings

logger = logging.getLogger(__name__)

TWILIO_TIMEOUT_SECONDS = 10.0


def sender_address(recipient: str, number: str) -> str:
    """The clinic's number in the recipient's channel ('whatsapp:+1...' for WhatsApp)."""
    bare = number.split(":", 1)[1] if number.startswith("whatsapp:") else number
    return f"whatsapp:{bare}" if recipient.startswith("whatsapp:") else bare


class _TwilioHttpClient(AsyncTwilioHttpClient):
    """Twilio's aiohttp client with a real timeout and an optional API base URL.

    TWILIO_API_BASE_URL points the client at another host (a local stand-in for
    api.twilio.com in tests); Twilio's own INFO request logs are kept quiet.
    """

    def __init__(self, api_base_url: Optional[str]) -> None:
        quiet = logging.getLogger(f"{__name__}.twilio_http")
        quiet.setLevel(logging.WARNING)
        super().__init__(pool_connections=False, timeout=TWILIO_TIMEOUT_SECONDS, logger=quiet)
        self.api_base_url = api_base_url

    def _rewrite(self, url: str) -> str:
        if not self.api_base_url:
            return url
        base, own = urlsplit(self.api_base_url.rstrip("/")), urlsplit(url)
        return urlunsplit((base.scheme, base.netloc, base.path + own.path, own.query, ""))

    async def request(self, method: str, url: str, *args: Any, timeout: Optional[float] = None, **kwargs: Any) -> TwilioResponse:  # type: ignore[override]
        return await super().request(method, self._rewrite(url), *args, timeout=timeout or self.timeout, **kwargs)


class TwilioSender:
    """Sends bot turns through Twilio's REST API, never to an opted-out address."""

    def __init__(self, settings: TwilioSettings) -> None:
        self.settings = settings

    def _client(self) -> Client:
        # A client per send: aiohttp sessions belong to the running event loop.
        return Client(
            self.settings.account_sid,
            self.settings.auth_token,
            http_client=_TwilioHttpClient(self.settings.api_base_url),
        )

    async def send_turn(self, recipient: str, messages: Sequence[Dict[str, Any]]) -> int:
        """Send one bot turn as SMS/WhatsApp; returns how many messages Twilio accepted."""
        turn = compose_sms(messages)
        if not turn.bodies and not turn.media:
            return 0
        if await is_opted_out(recipient):
            logger.info("Reply not sent: the address opted out.")
            return 0
        return await self.send_bodies(recipient, turn.bodies or [""], turn.media)

    async def send_bodies(self, recipient: str, bodies: Sequence[str], media: Sequence[str] = ()) -> int:
        client = self._client()
        sent = 0
        for index, body in enumerate(bodies):
            extra: Dict[str, Any] = {"media_url": list(media)} if media and index == len(bodies) - 1 else {}
            try:
                await client.messages.create_async(
                    to=recipient,
                    from_=sender_address(recipient, self.settings.number),
                    body=body,
                    smart_encoded=True,  # typographic quotes -> GSM-7: fewer segments
                    **extra,
                )
                sent += 1
            except TwilioRestException as error:
                logger.error("Twilio refused a reply: HTTP %s, error code %s.", error.status, error.code)
                break
            except (TwilioException, aiohttp.ClientError, asyncio.TimeoutError) as error:
                logger.error("Could not reach Twilio to send a reply: %s.", type(error).__name__)
                break
        return sent


def reply_language(message: Dict[str, Any]) -> Optional[str]:
    """The language the NLG marked a reply with (addons/nlg.py), if any."""
    metadata = message.get("metadata")
    language = metadata.get("language") if isinstance(metadata, dict) else None
    return language if isinstance(language, str) else None


class TwilioTurnCollector(CollectingOutputChannel):
    """Collects one turn's messages so that they can go out as one SMS.

    Each collected message keeps the language of the reply it came from (`language`),
    which Rasa's collector would drop with the rest of the reply's metadata: the SMS
    button line is then written in that language (sms_format.compose_sms)."""

    @classmethod
    def name(cls) -> Text:
        return "twilio"

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        language = reply_language(message)
        first_new = len(self.messages)
        await super().send_response(recipient_id, message)
        if language:
            for collected in self.messages[first_new:]:
                collected["language"] = language


class TwilioSmsOutput(OutputChannel):
    """Output for messages Rasa sends outside a webhook call (e.g. trigger_intent)."""

    @classmethod
    def name(cls) -> Text:
        return "twilio"

    def __init__(self, sender: TwilioSender) -> None:
        self.sender = sender

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        language = reply_language(message)
        await self.sender.send_turn(recipient_id, [{**message, "language": language} if language else message])

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.sender.send_turn(recipient_id, [{"text": text}])

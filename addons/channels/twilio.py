"""SMS and WhatsApp through Twilio: POST /webhooks/twilio/webhook.

Rasa 3.6's Twilio connector made safe for the open internet and fit for a phone screen:
- every request must carry a valid X-Twilio-Signature (403 otherwise, and the
  message reaches no conversation); Rasa's own connector checks nothing;
- a turn goes out as one SMS, buttons as a numbered line, a numbered reply selects
  its button (sms_format.py), sent through Twilio's REST API (twilio_client.py);
- STOP / UNSUBSCRIBE / CANCEL / END / QUIT (and Twilio's other opt-out words)
  silence every reply to that address until START (opt_outs.py);
- off (503, nothing else happens) unless TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
  and TWILIO_NUMBER are set. Credentials come from the environment only.

Phone numbers are sender ids here: they are never logged at INFO or above.
"""
from __future__ import annotations

import logging
import re
import time
from typing import Any, Awaitable, Callable, Dict, Optional, Text
from urllib.parse import parse_qs, urlsplit, urlunsplit

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request, RequestParameters
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from addons.channels.errors import json_error, log_failure
from addons.channels.opt_outs import OPT_IN_WHEN_OPTED_OUT, OPT_IN_WORDS, OPT_OUT_WORDS, is_opted_out, opt_keyword, set_opted_out
from addons.channels.sms_format import clean_sms_text, last_offered_buttons, resolve_reply
from addons.channels.system_replies import EMPTY_MESSAGE_REPLY, send_system_response
from addons.channels.twilio_client import TwilioSender, TwilioSmsOutput, TwilioTurnCollector
from clinic import settings as clinic_settings
from clinic.settings import TwilioSettings

logger = logging.getLogger(__name__)

# A Twilio webhook is a few kilobytes; anything far larger is not from Twilio.
MAX_WEBHOOK_BYTES = 64 * 1024
# E.164 number, optionally as a WhatsApp address ("whatsapp:+15551234567").
TWILIO_ADDRESS = re.compile(r"^(whatsapp:)?\+[1-9][0-9]{6,14}$")


def signed_url(request_url: str, public_base_url: Optional[str]) -> str:
    """The URL Twilio signed: the request's own, or under PUBLIC_BASE_URL behind a proxy."""
    if not public_base_url:
        return request_url
    base = urlsplit(public_base_url.rstrip("/"))
    own = urlsplit(request_url)
    return urlunsplit((base.scheme, base.netloc, base.path + own.path, own.query, ""))


def _empty_twiml() -> HTTPResponse:
    """200 with an empty TwiML <Response/>: replies go through the REST API instead."""
    return response.text(str(MessagingResponse()), status=200, content_type="text/xml")


def parse_twilio_form(body: bytes) -> Optional[RequestParameters]:
    """The form with blank fields kept (Twilio signs them too); None if it is not text."""
    try:
        return RequestParameters(parse_qs(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        return None


class TwilioChannel(InputChannel):
    """SMS and WhatsApp through Twilio, with every request's signature verified."""

    @classmethod
    def name(cls) -> Text:
        # The booking form offers the sender's number on this channel name.
        return "twilio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        # Secrets come from the environment only, never from credentials.yml.
        settings = clinic_settings.twilio()
        if settings is None:
            logger.info("Twilio channel off: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_NUMBER are not all set.")
        return cls(settings)

    def __init__(self, settings: Optional[TwilioSettings]) -> None:
        self.settings = settings
        self.validator = RequestValidator(settings.auth_token) if settings else None
        self.sender = TwilioSender(settings) if settings else None

    def get_output_channel(self) -> Optional[OutputChannel]:
        return TwilioSmsOutput(self.sender) if self.sender else None

    def signature_valid(self, request: Request, form: Optional[RequestParameters]) -> bool:
        signature = request.headers.get("X-Twilio-Signature")
        if not signature or form is None or self.validator is None or self.settings is None:
            return False
        url = signed_url(request.url, self.settings.public_base_url)
        return bool(self.validator.validate(url, form, signature))

    async def button_payload(self, request: Request, sender: str, text: str) -> Optional[str]:
        """The payload of the button this reply picks, read from the stored conversation."""
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None or agent.tracker_store is None:
            return None
        try:
            tracker = await agent.tracker_store.retrieve(sender)
        except Exception as error:
            log_failure(logger, "Could not read the conversation to map a button reply", error)
            return None
        if tracker is None:
            return None
        expiry_minutes = agent.domain.session_config.session_expiration_time if agent.domain else 0
        buttons = last_offered_buttons(list(tracker.events), time.time(), expiry_minutes * 60)
        return resolve_reply(text, buttons)

    async def handle_keyword(self, sender: str, keyword: Optional[str], opted_out: bool) -> bool:
        """Record STOP/START; True when the message was a keyword and goes no further.

        The bot sends no confirmation: on real numbers Twilio sends the one
        compliant confirmation (default STOP filtering for SMS, Advanced Opt-Out
        for WhatsApp senders in a Messaging Service), so there is exactly one
        place where its wording lives and no message goes to a number that has
        just opted out.
        """
        if keyword in OPT_OUT_WORDS:
            await set_opted_out(sender, True)
            return True
        if keyword in OPT_IN_WORDS or (keyword in OPT_IN_WHEN_OPTED_OUT and opted_out):
            await set_opted_out(sender, False)
            return True
        return False

    async def converse(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        request: Request,
        sender: str,
        text: str,
        message_sid: Optional[str],
    ) -> None:
        """Run one patient message through the assistant and send the turn as one SMS."""
        assert self.sender is not None
        collector = TwilioTurnCollector()
        if not text.strip():
            await send_system_response(request.app, EMPTY_MESSAGE_REPLY, sender, collector)
            await self.sender.send_turn(sender, collector.messages)
            return
        text = await self.button_payload(request, sender, text) or text
        try:
            await on_new_message(
                UserMessage(text, collector, sender, input_channel=self.name(), message_id=message_sid)
            )
        except Exception as error:  # the patient still gets what was produced
            log_failure(logger, "A Twilio message could not be handled", error)
        await self.sender.send_turn(sender, collector.messages)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("vein_twilio_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            if self.settings is None:
                return json_error(503, "The Twilio channel is not configured.")
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if self.settings is None:
                return json_error(503, "The Twilio channel is not configured.")
            if len(request.body or b"") > MAX_WEBHOOK_BYTES:
                return json_error(413, "Request body too large for a Twilio webhook.")
            form = parse_twilio_form(request.body or b"")
            if not self.signature_valid(request, form):
                logger.warning("Twilio webhook refused: missing or invalid X-Twilio-Signature.")
                return json_error(403, "Missing or invalid X-Twilio-Signature.")
            assert form is not None
            sender = form.get("From") or ""
            if not TWILIO_ADDRESS.match(sender):
                return json_error(400, "'From' must be a phone number in E.164 format, optionally 'whatsapp:'-prefixed.")
            text = clean_sms_text(form.get("Body") or "")
            keyword = opt_keyword(text)
            opted_out = await is_opted_out(sender)
            if await self.handle_keyword(sender, keyword, opted_out):
                return _empty_twiml()
            if opted_out:
                logger.info("Message from an opted-out address ignored until it sends START.")
                return _empty_twiml()
            await self.converse(on_new_message, request, sender, text, form.get("MessageSid"))
            return _empty_twiml()

        return webhook

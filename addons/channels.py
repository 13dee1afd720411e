"""Clinic messaging channels: SMS and WhatsApp through Twilio, and a callback channel.

TwilioChannel (POST /webhooks/twilio/webhook) is Rasa 3.6's Twilio connector
made safe for the open internet and fit for a phone screen:
- every request must carry a valid X-Twilio-Signature (403 otherwise, and the
  message reaches no conversation); Rasa's own connector checks nothing;
- all texts of one bot turn go out as ONE message (split only above Twilio's
  1600-character limit), buttons as one numbered line, and a numeric or
  button-title reply is mapped back to that button's payload;
- STOP / UNSUBSCRIBE / CANCEL / END / QUIT (and Twilio's other opt-out words)
  silence every reply to that address until START, recorded in the request
  database (clinic.store), so the opt-out survives restarts;
- off (503, nothing else happens) unless TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
  and TWILIO_NUMBER are set. Credentials come from the environment only.

CallbackChannel (POST /webhooks/callback/webhook) is Rasa's callback channel
with the reply URL from CALLBACK_URL: off when it is unset (Rasa's ${VAR}
substitution in credentials.yml would stop the server instead), the input
checked like the REST channel's, and an optional shared CALLBACK_TOKEN.

Phone numbers are sender ids here: they are never logged at INFO or above.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
import unicodedata
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Sequence, Text
from urllib.parse import parse_qs, urlsplit, urlunsplit

import aiohttp
from rasa.core.channels.callback import CallbackOutput
from rasa.core.channels.channel import (
    CollectingOutputChannel,
    InputChannel,
    OutputChannel,
    UserMessage,
)
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.utils.endpoints import ClientResponseError, EndpointConfig
from sanic import Blueprint, response
from sanic.request import Request, RequestParameters
from sanic.response import HTTPResponse
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from addons.rest import (
    EMPTY_MESSAGE_REPLY,
    InvalidRequest,
    checked_message,
    checked_metadata,
    checked_sender,
    parse_body,
    send_system_response,
)
from clinic import settings as clinic_settings
from clinic.settings import CallbackSettings, TwilioSettings

logger = logging.getLogger(__name__)

# Twilio refuses message bodies above 1600 characters (SMS and WhatsApp).
SMS_MAX_CHARS = 1600
# Twilio can attach at most 10 media URLs to one message.
MAX_MEDIA = 10
# A Twilio webhook is a few kilobytes; anything far larger is not from Twilio.
MAX_WEBHOOK_BYTES = 64 * 1024
TWILIO_TIMEOUT_SECONDS = 10.0

# Twilio's own opt-out / opt-in keywords (whole message, any case). YES opts in
# only an opted-out address: otherwise it is an ordinary "yes" to the bot.
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
OPT_IN_WHEN_OPTED_OUT = frozenset({"YES"})

# E.164 number, optionally as a WhatsApp address ("whatsapp:+15551234567").
TWILIO_ADDRESS = re.compile(r"^(whatsapp:)?\+[1-9][0-9]{6,14}$")
NUMBERED_REPLY = re.compile(r"^\s*#?\s*([0-9]{1,2})\s*[.)!]?\s*$")
# Titles starting with one of these read as "Reply 1 to book a consultation".
IMPERATIVE_VERBS = frozenset(
    {
        "ask", "book", "call", "cancel", "change", "check", "choose", "confirm", "contact",
        "continue", "edit", "find", "get", "go", "keep", "learn", "leave", "make", "read",
        "request", "schedule", "see", "send", "share", "show", "speak", "start", "stop",
        "talk", "tell", "try", "use", "view",
    }
)


# --- SMS formatting (pure functions, unit-tested) ----------------------------


@dataclass(frozen=True)
class SmsTurn:
    """What one bot turn becomes on a phone: message bodies and media URLs."""

    bodies: List[str]
    media: List[str]


def _lower_first(title: str) -> str:
    """'Book a consultation' -> 'book a consultation'; 'WhatsApp' stays as it is."""
    first, _, rest = title.partition(" ")
    if len(first) > 1 and first[1:].islower():
        first = first[0].lower() + first[1:]
    return f"{first} {rest}".strip()


def button_phrase(title: str) -> str:
    """How one button reads after its number in the reply prompt."""
    title = " ".join(title.split())
    if title.endswith("?"):
        return f'for "{title}"'
    first_word = title.split(" ", 1)[0].lower() if title else ""
    if first_word in IMPERATIVE_VERBS:
        return f"to {_lower_first(title)}"
    return f"for {_lower_first(title)}"


def button_prompt(buttons: Sequence[Dict[str, Any]]) -> str:
    """'Reply 1 to book a consultation, 2 to ask another question.'"""
    choices = [f"{n} {button_phrase(str(b.get('title', '')))}" for n, b in enumerate(buttons, 1)]
    return f"Reply {', '.join(choices)}." if choices else ""


def _pieces(text: str, limit: int) -> List[str]:
    """Cut one over-long paragraph at sentence, then word, then character limits."""
    if len(text) <= limit:
        return [text]
    for separator in (r"(?<=[.!?])\s+", r"\s+"):
        parts = [p for p in re.split(separator, text) if p]
        if len(parts) > 1:
            return _pack(parts, " ", limit)
    return [text[i : i + limit] for i in range(0, len(text), limit)]


def _pack(parts: Iterable[str], joiner: str, limit: int) -> List[str]:
    """Greedily join parts into chunks no longer than limit."""
    chunks: List[str] = []
    current = ""
    for part in parts:
        for piece in _pieces(part, limit):
            candidate = f"{current}{joiner}{piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
            else:
                chunks.append(current)
                current = piece
    if current:
        chunks.append(current)
    return chunks


def split_for_sms(text: str, limit: int = SMS_MAX_CHARS) -> List[str]:
    """One body when it fits, else as few bodies as possible, cut between paragraphs first."""
    text = text.strip()
    if not text:
        return []
    return _pack(re.split(r"\n\s*\n", text), "\n\n", limit)


def turn_buttons(messages: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """All buttons (and quick replies) of a turn, numbered in the order they were sent."""
    buttons: List[Dict[str, Any]] = []
    for message in messages:
        for key in ("buttons", "quick_replies"):
            buttons.extend(b for b in message.get(key) or [] if isinstance(b, dict) and b.get("title"))
    return buttons


def compose_sms(messages: Sequence[Dict[str, Any]], limit: int = SMS_MAX_CHARS) -> SmsTurn:
    """One bot turn (Rasa's collected messages) as SMS: texts, then the numbered buttons."""
    paragraphs = [str(m["text"]).strip() for m in messages if m.get("text")]
    prompt = button_prompt(turn_buttons(messages))
    if prompt:
        paragraphs.append(prompt)
    media = [str(m["image"]) for m in messages if isinstance(m.get("image"), str)]
    media += [str(m["attachment"]) for m in messages if isinstance(m.get("attachment"), str)]
    return SmsTurn(split_for_sms("\n\n".join(p for p in paragraphs if p), limit), media[:MAX_MEDIA])


def _normalise(text: str) -> str:
    return " ".join(text.casefold().split()).strip(" .!?\"'")


def resolve_reply(text: str, buttons: Sequence[Dict[str, Any]]) -> Optional[str]:
    """The payload a numeric ("2") or button-title reply selects; None for anything else."""
    if not buttons:
        return None
    number = NUMBERED_REPLY.match(text)
    if number:
        index = int(number.group(1))
        return str(buttons[index - 1].get("payload")) if 1 <= index <= len(buttons) else None
    wanted = _normalise(text)
    for button in buttons:
        if wanted and _normalise(str(button.get("title", ""))) == wanted:
            return str(button.get("payload"))
    return None


def last_offered_buttons(
    events: Sequence[Any], now: float, max_age_seconds: Optional[float]
) -> List[Dict[str, Any]]:
    """Buttons of the bot's last turn (all bot messages since the patient last wrote).

    Read from the tracker store rather than kept in memory, so a reply to a
    question asked before a Rasa restart still maps to the right button. A turn
    older than the session expiry is ignored: a new session starts afresh.
    """
    turn: List[Dict[str, Any]] = []
    newest: Optional[float] = None
    for event in reversed(events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            newest = newest or event.timestamp
            turn.insert(0, {"buttons": event.data.get("buttons"), "quick_replies": event.data.get("quick_replies")})
    if newest is None or (max_age_seconds and now - newest > max_age_seconds):
        return []
    return turn_buttons(turn)


def opt_keyword(text: str) -> Optional[str]:
    """The opt-out/opt-in keyword a whole message is, upper-cased, else None."""
    word = text.strip().rstrip(".!").strip().upper()
    if word in OPT_OUT_WORDS or word in OPT_IN_WORDS or word in OPT_IN_WHEN_OPTED_OUT:
        return word
    return None


def clean_sms_text(text: str) -> str:
    """Drop control characters; undo the carriers' '@' -> '¡' corruption, as Rasa's connector does."""
    text = text.replace("¡", "@")
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")


def sender_address(recipient: str, number: str) -> str:
    """The clinic's number in the recipient's channel ('whatsapp:+1...' for WhatsApp)."""
    bare = number.split(":", 1)[1] if number.startswith("whatsapp:") else number
    return f"whatsapp:{bare}" if recipient.startswith("whatsapp:") else bare


def signed_url(request_url: str, public_base_url: Optional[str]) -> str:
    """The URL Twilio signed: the request's own, or under PUBLIC_BASE_URL behind a proxy."""
    if not public_base_url:
        return request_url
    base = urlsplit(public_base_url.rstrip("/"))
    own = urlsplit(request_url)
    return urlunsplit((base.scheme, base.netloc, base.path + own.path, own.query, ""))


# --- Twilio settings and REST client -----------------------------------------


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


def _log_failure(what: str, error: BaseException) -> None:
    """The error's type at ERROR; its message and traceback (which can quote a
    phone number, e.g. in SQL parameters) only at DEBUG."""
    logger.error("%s: %s.", what, type(error).__name__)
    logger.debug("%s.", what, exc_info=error)


def _opt_out_store() -> Any:
    """clinic.store, imported late: the Rasa server must start even while it is missing."""
    from clinic import store

    return store


async def is_opted_out(address: str) -> bool:
    """Whether replies to this address are silenced. Fails open with an error in the log:
    Twilio's own STOP filtering still blocks SMS to a number that opted out."""
    try:
        return bool(await asyncio.to_thread(_opt_out_store().is_opted_out, address))
    except Exception as error:
        _log_failure("Could not read the SMS opt-out list; replying anyway", error)
        return False


async def set_opted_out(address: str, opted_out: bool) -> None:
    try:
        await asyncio.to_thread(_opt_out_store().set_opted_out, address, opted_out)
        logger.info("An SMS/WhatsApp address opted %s.", "out" if opted_out else "back in")
    except Exception as error:
        _log_failure(f"Could not record an SMS opt-{'out' if opted_out else 'in'}", error)


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


class TwilioTurnCollector(CollectingOutputChannel):
    """Collects one turn's messages so that they can go out as one SMS."""

    @classmethod
    def name(cls) -> Text:
        return "twilio"


class TwilioSmsOutput(OutputChannel):
    """Output for messages Rasa sends outside a webhook call (e.g. trigger_intent)."""

    @classmethod
    def name(cls) -> Text:
        return "twilio"

    def __init__(self, sender: TwilioSender) -> None:
        self.sender = sender

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        await self.sender.send_turn(recipient_id, [message])

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.sender.send_turn(recipient_id, [{"text": text}])


# --- Twilio input channel -----------------------------------------------------


def _json_error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


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
            _log_failure("Could not read the conversation to map a button reply", error)
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
            _log_failure("A Twilio message could not be handled", error)
        await self.sender.send_turn(sender, collector.messages)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("vein_twilio_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            if self.settings is None:
                return _json_error(503, "The Twilio channel is not configured.")
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if self.settings is None:
                return _json_error(503, "The Twilio channel is not configured.")
            if len(request.body or b"") > MAX_WEBHOOK_BYTES:
                return _json_error(413, "Request body too large for a Twilio webhook.")
            form = parse_twilio_form(request.body or b"")
            if not self.signature_valid(request, form):
                logger.warning("Twilio webhook refused: missing or invalid X-Twilio-Signature.")
                return _json_error(403, "Missing or invalid X-Twilio-Signature.")
            assert form is not None
            sender = form.get("From") or ""
            if not TWILIO_ADDRESS.match(sender):
                return _json_error(400, "'From' must be a phone number in E.164 format, optionally 'whatsapp:'-prefixed.")
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


# --- Callback channel -----------------------------------------------------------


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
                return _json_error(503, "The callback channel is not configured.")
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if self.settings is None:
                return _json_error(503, "The callback channel is not configured.")
            if not self.authorised(request):
                return _json_error(401, "Missing or wrong bearer token.")
            try:
                body = parse_body(request)
                sender, text = checked_sender(body), checked_message(body)
                metadata = checked_metadata(body)
            except InvalidRequest as error:
                return _json_error(400, str(error))
            output = SafeCallbackOutput(_callback_endpoint(self.settings))
            if not text.strip():
                await send_system_response(request.app, EMPTY_MESSAGE_REPLY, sender, output)
                return response.text("success")
            try:
                await on_new_message(
                    UserMessage(text, output, sender, input_channel=self.name(), metadata=metadata)
                )
            except Exception as error:
                _log_failure("A callback-channel message could not be handled", error)
            return response.text("success")

        return webhook


"""The web chat widget's channel: Rasa's socket.io channel, made to work and checked.

Rasa 3.6's SocketIOInput calls `sio.enter_room(...)` without awaiting it, but
python-socketio 5.x made that a coroutine: the browser never joins its
session's room, so with session_persistence no reply ever reaches it (the log
shows "coroutine 'AsyncServer.enter_room' was never awaited"). This channel
keeps Rasa's socket.io server, events and name ("socketio") and replaces the
two handlers that matter:
- session_request: awaits enter_room; a session id the browser keeps (so the
  conversation survives a reload) must look like one, else a new one is made;
- user_uttered: the same input checks as the REST channel (checks.py):
  an empty message gets a prompt (utter_empty_message, domain/system.yml),
  malformed events are dropped. Patient text is never logged.
Each bot message it emits carries `lang` (en | es), the language of the response
variation Rasa chose (its `condition` on the slot `language`), so the widget marks
it up for screen readers and shows its own words in the conversation's language.
"""
from __future__ import annotations

import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

from addons.channels.checks import SENDER_ID, InvalidRequest, checked_message, checked_metadata
from addons.channels.system_replies import EMPTY_MESSAGE_REPLY, send_system_response
from clinic.language import DEFAULT_LANGUAGE
from clinic.handover import STAFF_METADATA_KEY
from clinic.languages import variation_language

logger = logging.getLogger(__name__)


def session_id_from(data: Any) -> Optional[str]:
    """The session id a browser sent, if it is a usable conversation id."""
    session_id = data.get("session_id") if isinstance(data, dict) else None
    return session_id if isinstance(session_id, str) and SENDER_ID.match(session_id) else None


class WebChatOutput(SocketIOOutput):
    """Rasa's socket.io output, each message marked with the language it is in and, for a
    staff member's message (staff console, take-over), with the name of who wrote it."""

    def __init__(self, sio: Any, bot_message_evt: Text) -> None:
        super().__init__(sio, bot_message_evt)
        self.language = DEFAULT_LANGUAGE  # of the response being sent (split into parts)
        self.author: Optional[Text] = None

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        self.language = variation_language(message)
        self.author = staff_author(message)
        await super().send_response(recipient_id, message)

    async def _send_message(self, socket_id: Text, response: Any) -> None:
        marks = {"lang": self.language, **({"author": self.author} if self.author else {})}
        await super()._send_message(socket_id, {**response, **marks})


def staff_author(message: Dict[Text, Any]) -> Optional[Text]:
    """The staff member's name on a message a staff member wrote, else None."""
    staff = message.get(STAFF_METADATA_KEY)
    name = staff.get("name") if isinstance(staff, dict) else None
    return str(name)[:100] if name else None


class WebChatInput(SocketIOInput):
    """Socket.IO channel for web/widget.js; keeps Rasa's channel name "socketio"."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def get_output_channel(self) -> Optional[OutputChannel]:
        """The output for messages sent through Rasa's HTTP API (output_channel=latest: a
        staff member's message, a take-over notice): marked like every other bot message."""
        if self.sio is None:
            return super().get_output_channel()  # Rasa's own warning: no server in this process
        return WebChatOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None

        # Registering the same event again replaces Rasa's handler.
        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            session_id = session_id_from(data) or uuid.uuid4().hex
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any) -> None:
            sender = session_id_from(data) if self.session_persistence else sid
            if sender is None or not isinstance(data, dict):
                logger.warning("Web chat message without a valid session id dropped.")
                return
            try:
                text = checked_message(data)
                metadata = checked_metadata({"metadata": data.get(self.metadata_key)})
            except InvalidRequest as error:
                logger.warning("Web chat message refused: %s", error)
                return
            output = WebChatOutput(sio, self.bot_message_evt)
            if not text.strip():
                # The Sanic request that opened this socket gives the app, and so the agent.
                app = sio.get_environ(sid, namespace=self.namespace)["sanic.request"].app
                await send_system_response(app, EMPTY_MESSAGE_REPLY, sender, output)
                return
            try:
                await on_new_message(
                    UserMessage(text, output, sender, input_channel=self.name(), metadata=metadata)
                )
            except Exception:  # the socket must stay usable; details go to the log
                logger.exception("A web chat message could not be handled.")

        return webhook

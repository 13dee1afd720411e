"""The web chat's socket.io channel (addons/channels/webchat.py) against the running Rasa server.

A Python socket.io client plays the widget's part: session_request, then
user_uttered events, replies as bot_uttered events in the session's room.
"""
from __future__ import annotations

import queue
import uuid
from typing import Any, Iterator

import pytest
import socketio

from clinic.settings import max_message_chars
from ops.stack import Stack
from tests.responses import ResponseCatalog

pytestmark = pytest.mark.e2e

REPLY_TIMEOUT = 30.0


class ChatClient:
    """One browser tab's connection, with what the server sent it queued."""

    def __init__(self, url: str) -> None:
        self.events: "queue.Queue[tuple[str, Any]]" = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("session_confirm", lambda data: self.events.put(("session_confirm", data)))
        self.sio.on("bot_uttered", lambda data: self.events.put(("bot_uttered", data)))
        # Polling only: the sync client's WebSocket transport needs a package we do not install.
        self.sio.connect(url, transports=["polling"], socketio_path="/socket.io", wait_timeout=10)

    def next(self, name: str, timeout: float = REPLY_TIMEOUT) -> Any:
        event, data = self.events.get(timeout=timeout)
        assert event == name, (event, data)
        return data

    def session(self, session_id: Any) -> str:
        self.sio.emit("session_request", {"session_id": session_id})
        return self.next("session_confirm")

    def say(self, session_id: Any, text: Any) -> None:
        self.sio.emit("user_uttered", {"message": text, "session_id": session_id})

    def close(self) -> None:
        # Engine.IO's close, without waiting up to a ping interval for the pending long-poll.
        self.sio.eio.disconnect(abort=True)

    def silent_for(self, seconds: float) -> bool:
        try:
            self.events.get(timeout=seconds)
        except queue.Empty:
            return True
        return False


@pytest.fixture
def client(stack: Stack) -> Iterator[ChatClient]:
    chat = ChatClient(stack.rasa_url)
    yield chat
    chat.close()


def test_replies_reach_the_session_room_with_quick_replies(
    client: ChatClient, responses: ResponseCatalog
) -> None:
    session_id = uuid.uuid4().hex
    assert client.session(session_id) == session_id
    client.say(session_id, "does it hurt?")
    reply = client.next("bot_uttered")
    assert reply["text"] == responses.text("utter_faq/discomfort")
    assert [b["title"] for b in reply["quick_replies"]] == ["Book a consultation", "Ask another question"]


def test_a_new_connection_with_the_same_session_continues_it(stack: Stack, responses: ResponseCatalog) -> None:
    """What a page reload does: a new socket, the stored session id."""
    session_id = uuid.uuid4().hex
    first = ChatClient(stack.rasa_url)
    first.session(session_id)
    first.say(session_id, "does it hurt?")
    first.next("bot_uttered")
    first.close()

    second = ChatClient(stack.rasa_url)
    try:
        assert second.session(session_id) == session_id
        second.say(session_id, "/ask_question")
        assert second.next("bot_uttered")["text"] == responses.text("utter_ask_question")
    finally:
        second.close()


@pytest.mark.parametrize("bad_id", ["../../etc", "x" * 200, 12345, None, ""])
def test_unusable_session_ids_get_a_fresh_one(client: ChatClient, bad_id: Any) -> None:
    confirmed = client.session(bad_id)
    assert confirmed != bad_id
    assert len(confirmed) == 32 and int(confirmed, 16) >= 0


def test_empty_and_over_long_messages_get_a_polite_reply(client: ChatClient, responses: ResponseCatalog) -> None:
    session_id = client.session(uuid.uuid4().hex)
    client.say(session_id, "   ")
    assert responses.name_of(client.next("bot_uttered")["text"]) == "utter_empty_message"
    client.say(session_id, "a" * (max_message_chars() + 1))
    assert responses.name_of(client.next("bot_uttered")["text"]) == "utter_message_too_long"


def test_a_red_flag_at_the_end_of_a_5000_character_message_gets_the_emergency_reply(
    client: ChatClient, responses: ResponseCatalog
) -> None:
    session_id = client.session(uuid.uuid4().hex)
    story = "I had my injections last week and I wanted to ask about the bruises and the stockings. "
    text = (story * 60)[:4_950] + " Now my chest is tight and I can't breathe."
    assert len(text) > 4_990
    client.say(session_id, text)
    assert responses.name_of(client.next("bot_uttered")["text"]) == "utter_emergency"


@pytest.mark.parametrize("bad_message", [{"text": "hi"}, None, 42, "bell\x07"])
def test_malformed_messages_are_dropped_and_the_chat_goes_on(
    client: ChatClient, responses: ResponseCatalog, bad_message: Any
) -> None:
    session_id = client.session(uuid.uuid4().hex)
    client.say(session_id, bad_message)
    client.sio.emit("user_uttered", {"message": "does it hurt?"})  # no session id
    client.sio.emit("user_uttered", "not an object")
    assert client.silent_for(2.0)
    client.say(session_id, "does it hurt?")
    assert client.next("bot_uttered")["text"] == responses.text("utter_faq/discomfort")

"""What the console says to a patient during a take-over, through the Rasa server's HTTP API
(STAFF_CONSOLE_RASA_URL, RASA_AUTH_TOKEN), so that it reaches the patient on the channel
they last wrote on and is kept in the conversation's tracker like any reply.

- A staff message: POST /conversations/{id}/tracker/events?execute_side_effects=true
  &output_channel=latest with one `bot` event whose metadata names the staff member
  (clinic.handover.STAFF_METADATA_KEY). Rasa appends it under the conversation's lock and
  sends it through the latest input channel's output (socket.io for the widget, Twilio
  for SMS and WhatsApp, CALLBACK_URL for the callback channel). The REST channel has no
  way to push a message: there it is only in the tracker.
- The notices (domain/handover.yml): the name goes into a slot, then
  POST /conversations/{id}/execute runs the response with output_channel=latest, so
  Rasa's own NLG picks the patient's language and fills in the clinic's name. An
  `action_listen` follows, so the patient's next message reads to the rules as any
  message after the assistant has spoken and listened.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

import requests

from clinic import handover, settings

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 15
LATEST_CHANNEL = {"output_channel": "latest"}


class RasaUnavailable(Exception):
    """The Rasa server did not take the message; nothing reached the patient."""


def _post(path: str, body: Any, **params: str) -> None:
    url = f"{settings.console().rasa_url}{path}"
    token = settings.rasa_auth_token()
    if token:
        params["token"] = token
    try:
        answer = requests.post(url, json=body, params=params, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise RasaUnavailable(type(error).__name__) from error
    if answer.status_code >= 300:
        # The path names the conversation: log only the status.
        logger.error("Rasa API refused a hand-over call: HTTP %s", answer.status_code)
        raise RasaUnavailable(f"HTTP {answer.status_code}")


def _conversation(conversation_id: str) -> str:
    # Sanic does not decode a path parameter: an SMS number's "+" must stay as it is, or Rasa
    # would address another conversation. Channels accept ids of letters, digits and . _ : @ + -
    # (addons/channels/checks.py), all safe in a path; anything else is still quoted.
    return f"/conversations/{requests.utils.quote(conversation_id, safe='+:@')}"


def _append(conversation_id: str, events: List[Dict[str, Any]], send: bool = False) -> None:
    params = {"execute_side_effects": "true", **LATEST_CHANNEL} if send else {}
    _post(f"{_conversation(conversation_id)}/tracker/events", events, **params)


def _notice(conversation_id: str, response: str) -> None:
    _post(f"{_conversation(conversation_id)}/execute", {"name": response}, **LATEST_CHANNEL)
    _append(conversation_id, [{"event": "action", "name": "action_listen"}])


def staff_message_event(text: str, staff_id: int, staff_name: str) -> Dict[str, Any]:
    """The tracker event of a staff message: a bot message that says who wrote it."""
    return {"event": "bot", "text": text,
            "metadata": {handover.STAFF_METADATA_KEY: {"id": staff_id, "name": staff_name}}}


def send_staff_message(conversation_id: str, text: str, staff_id: int, staff_name: str) -> None:
    _append(conversation_id, [staff_message_event(text, staff_id, staff_name)], send=True)


def announce_take_over(conversation_id: str, staff_name: Optional[str]) -> None:
    """Ends any form the assistant was filling (the person takes it from here) and tells the patient."""
    _append(conversation_id, [
        {"event": "active_loop", "name": None},
        {"event": "slot", "name": "requested_slot", "value": None},
        {"event": "slot", "name": handover.STAFF_NAME_SLOT, "value": staff_name},
    ])
    _notice(conversation_id, handover.JOINED_NOTICE if staff_name else handover.JOINED_NOTICE_UNNAMED)


def announce_hand_back(conversation_id: str) -> None:
    _notice(conversation_id, handover.RETURNED_NOTICE)

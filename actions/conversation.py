"""Reading the conversation the action server is sent: which response each bot message
came from (Rasa records it in the message's metadata as `utter_action`), and the
conversation's language."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from clinic.languages import LANGUAGE_SLOT, reply_language


def response_of(event: Dict[Text, Any]) -> Optional[Text]:
    """The response a bot event was made from; None for any other event."""
    if event.get("event") != "bot":
        return None
    return (event.get("metadata") or {}).get("utter_action")


def last_bot_response(events: List[Dict[Text, Any]]) -> Optional[Text]:
    """The response of the assistant's last message so far."""
    for event in reversed(events):
        if event.get("event") == "bot":
            return response_of(event)
    return None


def language_of(slots: Dict[Text, Any]) -> Text:
    """The conversation's language (the `language` slot: en | es); English until it is set."""
    return reply_language(slots.get(LANGUAGE_SLOT))

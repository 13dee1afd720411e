"""Response generator that fills in the clinic's details from the environment.

Runs inside the Rasa server, so the emergency reply and the clinic's phone
number never depend on the action server being up.

Replies exist in English and Spanish (variations on the slot `language`, chosen by
Rasa's own response filter, for FAQ answers too: ActionRetrieveResponse generates
`utter_faq/<name>` through this class like any response). The clinic's details are
filled in the conversation's language, and each reply is marked with the language
it was written in, in its `metadata`, for channels that add words of their own (the
SMS button line, addons/channels/twilio_client.py).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from clinic.languages import LANGUAGE_SLOT, reply_language, variation_language
from clinic.settings import clinic_details, max_message_chars


class ClinicNLG(TemplatedNaturalLanguageGenerator):
    """Domain responses in the conversation's language, with {clinic_name}, {clinic_hours}, ... filled in."""

    def __init__(
        self, endpoint_config: Optional[EndpointConfig] = None, domain: Optional[Domain] = None
    ) -> None:
        super().__init__((domain or Domain.empty()).responses)

    async def generate(
        self,
        utter_action: Text,
        tracker: DialogueStateTracker,
        output_channel: Text,
        **kwargs: Any,
    ) -> Optional[Dict[Text, Any]]:
        language = reply_language(tracker.get_slot(LANGUAGE_SLOT))
        values = {
            **clinic_details().as_template_values(language),
            "max_message_chars": max_message_chars(),
            **kwargs,
        }
        message = await super().generate(utter_action, tracker, output_channel, **values)
        if message is not None:
            # The variation Rasa picked, not the slot: a reply that has no Spanish
            # variation yet goes out in English and says so.
            metadata = dict(message.get("metadata") or {})
            metadata["language"] = variation_language(message)
            message["metadata"] = metadata
        return message

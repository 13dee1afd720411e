"""Response generator that fills in the clinic's details from the environment.

Runs inside the Rasa server, so the emergency reply and the clinic's phone
number never depend on the action server being up.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from clinic.settings import clinic_details, max_message_chars


class ClinicNLG(TemplatedNaturalLanguageGenerator):
    """Domain responses, with {clinic_name}, {clinic_phone}, ... filled in."""

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
        values = {**clinic_details().as_template_values(), "max_message_chars": max_message_chars(), **kwargs}
        return await super().generate(utter_action, tracker, output_channel, **values)

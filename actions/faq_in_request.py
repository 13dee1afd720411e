"""An FAQ question in the middle of a booking or call-back request: the answer alone.

The FAQ answers (data/responses/faq.yml) end with "Book a consultation" and "Ask
another question" buttons; in the middle of a request those would start another
booking or leave the form, so here the answer the classifier picked is sent
without them, and the form then asks its question again (data/rules/booking.yml).
"""
from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from clinic.languages import reply_language, variation_language
from clinic.settings import clinic_details

RETRIEVAL_INTENT = "faq"


def picked_answer(latest_message: Dict[str, Any]) -> Dict[str, Any]:
    """The response-selector output for the FAQ intent ({} when there is none)."""
    selector = (latest_message.get("response_selector") or {}).get(RETRIEVAL_INTENT) or {}
    return selector.get("response") or {}


def fill_clinic_details(text: str, language: str = "en") -> str:
    """What the Rasa server's NLG does for a response: the clinic's details in place."""
    for key, value in clinic_details().as_template_values(language).items():
        text = text.replace("{" + key + "}", value)
    return text


class ActionAnswerFaqInRequest(Action):
    def name(self) -> str:
        return "action_answer_faq_in_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        answer = picked_answer(tracker.latest_message)
        language = reply_language(tracker.get_slot("language"))
        variations = [v for v in answer.get("responses") or [] if v.get("text")]
        if variations:
            # The answer's own words from the domain, in the conversation's language
            # (its variation on the slot `language`), only without its buttons.
            variation = next((v for v in variations if variation_language(v) == language), variations[0])
            dispatcher.utter_message(text=fill_clinic_details(variation["text"], language))
        elif answer.get("utter_action"):
            dispatcher.utter_message(response=answer["utter_action"])
        return []

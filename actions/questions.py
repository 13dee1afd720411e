"""Several questions in one message, each answered in order.

The classifier (addons/linear_nlu.py) marks each question it can answer with confidence as
a `question_part` entity: an FAQ answer ("faq/downtime") or a question about the clinic
("clinic_hours"), or a question it declines ("out_of_scope", with its topic). The words are the usual responses.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.clinic_info import answer as clinic_answer, today_at_the_clinic
from actions.declines import choose_decline
from clinic.settings import clinic_details

QUESTION_PART = "question_part"


class ActionAnswerEachQuestion(Action):
    def name(self) -> Text:
        return "action_answer_each_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        text = tracker.latest_message.get("text") or ""
        parts = [e for e in tracker.latest_message.get("entities") or [] if e.get("entity") == QUESTION_PART]
        details = clinic_details()
        for part in parts:
            label = part.get("value") or ""
            if label == "book_appointment":  # the rules start the booking after the answers
                continue
            if label.startswith("faq/"):
                dispatcher.utter_message(response=f"utter_{label}")
                continue
            question = text[part.get("start", 0):part.get("end", len(text))]
            if label == "out_of_scope":  # declined with its topic, as on its own
                dispatcher.utter_message(response=choose_decline(question, 0, None))
                continue
            for response, values in clinic_answer(label, question, details, today_at_the_clinic(details)):
                dispatcher.utter_message(response=response, **values)
        return []

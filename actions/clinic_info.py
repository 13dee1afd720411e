"""Answers about the clinic itself (hours, place, languages, phone) from its settings.

The words are domain responses (domain/clinic_info.yml); this action only chooses which
ones and fills in what they need. What the clinic has not configured is answered with an
honest "I don't have that" and the phone, never a guess.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Dict, List, Text
from zoneinfo import ZoneInfo

from babel.dates import format_date, get_day_names
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import language_of
from clinic.hours import weekday_named
from clinic.settings import ClinicDetails, clinic_details

# Closed days (holidays) mentioned with the hours when they fall within this many days.
CLOSED_DAYS_AHEAD = 60


class ActionAnswerClinicInfo(Action):
    def name(self) -> Text:
        return "action_answer_clinic_info"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        details = clinic_details()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        text = tracker.latest_message.get("text") or ""
        language = language_of(tracker.slots)
        for response, values in answer(intent, text, details, today_at_the_clinic(details), language):
            dispatcher.utter_message(response=response, **values)
        return []


def answer(intent: str, text: str, details: ClinicDetails, today: date, language: str = "en") -> List[tuple]:
    """(response name, template values) to send, in order; days and dates in the
    conversation's language (Babel's names)."""
    if intent == "clinic_hours":
        return _hours(text, details, today, language)
    if intent == "clinic_location":
        replies = [("utter_clinic_address", {})] if details.address else []
        replies += [("utter_clinic_directions", {})] if details.directions else []
        return replies or [("utter_clinic_location_unknown", {})]
    if intent == "clinic_languages":
        return [("utter_clinic_languages" if details.languages else "utter_clinic_languages_unknown", {})]
    return [("utter_clinic_contact", {})]


def _hours(text: str, details: ClinicDetails, today: date, language: str) -> List[tuple]:
    hours = details.opening_hours
    weekday = weekday_named(text)
    if weekday is None:
        replies = [("utter_clinic_hours", {})]
    else:
        day = get_day_names("wide", locale=language)[weekday]
        if hours.is_open_on(weekday):
            replies = [("utter_clinic_open_on_day",
                        {"day": day, "day_hours": hours.describe_day(weekday, locale=language)})]
        else:
            replies = [("utter_clinic_closed_on_day", {"day": day})]
    upcoming = sorted(d for d in hours.closed_days if today <= d <= today + timedelta(days=CLOSED_DAYS_AHEAD))
    if upcoming:
        closed = ", ".join(format_date(d, "long", locale=language) for d in upcoming)
        replies.append(("utter_clinic_closed_days", {"closed_days": closed}))
    return replies


def today_at_the_clinic(details: ClinicDetails) -> date:
    return datetime.now(ZoneInfo(details.timezone)).date()

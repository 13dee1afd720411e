"""An FAQ answer in the middle of a request (actions/faq_in_request.py), on a real tracker."""
from __future__ import annotations

import asyncio

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.faq_in_request import ActionAnswerFaqInRequest
from tests.responses import ROOT, ResponseCatalog

FAQ = yaml.safe_load((ROOT / "data" / "responses" / "faq.yml").read_text())["responses"]


def answered(selector: dict) -> list:
    latest = {"text": "does it hurt?", "intent": {"name": "faq"}, "response_selector": selector}
    state = Tracker("t", {}, latest, [], False, None, {"name": "booking_form"}, "booking_form")
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionAnswerFaqInRequest().run(dispatcher, state, {}))
    return dispatcher.messages


def test_the_answer_is_sent_without_the_book_a_consultation_button() -> None:
    name = "utter_faq/discomfort"
    [message] = answered({"faq": {"response": {"responses": FAQ[name], "utter_action": name}}})
    assert message["buttons"] == []
    assert ResponseCatalog.load().name_of(message["text"]) == name  # the domain's own words, details filled


def test_without_a_picked_answer_nothing_is_said() -> None:
    assert answered({}) == []

"""Declines name the topic and the next step, and do not repeat themselves: a second miss in
a row gets other words, a third an offer of help (topics, staff, the phone)."""
from __future__ import annotations

from typing import Dict, List, Optional

import pytest

from actions.declines import (
    AGAIN, GENERAL, OFFER_HELP, choose_decline, decline_topics, misses_in_a_row, topic_of,
)
from tests.responses import ResponseCatalog


@pytest.mark.parametrize("text, topic", [
    ("how much does sclerotherapy cost?", "price"),
    ("is it expensive", "price"),
    ("does my Aetna plan cover it", "insurance"),
    ("can i use my HSA card", "insurance"),
    ("is it safe at my age? I'm 81", "eligibility"),
    ("I'm breastfeeding, can I have it", "eligibility"),
    ("am I a good candidate", "eligibility"),
    ("how much does it cost if I'm pregnant", "eligibility"),  # the clinician's question comes first
    ("is laser better than injections", "other_treatments"),
    ("do compression stockings help", "other_treatments"),
    ("when can I fly after the treatment", "timelines"),
    ("how long should I boil an egg", None),
    ("what's the weather tomorrow", None),
    ("the co-payment", "price"),
])
def test_the_topic_of_a_declined_question(text: str, topic: Optional[str]) -> None:
    found = topic_of(text)
    assert (found.topic if found else None) == topic


def test_every_topic_has_its_reply_in_the_domain() -> None:
    catalog = ResponseCatalog.load()
    for topic in decline_topics():
        assert topic.response in catalog.texts, topic.response
    for name in (GENERAL, AGAIN, OFFER_HELP):
        assert name in catalog.texts


def _turn(user: str, *bot: str) -> List[Dict]:
    return [{"event": "user", "text": user}, *({"event": "bot", "metadata": {"utter_action": b}} for b in bot)]


def test_misses_are_counted_back_to_the_last_answered_message() -> None:
    events = (_turn("what is sclerotherapy", "utter_faq/what_is_sclerotherapy")
              + _turn("boil an egg", GENERAL) + _turn("cost?", "utter_decline_price") + _turn("now"))
    assert misses_in_a_row(events) == 2
    assert misses_in_a_row(_turn("hi", "utter_greet") + _turn("now")) == 0
    assert misses_in_a_row(_turn("asdf", "utter_ask_rephrase") + _turn("now")) == 1


def test_a_first_miss_names_the_topic_a_second_changes_the_words_a_third_offers_help() -> None:
    assert choose_decline("how much is it", 0, None) == "utter_decline_price"
    assert choose_decline("and the price for two legs?", 1, "utter_decline_price") == AGAIN
    assert choose_decline("write me a poem", 0, None) == GENERAL
    assert choose_decline("write me a poem", 1, GENERAL) == AGAIN
    assert choose_decline("does insurance pay", 2, AGAIN) == OFFER_HELP

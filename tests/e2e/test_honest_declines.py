"""Declines through the running servers: the topic and the next step are named, and three
misses in a row end in an offer of help rather than a fourth identical refusal."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_a_price_question_is_declined_with_who_can_answer_it(stack, sender, responses) -> None:
    replies = stack.send(sender, "how much does sclerotherapy cost?")
    assert responses.names(replies) == ["utter_decline_price"]


def test_a_question_about_safety_for_this_patient_goes_to_a_clinician(stack, sender, responses) -> None:
    replies = stack.send(sender, "is it safe at my age? I'm 79")
    assert responses.names(replies) == ["utter_decline_eligibility"]
    assert "Book a consultation" in [b["title"] for b in replies[0]["buttons"]]


def test_misses_in_a_row_change_their_words_then_offer_help(stack, sender, responses) -> None:
    names = [responses.names(stack.send(sender, text))[0]
             for text in ("how long should I boil an egg", "who won the football last night", "write me a poem")]
    assert names == ["utter_out_of_scope", "utter_decline_again", "utter_decline_offer_help"]

"""Follow-ups through the running servers: answered against the last topic."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_what_about_afterwards_after_a_question_about_pain_gets_the_recovery_answer(stack, sender, responses) -> None:
    assert responses.names(stack.send(sender, "does sclerotherapy hurt?")) == ["utter_faq/discomfort"]
    assert responses.names(stack.send(sender, "what about afterwards?")) == ["utter_faq/downtime"]


def test_tell_me_more_with_nothing_said_before_asks_what_about(stack, sender, responses) -> None:
    assert responses.names(stack.send(sender, "tell me more")) == ["utter_follow_up_without_context"]


def test_two_questions_in_one_message_get_both_answers_in_order(stack, sender, responses) -> None:
    replies = stack.send(sender, "Does sclerotherapy hurt and how long is the recovery?")
    assert responses.names(replies) == ["utter_faq/discomfort", "utter_faq/downtime"]


def test_a_declined_question_and_an_faq_question_in_one_message(stack, sender, responses) -> None:
    replies = stack.send(sender, "how much does it cost and does it hurt?")
    assert responses.names(replies) == ["utter_decline_price", "utter_faq/discomfort"]

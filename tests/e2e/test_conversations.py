"""Conversations through the running Rasa server's REST channel."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

# One everyday question per FAQ topic, each in the patient's own words.
FAQ_QUESTIONS = {
    "what_are_spider_veins": "what exactly are spider veins?",
    "causes": "why do I get spider veins",
    "are_they_harmful": "are spider veins dangerous for my health?",
    "what_is_sclerotherapy": "what is sclerotherapy",
    "how_it_works": "how does sclerotherapy work",
    "duration": "how long does the procedure take?",
    "setting": "where is the treatment done, do I need to go to hospital?",
    "discomfort": "does sclerotherapy hurt?",
    "downtime": "will I need time off work to recover?",
    "aftercare": "can I go running after the treatment?",
    "effectiveness": "does sclerotherapy actually work",
    "sessions": "how many treatments will I need?",
    "results": "do the veins go away completely after treatment?",
    "safety": "is sclerotherapy safe? any side effects?",
    "benefits": "what are the benefits of sclerotherapy",
}


def test_greeting_says_it_is_an_automated_assistant(stack, sender, responses) -> None:
    replies = stack.send(sender, "hello")
    assert responses.names(replies) == ["utter_greet"]
    text = replies[0]["text"]
    assert "virtual assistant" in text and "not a person" in text and "not medical advice" in text
    assert [b["title"] for b in replies[0]["buttons"]] == [
        "What is sclerotherapy?", "Book a consultation", "Talk to staff",
    ]


@pytest.mark.parametrize("topic", sorted(FAQ_QUESTIONS))
def test_every_faq_topic_gets_its_answer(stack, sender, responses, topic: str) -> None:
    replies = stack.send(sender, FAQ_QUESTIONS[topic])
    assert responses.names(replies) == [f"utter_faq/{topic}"]
    assert [b["title"] for b in replies[0]["buttons"]] == ["Book a consultation", "Ask another question"]


def test_out_of_scope_is_declined_with_staff_and_booking(stack, sender, responses) -> None:
    # (A question with a known topic, such as the price, names it: tests/e2e/test_honest_declines.py.)
    replies = stack.send(sender, "what's the capital of France?")
    assert responses.names(replies) == ["utter_out_of_scope"]
    assert "can't answer that here" in replies[0]["text"]
    assert {"Book a consultation", "Talk to staff"} <= {b["title"] for b in replies[0]["buttons"]}


def test_two_misses_in_a_row_offer_staff(stack, sender, responses) -> None:
    assert responses.names(stack.send(sender, "/nlu_fallback")) == ["utter_ask_rephrase"]
    second = stack.send(sender, "/nlu_fallback")
    assert responses.names(second) == ["utter_offer_staff"]
    assert "Talk to staff" in {b["title"] for b in second[0]["buttons"]}


def test_a_miss_after_an_answer_asks_to_rephrase_again(stack, sender, responses) -> None:
    stack.send(sender, "/nlu_fallback")
    stack.send(sender, "does sclerotherapy hurt?")
    assert responses.names(stack.send(sender, "/nlu_fallback")) == ["utter_ask_rephrase"]


def test_suggested_topic_button_gets_an_answer(stack, sender, responses) -> None:
    rephrase = stack.send(sender, "/nlu_fallback")[0]
    payload = next(b["payload"] for b in rephrase["buttons"] if b["title"] == "Does it hurt?")
    assert responses.names(stack.send(sender, payload)) == ["utter_faq/discomfort"]


def test_thanks_and_goodbye(stack, sender, responses) -> None:
    assert responses.names(stack.send(sender, "thanks a lot!")) == ["utter_thank"]
    assert responses.names(stack.send(sender, "bye")) == ["utter_goodbye"]


def test_are_you_a_bot(stack, sender, responses) -> None:
    replies = stack.send(sender, "am I talking to a real person?")
    assert responses.names(replies) == ["utter_bot_challenge"]
    assert "not a person" in replies[0]["text"]


def test_ask_another_question_button(stack, sender, responses) -> None:
    assert responses.names(stack.send(sender, "/ask_question")) == ["utter_ask_question"]

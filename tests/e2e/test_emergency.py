"""Red flags through the running assistant (issue 3): REST webhook, real servers.

A red flag gets the emergency reply alone, at once: as the first message, split
over two messages, and in the middle of a booking (which it ends). The whole
evaluation set (tests/data/red_flags.yml) is also sent, one fresh conversation
per message, as the acceptance test does.
"""
from __future__ import annotations

import uuid
from typing import Dict, List

import pytest
import requests

from actions.clinic import clinic_details
from ops import evaluate_red_flags

pytestmark = pytest.mark.e2e

EMERGENCY = "utter_emergency"
DATA = evaluate_red_flags.load_set()
MAX_E2E_FALSE_ALARM_RATE = 0.03


def _fresh() -> str:
    return f"test-rf-{uuid.uuid4().hex[:12]}"


def _is_emergency_alone(replies: List[dict], responses) -> bool:
    return responses.names(replies) == [EMERGENCY] and len(replies) == 1


def _tracker(stack, sender: str) -> Dict:
    response = requests.get(
        f"{stack.rasa_url}/conversations/{sender}/tracker", params={"token": stack.token}, timeout=10,
    )
    response.raise_for_status()
    return response.json()


def _actions_after_last_user_message(tracker: Dict) -> List[str]:
    events = tracker["events"]
    last_user = max(i for i, e in enumerate(events) if e["event"] == "user")
    return [e["name"] for e in events[last_user + 1:] if e["event"] == "action"]


def test_a_red_flag_first_message_gets_only_the_emergency_reply(stack, sender, responses) -> None:
    replies = stack.send(sender, "had my injections on Friday and now my calf is swollen and hot")
    assert _is_emergency_alone(replies, responses), replies
    text = replies[0]["text"]
    assert text.startswith(f"Please call {clinic_details().emergency_number} now")
    assert "911" in text and clinic_details().urgent_phone in text
    assert "buttons" not in replies[0]
    # Then the form (if any) is ended and the event recorded, in that order.
    actions = _actions_after_last_user_message(_tracker(stack, sender))
    assert [a for a in actions if a in {EMERGENCY, "action_deactivate_loop", "action_record_emergency"}] == [
        EMERGENCY, "action_deactivate_loop", "action_record_emergency",
    ]


@pytest.mark.parametrize("first, second", [
    ("my calf", "feels hot and looks twice the size of the other one"),
    ("my face", "is drooping on one side"),
])
def test_a_red_flag_split_over_two_messages_fires_on_the_second(
    stack, sender, responses, first: str, second: str
) -> None:
    # Neither half is a red flag alone (checked: no emergency reply to either on its own).
    for alone in (first, second):
        assert EMERGENCY not in responses.names(stack.send(_fresh(), alone)), alone
    assert EMERGENCY not in responses.names(stack.send(sender, first))
    replies = stack.send(sender, second)
    assert _is_emergency_alone(replies, responses), replies


def test_the_next_message_after_an_emergency_is_not_answered_again(stack, sender, responses) -> None:
    assert _is_emergency_alone(stack.send(sender, "my chest really hurts"), responses)
    assert EMERGENCY not in responses.names(stack.send(sender, "thank you"))


def test_an_faq_question_with_the_same_words_gets_its_answer(stack, sender, responses) -> None:
    replies = stack.send(sender, "is sclerotherapy safe?")
    assert EMERGENCY not in responses.names(replies)
    assert responses.names(replies) == ["utter_faq/safety"]


def test_a_negated_symptom_is_not_an_emergency(stack, sender, responses) -> None:
    replies = stack.send(sender, "no chest pain, just asking about cost")
    assert EMERGENCY not in responses.names(replies), replies


def test_a_red_flag_in_the_middle_of_a_booking_ends_the_booking(stack, sender, responses) -> None:
    question = stack.send(sender, "I'd like to book a consultation")
    assert question and EMERGENCY not in responses.names(question)
    assert _tracker(stack, sender)["active_loop"].get("name") == "booking_form", "the booking form did not start"
    asked = [m.get("text") for m in question]

    replies = stack.send(sender, "sorry, my chest has gone really tight and I can't breathe properly")
    assert _is_emergency_alone(replies, responses), replies
    tracker = _tracker(stack, sender)
    assert not tracker["active_loop"].get("name"), tracker["active_loop"]

    after = stack.send(sender, "ok")
    assert EMERGENCY not in responses.names(after)
    assert not set(asked) & {m.get("text") for m in after}, "the booking form asked its question again"
    assert not _tracker(stack, sender)["active_loop"].get("name")


def test_every_red_flag_of_the_set_gets_the_emergency_reply(stack, responses) -> None:
    missed = [e["text"] for e in DATA["red_flags"]
              if not _is_emergency_alone(stack.send(_fresh(), e["text"]), responses)]
    assert missed == [], f"{len(missed)} red flags without the emergency reply alone:\n" + "\n".join(missed)


def test_split_red_flags_of_the_set_fire_on_the_second_message(stack, responses) -> None:
    missed = []
    for pair in DATA["split_red_flags"]:
        sender = _fresh()
        first, second = pair["messages"]
        replies = stack.send(sender, first)
        if EMERGENCY not in responses.names(replies):
            replies = stack.send(sender, second)
        if EMERGENCY not in responses.names(replies):
            missed.append(" + ".join(pair["messages"]))
    assert missed == []


def test_near_misses_of_the_set_rarely_get_the_emergency_reply(stack, responses) -> None:
    alarms = [f"{e['category']}: {e['text']}" for e in DATA["near_misses"]
              if EMERGENCY in responses.names(stack.send(_fresh(), e["text"]))]
    rate = len(alarms) / len(DATA["near_misses"])
    assert rate <= MAX_E2E_FALSE_ALARM_RATE, f"false alarms {rate:.1%}:\n" + "\n".join(alarms)

"""Red flags through the running assistant: REST webhook, real Rasa and action servers.

Every message is screened first, whatever its length, language or the form it is
in: a red flag gets the emergency reply alone (and ends any form), a question about
one gets the safety net, and what the patient says after the emergency reply gets a
supportive answer. The committed sets (data/red_flags/<lang>/messages/) are sent too, one fresh
conversation per case, as the clinic's reviewers do.
"""
from __future__ import annotations

import uuid
from typing import Dict, List

import pytest
import requests

from clinic.settings import clinic_details
from clinic.red_flags import Outcome
from tools import evaluate_red_flags

pytestmark = pytest.mark.e2e

EMERGENCY = "utter_emergency"
SAFETY_NET = "utter_safety_net"
FOLLOW_UP = "utter_emergency_follow_up"


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


def _start_booking(stack, sender: str, responses) -> List[str]:
    question = stack.send(sender, "I'd like to book a consultation")
    assert question and EMERGENCY not in responses.names(question)
    assert _tracker(stack, sender)["active_loop"].get("name") == "booking_form", "the booking form did not start"
    return [m.get("text") for m in question]


def test_a_red_flag_first_message_gets_only_the_emergency_reply(stack, sender, responses) -> None:
    replies = stack.send(sender, "had my injections on Friday and now my calf is swollen and hot")
    assert _is_emergency_alone(replies, responses), replies
    text = replies[0]["text"]
    assert text.startswith(f"Please call {clinic_details().emergency_number} now")
    assert clinic_details().urgent_phone in text and "buttons" not in replies[0]
    actions = _actions_after_last_user_message(_tracker(stack, sender))
    assert [a for a in actions if a in {EMERGENCY, "action_deactivate_loop", "action_record_emergency"}] == [
        EMERGENCY, "action_deactivate_loop", "action_record_emergency",
    ]


def test_a_red_flag_at_the_end_of_a_5000_character_message(stack, sender, responses) -> None:
    story = ("Hello, I had my first session on Monday and I have a few questions about the stockings, "
             "the bruises, when I can go back to the gym and whether I can fly next month. ")
    text = (story * 40)[:4_950] + " Sorry, also: my chest is really tight and I can't breathe."
    assert len(text) >= 5_000
    assert _is_emergency_alone(stack.send(sender, text), responses)


def test_a_long_message_without_a_red_flag_is_declined_politely(stack, sender, responses) -> None:
    assert responses.names(stack.send(sender, "What about the parking? " * 80)) == ["utter_message_too_long"]


def test_a_spanish_red_flag_in_the_middle_of_a_booking_ends_it_with_the_spanish_reply(
    stack, sender, responses
) -> None:
    asked = _start_booking(stack, sender, responses)
    replies = stack.send(sender, "perdón, me duele mucho el pecho y no puedo respirar")
    assert _is_emergency_alone(replies, responses), replies
    assert replies[0]["text"].startswith(f"Llame al {clinic_details().emergency_number} ahora")
    assert not _tracker(stack, sender)["active_loop"].get("name")
    after = stack.send(sender, "ok")
    assert not set(asked) & {m.get("text") for m in after}, "the booking form asked its question again"


def test_an_english_red_flag_in_the_middle_of_a_booking_ends_it(stack, sender, responses) -> None:
    _start_booking(stack, sender, responses)
    replies = stack.send(sender, "sorry, my chest has gone really tight and I can't breathe properly")
    assert _is_emergency_alone(replies, responses), replies
    assert not _tracker(stack, sender)["active_loop"].get("name")


@pytest.mark.parametrize("first, second", [
    ("my calf", "feels hot and looks twice the size of the other one"),
    ("my dad's speech", "is all over the place, really garbled"),
    ("mi pierna izquierda", "está hinchada y caliente"),
])
def test_a_red_flag_split_over_two_messages_fires_on_the_second(
    stack, sender, responses, first: str, second: str
) -> None:
    # The first half alone is a fragment, not an emergency. (The second half alone may be
    # one to the learned model, "feels hot and looks twice the size": the safer outcome;
    # the joining itself is specified over the rules alone in tests/unit/test_red_flags.py.)
    assert EMERGENCY not in responses.names(stack.send(_fresh(), first)), first
    assert EMERGENCY not in responses.names(stack.send(sender, first))
    assert _is_emergency_alone(stack.send(sender, second), responses)


@pytest.mark.parametrize("text", [
    "what should I do if my leg swells up and gets hot after the treatment?",
    "is chest pain a side effect?",
    "¿y si se me hincha la pierna después del tratamiento?",
])
def test_a_question_about_a_red_flag_gets_the_safety_net(stack, sender, responses, text: str) -> None:
    replies = stack.send(sender, text)
    assert responses.names(replies) == [SAFETY_NET], replies
    assert clinic_details().urgent_phone in replies[0]["text"]


@pytest.mark.parametrize("follow_up", ["ok calling now", "the ambulance is coming", "my husband is driving me"])
def test_what_patients_say_after_the_emergency_reply_gets_support(stack, sender, responses, follow_up) -> None:
    assert _is_emergency_alone(stack.send(sender, "my chest really hurts"), responses)
    replies = stack.send(sender, follow_up)
    assert responses.names(replies) == [FOLLOW_UP], replies


def test_a_worry_after_treatment_gets_the_urgent_line_and_a_call_back(stack, sender, responses) -> None:
    replies = stack.send(sender, "it hurts and is bruised the day after my injections, is that ok?")
    names = responses.names(replies)
    assert EMERGENCY not in names
    assert "utter_post_treatment_concern" in names or SAFETY_NET in names, replies


def test_the_faq_and_negations_are_not_emergencies(stack, sender, responses) -> None:
    assert responses.names(stack.send(sender, "is sclerotherapy safe?")) == ["utter_faq/safety"]
    assert EMERGENCY not in responses.names(stack.send(_fresh(), "no chest pain, just asking about cost"))


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_committed_sets_through_the_assistant(stack, responses, language: str) -> None:
    cases = evaluate_red_flags.load_cases(language)
    missed, questions_missed, alarms, strict = [], [], [], 0
    for case in cases:
        sender, names = _fresh(), []
        for message in case.messages:
            names += responses.names(stack.send(sender, message))
            if EMERGENCY in names:
                break
        if case.expect == Outcome.EMERGENCY and EMERGENCY not in names:
            missed.append(case.text)
        elif case.expect == Outcome.SAFETY_NET and not {EMERGENCY, SAFETY_NET} & set(names):
            questions_missed.append(case.text)
        elif case.expect == Outcome.NONE and case.label in evaluate_red_flags.STRICT:
            strict += 1
            if EMERGENCY in names:
                alarms.append(case.text)
    assert missed == [], "red flags without the emergency reply:\n" + "\n".join(missed)
    assert questions_missed == [], "questions without the safety net:\n" + "\n".join(questions_missed)
    assert len(alarms) <= evaluate_red_flags.MAX_STRICT_FALSE_ALARM_RATE * strict, "\n".join(alarms)

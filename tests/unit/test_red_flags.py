"""The red-flag screen inside Rasa: the NLU component and the policy (addons/red_flags.py).

The rules themselves are tested in test_red_flag_rules.py and on the committed sets
in test_red_flag_sets.py; here, hand-built messages and conversations show what the
assistant does with the screen's three outcomes and with the classifier's opinion.
"""
from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import List, Optional

import pytest
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import PolicyPrediction, confidence_scores_for
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, ActiveLoop, BotUttered, Event, SessionStarted, SlotSet, UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from addons.red_flags import (
    ALARM_LANGUAGE, CONCERN_INTENT, EMERGENCY_SEQUENCE, FOLLOW_UP_SEQUENCE, SAFETY_NET_SEQUENCE, TOO_LONG_SEQUENCE,
    RedFlagPolicy, RedFlagScreen,
)
from clinic.red_flags import shared_screen
from clinic.red_flags.learned import LearnedScreen
from clinic.settings import max_message_chars

ROOT = Path(__file__).resolve().parent.parent.parent


# ---- RedFlagScreen (NLU component) -------------------------------------------


@pytest.fixture(scope="module")
def screen() -> RedFlagScreen:
    """The component over the rules alone: these tests are about what the component does
    with an outcome; the learned half is tested in test_red_flag_learned.py and below."""
    return RedFlagScreen(RedFlagScreen.get_default_config(), screen=shared_screen().with_learned(None))


def test_the_component_uses_the_learned_half_of_the_screen() -> None:
    toy = LearnedScreen.fit([(f"I have zorblax {i}", "emergency") for i in range(10)]
                            + [(f"what if quibble {i}", "safety_net") for i in range(10)]
                            + [(f"book a visit {i}", "none") for i in range(10)])
    component = RedFlagScreen(RedFlagScreen.get_default_config(), screen=shared_screen().with_learned(toy))
    message = _message("I have zorblax right now")
    component.process([message])
    assert message.get(INTENT)["name"] == "medical_emergency"


def _message(text: str, intent: str = "faq", confidence: float = 0.9,
             next_guess: str = "out_of_scope") -> Message:
    message = Message(data={TEXT: text})
    message.set(INTENT, {"name": intent, "confidence": confidence})
    message.set(INTENT_RANKING_KEY, [{"name": intent, "confidence": confidence},
                                     {"name": next_guess, "confidence": round(1 - confidence, 2)}])
    return message


def _entities(message: Message) -> dict:
    return {e["entity"]: e["value"] for e in message.get(ENTITIES) or []}


def test_a_red_flag_becomes_medical_emergency_with_its_kind_and_language(screen) -> None:
    message = _message("cant breath properly")
    screen.process([message])
    assert message.get(INTENT) == {"name": "medical_emergency", "confidence": 1.0}
    ranking = [r["name"] for r in message.get(INTENT_RANKING_KEY)]
    assert ranking[0] == "medical_emergency" and ranking.count("medical_emergency") == 1
    # The language of the rules that fired, for addons.language (which alone sets the entity).
    assert _entities(message) == {"red_flag": "breathing"}
    assert message.get(ALARM_LANGUAGE) == "en"


def test_a_spanish_red_flag_is_marked_spanish(screen) -> None:
    message = _message("me duele el pecho y no puedo respirar", "nlu_fallback", 0.3)
    screen.process([message])
    assert message.get(INTENT)["name"] == "medical_emergency"
    assert message.get(ALARM_LANGUAGE) == "es"


def test_a_question_about_a_red_flag_becomes_symptom_question(screen) -> None:
    message = _message("what should I do if my leg swells up and gets hot after the treatment?",
                       "faq", 0.8)
    screen.process([message])
    assert message.get(INTENT)["name"] == "symptom_question"


def test_the_classifier_alone_gets_at_least_the_safety_net(screen) -> None:
    # Words the rules do not know; the classifier hears an emergency: never silence.
    message = _message("something is very very wrong with me", "medical_emergency", 0.8)
    screen.process([message])
    assert message.get(INTENT)["name"] == "symptom_question"


def test_even_a_weak_classifier_alarm_without_findings_gets_the_safety_net(screen) -> None:
    # When unsure, the safer outcome: the safety net costs a reply, silence can cost more.
    message = _message("my husband's lips went a weird colour", "medical_emergency", 0.3)
    screen.process([message])
    assert message.get(INTENT)["name"] == "symptom_question"


def test_the_rules_overrule_the_classifier_on_a_negated_symptom(screen) -> None:
    message = _message("no chest pain, just asking about cost", "medical_emergency", 0.9)
    screen.process([message])
    assert message.get(INTENT)["name"] == "out_of_scope"
    assert "medical_emergency" not in [r["name"] for r in message.get(INTENT_RANKING_KEY)]


def test_the_next_guess_stands_when_it_is_confident(screen) -> None:
    message = _message("I had a DVT years ago, can I book a consultation?", "medical_emergency", 0.3,
                       next_guess="book_appointment")
    message.set(INTENT_RANKING_KEY, [{"name": "medical_emergency", "confidence": 0.3},
                                     {"name": "book_appointment", "confidence": 0.65}])
    screen.process([message])
    assert message.get(INTENT) == {"name": "book_appointment", "confidence": 0.65}


def test_a_mild_after_effect_the_classifier_cannot_place_is_a_treatment_concern(screen) -> None:
    message = _message("a little redness on my leg where they injected", "out_of_scope", 0.6)
    screen.process([message])
    assert message.get(INTENT)["name"] == CONCERN_INTENT


def test_button_payloads_are_left_alone(screen) -> None:
    payload = _message("/book_appointment", "book_appointment")
    screen.process([payload])
    assert payload.get(INTENT)["name"] == "book_appointment"


def test_a_huge_message_is_screened_whole(screen) -> None:
    message = _message("I'd like to book a consultation. " * 200 + "My chest is really tight right now.")
    screen.process([message])
    assert message.get(INTENT)["name"] == "medical_emergency"


def test_the_screen_never_logs_what_the_patient_wrote(screen, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="addons.red_flags")
    screen.process([_message("Jane Doe 555-0134 here, my chest hurts")])
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "chest_pain" in logged  # the kind, for staff and debugging
    assert "Jane" not in logged and "555" not in logged and "hurts" not in logged


# ---- RedFlagPolicy on hand-built conversations -----------------------------------


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(ROOT / "domain")


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> RedFlagPolicy:
    storage = LocalModelStorage(tmp_path_factory.mktemp("models"))
    context = ExecutionContext(GraphSchema({}), uuid.uuid4().hex)
    policy = RedFlagPolicy.create(RedFlagPolicy.get_default_config(), storage, Resource("policy"), context)
    policy.screen = shared_screen().with_learned(None)  # the joining logic, over the rules alone
    return policy


def _start() -> List[Event]:
    return [ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted(), ActionExecuted(ACTION_LISTEN_NAME)]


def _user(text: str, intent: str, confidence: float = 0.9) -> UserUttered:
    return UserUttered(text, intent={"name": intent, "confidence": confidence})


def _tracker(events: List[Event], domain: Domain) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(f"test-{uuid.uuid4().hex[:8]}", events, domain.slots)


def _predicted(policy: RedFlagPolicy, events: List[Event], domain: Domain) -> Optional[str]:
    prediction = policy.predict_action_probabilities(_tracker(events, domain), domain)
    if prediction.max_confidence == 0.0:
        return None
    assert prediction.max_confidence == 1.0 and prediction.is_no_user_prediction
    return domain.action_names_or_texts[prediction.max_confidence_index]


def _run_sequence(policy: RedFlagPolicy, events: List[Event], domain: Domain) -> List[str]:
    """Let the policy drive the turn, as the processor would, until it stops predicting."""
    events = list(events)
    predicted: List[str] = []
    for _ in range(6):
        action = _predicted(policy, events, domain)
        if action is None:
            break
        predicted.append(action)
        events.append(ActionExecuted(action))
        if action == "action_deactivate_loop":
            events.append(ActiveLoop(None))
        if action == ACTION_LISTEN_NAME:
            break
    return predicted


def test_an_emergency_gets_the_reply_first_then_ends_any_form_and_is_recorded(policy, domain) -> None:
    events = _start() + [_user("my calf is swollen and hot", "medical_emergency", 1.0)]
    assert _run_sequence(policy, events, domain) == list(EMERGENCY_SEQUENCE)


def test_a_symptom_question_gets_the_safety_net(policy, domain) -> None:
    events = _start() + [_user("is chest pain a side effect?", "symptom_question", 1.0)]
    assert _run_sequence(policy, events, domain) == list(SAFETY_NET_SEQUENCE)


def _booking_in_progress() -> List[Event]:
    return _start() + [
        _user("I'd like to book a consultation", "book_appointment"),
        ActionExecuted("booking_form"), ActiveLoop("booking_form"),
        SlotSet("requested_slot", "patient_name"),
        BotUttered("What is your name?"), ActionExecuted(ACTION_LISTEN_NAME),
    ]


def test_a_red_flag_during_the_booking_form_ends_the_form(policy, domain) -> None:
    # Screened again in the policy: even classified as a form answer, it fires.
    events = _booking_in_progress() + [_user("me duele el pecho y no puedo respirar", "inform")]
    tracker = _tracker(events, domain)
    ours = policy.predict_action_probabilities(tracker, domain)
    form_rule = PolicyPrediction(confidence_scores_for("booking_form", 1.0, domain), "RulePolicy", 6,
                                 is_no_user_prediction=True)
    best = DefaultPolicyPredictionEnsemble().combine_predictions([form_rule, ours], tracker, domain)
    assert best.policy_name == "RedFlagPolicy"
    assert domain.action_names_or_texts[best.max_confidence_index] == "utter_emergency"
    assert _run_sequence(policy, events, domain) == list(EMERGENCY_SEQUENCE)


def test_a_red_flag_split_over_two_messages_fires_on_the_second(policy, domain) -> None:
    events = _start() + [
        _user("my left calf", "nlu_fallback", 0.3), ActionExecuted("utter_ask_rephrase"),
        ActionExecuted(ACTION_LISTEN_NAME), _user("is really swollen and hot", "nlu_fallback", 0.3),
    ]
    assert _run_sequence(policy, events, domain) == list(EMERGENCY_SEQUENCE)


def test_a_near_miss_leaves_the_decision_to_other_policies(policy, domain) -> None:
    events = _start() + [_user("no chest pain, just asking about cost", "out_of_scope")]
    prediction = policy.predict_action_probabilities(_tracker(events, domain), domain)
    assert prediction.max_confidence == 0.0 and not prediction.is_no_user_prediction


def test_a_message_over_the_limit_is_declined_after_it_is_screened(policy, domain) -> None:
    long_text = "I have a question about my appointment and the parking. " * 40
    assert len(long_text) > max_message_chars()
    events = _start() + [_user(long_text, "out_of_scope")]
    assert _run_sequence(policy, events, domain) == list(TOO_LONG_SEQUENCE)
    alarming = long_text + " Also my chest is really tight right now."
    events = _start() + [_user(alarming, "out_of_scope")]
    assert _run_sequence(policy, events, domain) == list(EMERGENCY_SEQUENCE)


@pytest.mark.parametrize("text, intent", [
    ("ok calling now", "emergency_followup"),
    ("the ambulance is coming", "emergency_followup"),
    ("my husband is driving me", "out_of_scope"),
    ("ok", "affirm"),
])
def test_what_patients_say_right_after_the_emergency_reply_gets_support(policy, domain, text, intent) -> None:
    events = _start() + [_user("my chest hurts", "medical_emergency", 1.0)]
    events += [ActionExecuted(a) for a in EMERGENCY_SEQUENCE] + [_user(text, intent)]
    assert _run_sequence(policy, events, domain) == list(FOLLOW_UP_SEQUENCE)


def test_a_booking_after_the_emergency_reply_is_answered_as_usual(policy, domain) -> None:
    events = _start() + [_user("my chest hurts", "medical_emergency", 1.0)]
    events += [ActionExecuted(a) for a in EMERGENCY_SEQUENCE] + [_user("I want to book", "book_appointment")]
    assert _predicted(policy, events, domain) is None


def test_an_answered_red_flag_is_not_joined_to_the_next_message(policy, domain) -> None:
    events = _start() + [_user("my calf is swollen", "medical_emergency", 1.0)]
    events += [ActionExecuted(a) for a in EMERGENCY_SEQUENCE] + [_user("and hot", "nlu_fallback", 0.2)]
    assert _predicted(policy, events, domain) == FOLLOW_UP_SEQUENCE[0]


def test_a_message_from_an_earlier_session_is_not_joined(policy, domain) -> None:
    events = _start() + [_user("my left calf", "nlu_fallback", 0.3), ActionExecuted(ACTION_LISTEN_NAME)]
    events += _start() + [_user("is really swollen and hot", "nlu_fallback", 0.3)]
    assert _predicted(policy, events, domain) is None

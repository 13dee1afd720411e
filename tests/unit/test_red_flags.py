"""The red-flag screen on its evaluation set, and the policy on hand-built conversations.

The set (tests/data/red_flags.yml) is scored by ops.evaluate_red_flags, which
also writes results/red_flags.md with every miss and false alarm.
"""
from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import List, Optional

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import PolicyPrediction, confidence_scores_for
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, ActiveLoop, BotUttered, Event, SessionStarted, SlotSet, UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from addons.red_flags import (
    DEFAULT_SPACY_MODEL, EMERGENCY_SEQUENCE, KINDS, RedFlagMatcher, RedFlagPolicy, RedFlagScreen,
)
from ops import evaluate_red_flags

ROOT = Path(__file__).resolve().parent.parent.parent


# ---- the evaluation set -----------------------------------------------------


@pytest.fixture(scope="module")
def matcher() -> RedFlagMatcher:
    return RedFlagMatcher.load()


@pytest.fixture(scope="module")
def evaluation(matcher: RedFlagMatcher) -> evaluate_red_flags.Evaluation:
    ev = evaluate_red_flags.evaluate(matcher)
    evaluate_red_flags.write_report(ev)
    return ev


def test_the_set_is_big_enough_and_covers_every_kind() -> None:
    data = evaluate_red_flags.load_set()
    assert len(data["red_flags"]) >= 170 and len(data["near_misses"]) >= 170
    assert len(data["split_red_flags"]) >= 15 and len(data["split_near_misses"]) >= 15
    assert {e["kind"] for e in data["red_flags"]} == set(KINDS)
    assert {e["category"] for e in data["near_misses"]} == {
        "faq_same_words", "negation", "hypothetical", "past_history", "mild_after_effect", "other",
    }


def test_the_set_is_not_training_data() -> None:
    training = (ROOT / "data" / "nlu" / "emergency.yml").read_text().lower()
    data = evaluate_red_flags.load_set()
    overlap = [e["text"] for e in data["red_flags"] + data["near_misses"]
               if f"- {e['text'].lower()}\n" in training]
    assert overlap == []


def test_every_red_flag_fires(evaluation: evaluate_red_flags.Evaluation) -> None:
    misses = [f"{o.label}: {o.text}  ({'; '.join(o.suppressed) or 'nothing matched'})"
              for o in evaluation.misses]
    assert misses == [], "red flags missed (see results/red_flags.md):\n" + "\n".join(misses)


def test_false_alarms_are_at_most_three_percent(evaluation: evaluate_red_flags.Evaluation) -> None:
    alarms = "\n".join(f"{o.label}: {o.text} -> {o.kind} '{o.span}'" for o in evaluation.false_alarms)
    assert evaluation.false_alarm_rate <= evaluate_red_flags.MAX_FALSE_ALARM_RATE, (
        f"false-alarm rate {evaluation.false_alarm_rate:.1%} on near-misses:\n{alarms}"
    )


def test_no_context_check_hides_the_symptom_after_but(matcher: RedFlagMatcher) -> None:
    # The issue's own examples: context never reaches over "but".
    assert matcher.screen("probably nothing but my chest hurts")
    assert matcher.screen("no pain but my calf is suddenly swollen and hot")
    assert matcher.screen("No chest pain, just asking about cost") is None


def test_a_hit_says_which_words_fired(matcher: RedFlagMatcher) -> None:
    text = "Hi, booking for Monday. Also my calf is swollen and hot."
    hit = matcher.screen(text)
    assert hit is not None and hit.kind == "leg_swelling_heat_pain"
    assert text[hit.start:hit.end] == hit.text and "calf" in hit.text and "swollen" in hit.text


WORDS = ["my", "calf", "is", "not", "swollen", "hot", "if", "no", "can't", "breathe", "chest", "pain",
         "years", "ago", "but", ",", ".", "?", "\n", "bleeding", "won't", "stop", "it", "skin", "black",
         "a", "bit", "heart", "racing", "cough", "blood", "faint", "when", "20", "what", "😢", "-",
         "'s", "since", "now", "still", "once", "before", "lips", "throat", "closing", "see", "numb"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=120), st.lists(st.sampled_from(WORDS), max_size=25).map(" ".join)))
def test_any_text_is_screened_without_error(text: str) -> None:
    matcher = RedFlagMatcher.load()
    screening = matcher.analyse(text)
    assert all(text[h.start:h.end] == h.text for h in screening.hits)
    matcher.screen_turns(text[: len(text) // 2], text[len(text) // 2:])


def test_a_red_flag_at_the_end_of_a_huge_message_still_fires(matcher: RedFlagMatcher) -> None:
    text = "I'd like to book a consultation for my spider veins. " * 2000 + "Also my chest hurts."
    hit = matcher.screen(text)
    assert hit is not None and hit.kind == "chest_pain" and text[hit.start:hit.end] == "chest hurts"


# ---- RedFlagScreen (NLU component) -------------------------------------------


@pytest.fixture(scope="module")
def screen() -> RedFlagScreen:
    return RedFlagScreen(RedFlagScreen.get_default_config())


def _message(text: str, intent: str = "faq") -> Message:
    message = Message(data={TEXT: text})
    message.set(INTENT, {"name": intent, "confidence": 0.9})
    message.set(INTENT_RANKING_KEY, [{"name": intent, "confidence": 0.9},
                                     {"name": "medical_emergency", "confidence": 0.05}])
    return message


def test_screen_overrides_the_intent_on_a_red_flag(screen: RedFlagScreen) -> None:
    text = "cant breath properly"
    message = _message(text)
    message.set(SPACY_DOCS[TEXT], spacy.load(ROOT / DEFAULT_SPACY_MODEL)(text))  # as SpacyNLP does
    [out] = screen.process([message])
    assert out.get(INTENT) == {"name": "medical_emergency", "confidence": 1.0}
    ranking = out.get(INTENT_RANKING_KEY)
    assert ranking[0] == {"name": "medical_emergency", "confidence": 1.0}
    assert [r["name"] for r in ranking].count("medical_emergency") == 1
    assert out.get(ENTITIES) == [{
        "entity": "red_flag", "value": "breathing_difficulty", "start": 0, "end": len("cant breath"),
        "confidence_entity": 1.0, "extractor": "RedFlagScreen",
    }]


def test_screen_leaves_near_misses_and_payloads_alone(screen: RedFlagScreen) -> None:
    near_miss, payload = _message("is sclerotherapy safe?"), _message("/book_appointment", "book_appointment")
    screen.process([near_miss, payload])
    assert near_miss.get(INTENT)["name"] == "faq" and not near_miss.get(ENTITIES)
    assert payload.get(INTENT)["name"] == "book_appointment"


def test_screen_overrules_the_classifier_on_a_near_miss(screen: RedFlagScreen) -> None:
    # DIET alone says medical_emergency on many negations and past histories.
    message = _message("no chest pain, just asking about cost", "medical_emergency")
    message.set(INTENT_RANKING_KEY, [{"name": "medical_emergency", "confidence": 0.9},
                                     {"name": "out_of_scope", "confidence": 0.08}])
    screen.process([message])
    assert message.get(INTENT)["name"] == "out_of_scope"
    assert "medical_emergency" not in [r["name"] for r in message.get(INTENT_RANKING_KEY)]


def test_screen_keeps_the_next_guess_when_it_is_confident(screen: RedFlagScreen) -> None:
    message = _message("I had a DVT years ago, can I book a consultation?", "medical_emergency")
    message.set(INTENT_RANKING_KEY, [{"name": "medical_emergency", "confidence": 0.3},
                                     {"name": "book_appointment", "confidence": 0.65}])
    screen.process([message])
    assert message.get(INTENT) == {"name": "book_appointment", "confidence": 0.65}


def test_screen_trusts_the_classifier_without_signs_of_a_near_miss(screen: RedFlagScreen) -> None:
    # Words the screen does not know, nothing that says "not an emergency": the
    # classifier's medical_emergency stands (it is the second signal).
    message = _message("my husband's lips went a weird colour and he is not making sense", "medical_emergency")
    screen.process([message])
    assert message.get(INTENT)["name"] == "medical_emergency"


def test_screen_never_logs_what_the_patient_wrote(screen: RedFlagScreen, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="addons.red_flags")
    screen.process([_message("Jane Doe 555-0134 here, my chest hurts")])
    assert caplog.records, "the screen should log that it fired"
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "chest_pain" in logged  # the kind, for staff and debugging
    assert "Jane" not in logged and "555" not in logged and "hurts" not in logged


# ---- RedFlagPolicy on hand-built trackers ---------------------------------------


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(ROOT / "domain.yml")


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> RedFlagPolicy:
    storage = LocalModelStorage(tmp_path_factory.mktemp("models"))
    context = ExecutionContext(GraphSchema({}), uuid.uuid4().hex)
    return RedFlagPolicy.create(RedFlagPolicy.get_default_config(), storage, Resource("policy"), context)


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


def test_a_red_flag_first_message_gets_the_whole_emergency_sequence(policy, domain) -> None:
    events = _start() + [_user("my calf is swollen and hot", "medical_emergency", 1.0)]
    assert _run_sequence(policy, events, domain) == list(EMERGENCY_SEQUENCE)


def test_the_classifier_alone_is_enough(policy, domain) -> None:
    # Whatever the text, an intent of medical_emergency (e.g. from DIET) fires.
    events = _start() + [_user("something is very wrong, help", "medical_emergency", 0.8)]
    assert _run_sequence(policy, events, domain)[0] == "utter_emergency"


def _booking_in_progress() -> List[Event]:
    return _start() + [
        _user("I'd like to book a consultation", "book_appointment"),
        ActionExecuted("booking_form"), ActiveLoop("booking_form"),
        SlotSet("requested_slot", "patient_name"),
        BotUttered("What is your name?"), ActionExecuted(ACTION_LISTEN_NAME),
    ]


def test_a_red_flag_during_the_booking_form_ends_the_form(policy, domain) -> None:
    # The message is screened in the policy too: even classified as an answer, it fires.
    events = _booking_in_progress() + [_user("cant breath properly", "inform")]
    tracker = _tracker(events, domain)
    assert tracker.active_loop_name == "booking_form"
    ours = policy.predict_action_probabilities(tracker, domain)
    # RulePolicy's prediction inside a form: the form again, "no user", confidence 1.
    form_rule = PolicyPrediction(
        confidence_scores_for("action_listen" if "booking_form" not in domain.action_names_or_texts
                              else "booking_form", 1.0, domain),
        "RulePolicy", 6, is_no_user_prediction=True,
    )
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


def test_split_pairs_of_the_set_fire_through_the_policy(policy, domain) -> None:
    data = evaluate_red_flags.load_set()
    missed = []
    for pair in data["split_red_flags"]:
        first, second = pair["messages"]
        events = _start() + [_user(first, "nlu_fallback", 0.3), ActionExecuted("utter_ask_rephrase"),
                             ActionExecuted(ACTION_LISTEN_NAME), _user(second, "nlu_fallback", 0.3)]
        if not policy.is_red_flag(_tracker(events, domain)):
            missed.append(" + ".join(pair["messages"]))
    assert missed == []


def test_a_near_miss_leaves_the_decision_to_other_policies(policy, domain) -> None:
    events = _start() + [_user("no chest pain, just asking about cost", "out_of_scope")]
    prediction = policy.predict_action_probabilities(_tracker(events, domain), domain)
    assert prediction.max_confidence == 0.0 and not prediction.is_no_user_prediction


def test_an_answered_red_flag_is_not_joined_to_the_next_message(policy, domain) -> None:
    events = _start() + [_user("my chest hurts", "medical_emergency", 1.0)]
    events += [ActionExecuted(a) for a in EMERGENCY_SEQUENCE] + [_user("ok thanks", "thank")]
    assert _predicted(policy, events, domain) is None


def test_a_message_from_an_earlier_session_is_not_joined(policy, domain) -> None:
    events = _start() + [_user("my left calf", "nlu_fallback", 0.3), ActionExecuted(ACTION_LISTEN_NAME)]
    events += _start() + [_user("is really swollen and hot", "nlu_fallback", 0.3)]
    assert _predicted(policy, events, domain) is None


def test_analyses_and_verdicts_are_remembered_for_short_texts_only(matcher: RedFlagMatcher) -> None:
    text = f"my calf is swollen and hot {uuid.uuid4().hex}"
    assert matcher.analyse(text) is matcher.analyse(text)
    assert matcher.screen_turns("my left calf", "is really swollen and hot") is \
        matcher.screen_turns("my left calf", "is really swollen and hot")
    huge = "my spider veins " * 500 + text
    assert matcher.analyse(huge) is not matcher.analyse(huge)
    assert huge not in matcher._analyses


def test_patients_words_leave_the_screens_memory(matcher: RedFlagMatcher) -> None:
    from addons import red_flags

    text = f"is it normal to bruise {uuid.uuid4().hex}"
    matcher.analyse(text)
    matcher.screen_turns("hello", text)
    assert text in matcher._analyses and ("hello", text) in matcher._verdicts
    assert matcher._analyses.ttl == matcher._verdicts.ttl == red_flags.REMEMBER_SECONDS <= 15 * 60
    later = matcher._analyses.timer() + red_flags.REMEMBER_SECONDS + 1
    matcher._analyses.expire(later)
    matcher._verdicts.expire(later)
    assert text not in matcher._analyses and ("hello", text) not in matcher._verdicts

"""Take over and hand back: the state in the request database (clinic/handover.py), read by
every Rasa replica, and the policy that keeps the assistant quiet in a held conversation
except for the red-flag screen (addons/handover.py)."""
from __future__ import annotations

import asyncio
import threading
import time
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
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from addons.handover import HandoverPolicy
from addons.nlg import ClinicNLG
from addons.red_flags import EMERGENCY_SEQUENCE, RedFlagPolicy
from clinic import handover, store
from clinic.handover import HeldConversations, TakeOverOutcome
from clinic.red_flags import shared_screen
from clinic.settings import clinic_details

ROOT = Path(__file__).resolve().parents[2]
ANNA = (1, "anna@clinic.example", "Anna")
BEN = (2, "ben@clinic.example", None)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'requests.db'}"
    store.migrate(url)
    yield url
    store.engine(url).dispose()


def conversation() -> str:
    return f"conv-{uuid.uuid4().hex[:8]}"


# --- the state ----------------------------------------------------------------------------


def test_one_holder_at_a_time_and_the_other_sees_who(db_url: str) -> None:
    conv = conversation()
    taken = handover.take_over(conv, *ANNA, url=db_url)
    assert taken.outcome is TakeOverOutcome.TAKEN and taken.holder.staff_name == "Anna"
    refused = handover.take_over(conv, *BEN, url=db_url)
    assert refused.outcome is TakeOverOutcome.HELD_BY_OTHER and not refused.ok
    assert refused.holder.staff_email == "anna@clinic.example" and refused.holder.since == taken.holder.since
    assert handover.take_over(conv, *ANNA, url=db_url).outcome is TakeOverOutcome.ALREADY_YOURS
    assert handover.holder(conv, db_url).staff_id == 1
    assert [h.conversation_id for h in handover.held_conversations(db_url)] == [conv]


def test_held_conversations_are_listed_with_their_newest_request(db_url: str) -> None:
    conv, other = conversation(), conversation()
    store.save_request(store.NewRequest(kind=store.RequestKind.CALLBACK, conversation_id=conv, channel="rest"), db_url)
    newest = store.save_request(store.NewRequest(kind=store.RequestKind.BOOKING, conversation_id=conv,
                                                 channel="rest"), db_url)
    handover.take_over(conv, *ANNA, url=db_url)
    handover.take_over(other, *BEN, url=db_url)
    held = handover.held_with_requests(db_url)
    assert [(h.holder.conversation_id, h.reference) for h in held] == [(conv, newest.reference), (other, None)]


def test_only_the_holder_hands_back_and_then_anyone_may_take_over(db_url: str) -> None:
    conv = conversation()
    handover.take_over(conv, *ANNA, url=db_url)
    assert not handover.hand_back(conv, 2, url=db_url)  # Ben does not hold it
    assert handover.holder(conv, db_url) is not None
    assert handover.hand_back(conv, 1, url=db_url)
    assert handover.holder(conv, db_url) is None
    assert not handover.hand_back(conv, 1, url=db_url)  # twice: nothing to give back
    assert handover.take_over(conv, *BEN, url=db_url).outcome is TakeOverOutcome.TAKEN


def test_two_staff_members_at_the_same_moment_one_wins(db_url: str) -> None:
    conv = conversation()
    results: List[handover.TakeOver] = []
    start = threading.Barrier(2)

    def take(staff: tuple) -> None:
        start.wait()
        results.append(handover.take_over(conv, *staff, url=db_url))

    threads = [threading.Thread(target=take, args=(staff,)) for staff in (ANNA, BEN)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r.outcome.value for r in results) == ["held_by_other", "taken"]
    assert len({r.holder.staff_id for r in results}) == 1  # both name the same holder


def test_a_take_over_on_one_replica_holds_on_the_other_within_the_cache_time(db_url: str) -> None:
    """Two Rasa processes: each its own cache, one database."""
    replica_a, replica_b = HeldConversations(db_url, ttl=0.3), HeldConversations(db_url, ttl=0.3)
    conv = conversation()
    assert not replica_a.is_held(conv) and not replica_b.is_held(conv)
    handover.take_over(conv, *ANNA, url=db_url)
    assert not replica_b.is_held(conv)  # its answer of a moment ago is still kept
    time.sleep(0.35)
    assert replica_a.is_held(conv) and replica_b.is_held(conv)
    handover.hand_back(conv, 1, url=db_url)
    time.sleep(0.35)
    assert not replica_a.is_held(conv) and not replica_b.is_held(conv)


def test_an_unreadable_database_lets_the_assistant_answer(tmp_path: Path) -> None:
    unmigrated = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(store.StoreUnavailable):
        handover.holder("conv", unmigrated)
    assert HeldConversations(unmigrated).is_held("conv") is False


# --- the policy ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(ROOT / "domain")


def _policy(policy_class: type, tmp_path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    storage = LocalModelStorage(tmp_path / policy_class.__name__)
    context = ExecutionContext(GraphSchema({}), uuid.uuid4().hex)
    return policy_class(policy_class.get_default_config(), storage, Resource(policy_class.__name__), context,
                        **kwargs)


@pytest.fixture
def policies(tmp_path: Path, db_url: str) -> tuple:
    red_flags = _policy(RedFlagPolicy, tmp_path)
    red_flags.screen = shared_screen().with_learned(None)
    return red_flags, _policy(HandoverPolicy, tmp_path, held=HeldConversations(db_url, ttl=0))


def _tracker(conv: str, events: List[Event], domain: Domain) -> DialogueStateTracker:
    start = [ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted(), ActionExecuted(ACTION_LISTEN_NAME)]
    return DialogueStateTracker.from_events(conv, start + events, domain.slots)


def _user(text: str, intent: str) -> UserUttered:
    return UserUttered(text, intent={"name": intent, "confidence": 1.0})


def _next_action(policies: tuple, tracker: DialogueStateTracker, domain: Domain,
                 rule: Optional[str], rule_is_form: bool = False) -> str:
    """The ensemble's choice among the red-flag policy, the hand-over policy and what the
    RulePolicy would predict (`rule`; a form's step is a "no user" prediction, as in Rasa)."""
    predictions = [policy.predict_action_probabilities(tracker, domain) for policy in policies]
    if rule is not None:
        predictions.append(PolicyPrediction(confidence_scores_for(rule, 1.0, domain), "RulePolicy", 6,
                                            is_no_user_prediction=rule_is_form))
    best = DefaultPolicyPredictionEnsemble().combine_predictions(predictions, tracker, domain)
    return domain.action_names_or_texts[best.max_confidence_index]


def test_a_held_conversation_gets_no_answer(policies: tuple, domain: Domain, db_url: str) -> None:
    conv = conversation()
    tracker = _tracker(conv, [_user("hello there", "greet")], domain)
    assert _next_action(policies, tracker, domain, rule="utter_greet") == "utter_greet"
    handover.take_over(conv, *ANNA, url=db_url)
    assert _next_action(policies, tracker, domain, rule="utter_greet") == ACTION_LISTEN_NAME
    handover.hand_back(conv, 1, url=db_url)
    assert _next_action(policies, tracker, domain, rule="utter_greet") == "utter_greet"


def test_a_form_in_progress_does_not_answer_a_held_conversation(policies: tuple, domain: Domain,
                                                                db_url: str) -> None:
    conv = conversation()
    tracker = _tracker(conv, [
        _user("I'd like to book", "book_appointment"), ActionExecuted("booking_form"),
        ActiveLoop("booking_form"), SlotSet("requested_slot", "patient_name"), ActionExecuted(ACTION_LISTEN_NAME),
        _user("Maria Lopez", "inform")], domain)
    handover.take_over(conv, *ANNA, url=db_url)
    assert _next_action(policies, tracker, domain, rule="booking_form", rule_is_form=True) == ACTION_LISTEN_NAME


def test_a_red_flag_in_a_held_conversation_still_gets_the_emergency_reply(policies: tuple, domain: Domain,
                                                                          db_url: str) -> None:
    conv = conversation()
    handover.take_over(conv, *ANNA, url=db_url)
    events: List[Event] = [_user("my calf is swollen and hot", "medical_emergency")]
    done = []
    for _ in range(6):  # the whole sequence, as the processor runs it
        action = _next_action(policies, _tracker(conv, events, domain), domain, rule="utter_ask_rephrase")
        done.append(action)
        events.append(ActionExecuted(action))
        if action == "action_deactivate_loop":
            events.append(ActiveLoop(None))
        if action == ACTION_LISTEN_NAME:
            break
    assert done == list(EMERGENCY_SEQUENCE)
    # The next ordinary message is the staff member's again. (An "ok" or "thanks" right after
    # the emergency reply still gets the red-flag policy's supportive follow-up.)
    events.append(_user("can I still come on Tuesday?", "book_appointment"))
    assert _next_action(policies, _tracker(conv, events, domain), domain, rule="utter_greet") == ACTION_LISTEN_NAME


def test_the_policy_asks_the_database_once_per_cache_time(db_url: str, tmp_path: Path, domain: Domain) -> None:
    conv = conversation()
    held = HeldConversations(db_url, ttl=60)
    policy = _policy(HandoverPolicy, tmp_path, held=held)
    tracker = _tracker(conv, [_user("hello", "greet")], domain)
    assert policy.predict_action_probabilities(tracker, domain).max_confidence == 0.0
    handover.take_over(conv, *ANNA, url=db_url)
    # Within the cache time the earlier answer stands (a real cache, not a query per prediction).
    assert policy.predict_action_probabilities(tracker, domain).max_confidence == 0.0
    assert HandoverPolicy.get_default_config()["priority"] < RedFlagPolicy.get_default_config()["priority"]


# --- the patient's notices ----------------------------------------------------------------


def _notice(domain: Domain, response: str, **slots: Optional[str]) -> str:
    tracker = DialogueStateTracker.from_events("conv", [SlotSet(name, value) for name, value in slots.items()],
                                               domain.slots)
    message = asyncio.run(ClinicNLG(domain=domain).generate(response, tracker, "rest"))
    assert clinic_details().name in message["text"] or response == handover.RETURNED_NOTICE
    return message["text"]


def test_the_patient_is_told_who_joined_and_when_the_assistant_is_back_in_their_language(domain: Domain) -> None:
    assert _notice(domain, handover.JOINED_NOTICE, handover_staff_name="Anna").startswith("Anna from ")
    assert _notice(domain, handover.JOINED_NOTICE, handover_staff_name="Ana", language="es").startswith("Ana, de ")
    assert _notice(domain, handover.JOINED_NOTICE_UNNAMED).startswith("A member of our team at ")
    assert _notice(domain, handover.JOINED_NOTICE_UNNAMED, language="es").startswith("Un miembro de nuestro equipo")
    assert _notice(domain, handover.RETURNED_NOTICE).startswith("You're back with the assistant")
    assert _notice(domain, handover.RETURNED_NOTICE, language="es").startswith("Está de nuevo con el asistente")

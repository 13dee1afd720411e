"""The red-flag screen inside the Rasa server: a thin layer over clinic.red_flags.

* `RedFlagScreen`, the last NLU component, screens every message whole, whatever
  its length or language, and sets the intent from the screen's outcome:
  emergency -> medical_emergency, safety net -> symptom_question. The classifier is
  the learned backstop: its medical_emergency on a message where the rules found no
  symptom at all becomes at least the safety net; where the rules found the symptom
  and a reason it is not one (negated, past, mild, needle nerves), the rules win.
  (The screen itself has a second, stronger learned half trained on the labelled
  red-flag messages: clinic/red_flags/learned.py.)
* `RedFlagPolicy`, the first policy, answers those intents (and a red flag split
  over two messages) before any rule or form can, declines a message longer than
  MAX_MESSAGE_CHARS once it has been screened, and answers what patients say right
  after the emergency reply.

The screen does not set the conversation's language: it leaves the language of the
rules that found the red flag on the message (ALARM_LANGUAGE), and the next component,
addons.language.ConversationLanguage, the one place that decides, answers the alarm in
the language its words are in (clinic/language.py).

The rules are data (data/red_flags/); patient text is never logged, only kinds.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from rasa.core.policies.policy import Policy, PolicyPrediction, confidence_scores_for
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_DEACTIVATE_LOOP_NAME, ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import (
    ENTITIES, INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from clinic.red_flags import Outcome, RedFlagScreen as Screen, Screening, shared_screen
from clinic.settings import max_message_chars

logger = logging.getLogger(__name__)

EMERGENCY_INTENT = "medical_emergency"
SAFETY_NET_INTENT = "symptom_question"
CONCERN_INTENT = "post_treatment_concern"
RED_FLAG_ENTITY = "red_flag"
# Message attribute (not in the parse output): the language of the rules that found the
# red flag, for addons.language.ConversationLanguage.
ALARM_LANGUAGE = "red_flag_language"
EMERGENCY_REPLY = "utter_emergency"
SAFETY_NET_REPLY = "utter_safety_net"
RECORD_ACTION = "action_record_emergency"
# What follows each, in order: the reply first, so nothing can delay it.
EMERGENCY_SEQUENCE = (EMERGENCY_REPLY, ACTION_DEACTIVATE_LOOP_NAME, RECORD_ACTION, ACTION_LISTEN_NAME)
SAFETY_NET_SEQUENCE = (SAFETY_NET_REPLY, ACTION_LISTEN_NAME)
TOO_LONG_SEQUENCE = ("utter_message_too_long", ACTION_LISTEN_NAME)
FOLLOW_UP_SEQUENCE = ("utter_emergency_follow_up", ACTION_LISTEN_NAME)
# Right after the emergency reply, these get the supportive follow-up ("ok calling
# now", "the ambulance is coming"); a question or a booking is answered as usual.
ALARM_INTENTS = frozenset({EMERGENCY_INTENT, SAFETY_NET_INTENT})
FOLLOW_UP_INTENTS = frozenset({"emergency_followup", "affirm", "deny", "thank", "goodbye", "greet",
                               "out_of_scope", "nlu_fallback", CONCERN_INTENT})

@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class RedFlagScreen(GraphComponent):
    """Last NLU component: the screen's outcome overrides whatever intent came before."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"next_guess_threshold": 0.5, "declined_intent": "out_of_scope", "retrieval_intent": "faq"}

    def __init__(self, config: Dict[Text, Any], screen: Optional[Screen] = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self.screen = screen or shared_screen()

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "RedFlagScreen":
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text or text.startswith("/"):
                continue  # button payloads carry their intent already
            self._decide(message, text, self.screen.screen(text))
        return messages

    def _decide(self, message: Message, text: str, screening: Screening) -> None:
        intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        if screening.outcome == Outcome.EMERGENCY:
            self._set(message, EMERGENCY_INTENT, screening.kind, screening.language)
            logger.info("Red-flag screen: emergency (%s)", _decided_by(screening))
        elif screening.outcome == Outcome.SAFETY_NET:
            self._set(message, SAFETY_NET_INTENT, screening.kind, screening.language)
            logger.info("Red-flag screen: safety net (%s)", _decided_by(screening))
        elif intent in ALARM_INTENTS and not screening.findings:
            # The classifier hears a red flag the rules cannot place: never silence.
            self._set(message, SAFETY_NET_INTENT, None, None)
            logger.info("Red-flag screen: safety net (classifier backstop)")
        elif intent in ALARM_INTENTS:
            self._overrule(message, screening)
        elif intent in {self.config["declined_intent"], "nlu_fallback"} and screening.mild:
            self._set(message, CONCERN_INTENT, None, None)  # "a bit red where they injected"

    def _set(self, message: Message, intent: str, kind: Optional[str], language: Optional[str]) -> None:
        """`language`: of the rules that found the red flag (None for the classifier's backstop)."""
        chosen = {INTENT_NAME_KEY: intent, PREDICTED_CONFIDENCE_KEY: 1.0}
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != intent]
        message.set(INTENT, chosen, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [chosen, *ranking], add_to_output=True)
        entities = list(message.get(ENTITIES) or [])
        if kind:
            entities.append({"entity": RED_FLAG_ENTITY, "value": kind, "start": 0, "end": 0,
                             "confidence_entity": 1.0, "extractor": self.__class__.__name__})
        message.set(ENTITIES, entities, add_to_output=True)
        message.set(ALARM_LANGUAGE, language)

    def _overrule(self, message: Message, screening: Screening) -> None:
        """The rules found the symptom and why it is not a red flag: take the next guess."""
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or []
                   if r.get(INTENT_NAME_KEY) not in ALARM_INTENTS | {"nlu_fallback"}]
        best = ranking[0] if ranking else None
        if best is None or best.get(PREDICTED_CONFIDENCE_KEY, 0.0) < self.config["next_guess_threshold"] or (
                best[INTENT_NAME_KEY] == self.config["retrieval_intent"]
                and self._answer_confidence(message) < self.config["next_guess_threshold"]):
            best = {INTENT_NAME_KEY: CONCERN_INTENT if screening.mild else self.config["declined_intent"],
                    PREDICTED_CONFIDENCE_KEY: best.get(PREDICTED_CONFIDENCE_KEY, 0.0) if best else 0.0}
        message.set(INTENT, dict(best), add_to_output=True)
        message.set(INTENT_RANKING_KEY, [dict(best), *[r for r in ranking if r.get(INTENT_NAME_KEY)
                                                      != best[INTENT_NAME_KEY]]], add_to_output=True)
        reasons = sorted({m for f in screening.suppressed for m in f.modifiers})
        logger.info("Classifier's alarm overruled by the red-flag rules (%s)", ", ".join(reasons))

    def _answer_confidence(self, message: Message) -> float:
        selector = (message.get("response_selector") or {}).get(self.config["retrieval_intent"], {})
        return float(selector.get("response", {}).get("confidence") or 0.0)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class RedFlagPolicy(Policy):
    """First policy: the screen's outcomes get their fixed replies, inside forms too.

    Predicts, as a "no user" prediction with confidence 1 (so it beats the RulePolicy
    and a form's happy path on priority), the next step of: the emergency sequence
    (reply, end any form, record for staff), the safety-net reply, the size-limit
    reply, or the follow-up after an emergency reply. Otherwise it predicts nothing.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": 7}  # above RulePolicy (6): on equal confidence the higher wins

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 execution_context: ExecutionContext, featurizer: Optional[Any] = None) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        self._screen: Optional[Screen] = None

    @property
    def screen(self) -> Screen:
        if self._screen is None:
            self._screen = shared_screen()
        return self._screen

    @screen.setter
    def screen(self, screen: Screen) -> None:
        self._screen = screen

    def train(self, training_trackers: List[Any], domain: Domain, **kwargs: Any) -> Resource:
        """Nothing to learn: the rules are data (data/red_flags/)."""
        return self._resource

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[Text, Any]] = None,
                                     **kwargs: Any) -> PolicyPrediction:
        next_action = self.next_action(tracker)
        if next_action is None or next_action not in domain.action_names_or_texts:
            return self._prediction(self._default_predictions(domain))
        return self._prediction(confidence_scores_for(next_action, 1.0, domain), is_no_user_prediction=True)

    def next_action(self, tracker: DialogueStateTracker) -> Optional[str]:
        sequence = self.sequence_for(tracker)
        if sequence is None:
            return None
        return _next_step(sequence, _actions_since_latest_user_message(tracker))

    def sequence_for(self, tracker: DialogueStateTracker) -> Optional[Tuple[str, ...]]:
        latest = tracker.latest_message
        if latest is None or (latest.text is None and not latest.intent):
            return None
        intent = (latest.intent or {}).get(INTENT_NAME_KEY)
        if intent == EMERGENCY_INTENT:
            return EMERGENCY_SEQUENCE
        text = latest.text or ""
        joined = Outcome.NONE
        if text and not text.startswith("/"):  # the message read on from the one before
            joined = self.screen.screen_turns(previous_user_text(tracker), text).outcome
        if joined == Outcome.EMERGENCY:
            logger.info("Red flag: emergency (two messages together)")
            return EMERGENCY_SEQUENCE
        if joined == Outcome.SAFETY_NET or intent == SAFETY_NET_INTENT:
            return SAFETY_NET_SEQUENCE
        if len(text) > max_message_chars():
            return TOO_LONG_SEQUENCE  # screened whole above; the rest of the NLU is not trusted
        if intent in FOLLOW_UP_INTENTS and _answered_an_emergency_last(tracker):
            return FOLLOW_UP_SEQUENCE
        return None


def _decided_by(screening: Screening) -> str:
    """For the log: the red-flag kind, or that the learned model raised the rules' outcome."""
    return f"learned model; rules: {screening.kind or 'nothing'}" if screening.by_model else str(screening.kind)


def _next_step(sequence: Sequence[str], done: Sequence[str]) -> Optional[str]:
    step = 0
    for name in done:
        if step < len(sequence) and name == sequence[step]:
            step += 1
    return sequence[step] if step < len(sequence) else None


def _actions_since_latest_user_message(tracker: DialogueStateTracker) -> List[str]:
    names: List[str] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, ActionExecuted):
            names.append(event.action_name)
    return list(reversed(names))


def _answered_an_emergency_last(tracker: DialogueStateTracker) -> bool:
    """Whether the bot's last reply before the latest message was the emergency reply."""
    seen_latest = False
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            if seen_latest:
                return False
            seen_latest = True
        elif seen_latest and isinstance(event, ActionExecuted) and event.action_name == EMERGENCY_REPLY:
            return True
        elif seen_latest and isinstance(event, BotUttered):
            continue
        elif isinstance(event, SessionStarted):
            return False
    return False


def previous_user_text(tracker: DialogueStateTracker) -> Optional[str]:
    """The patient's message before the latest, in this session and not yet answered as a red flag."""
    seen_latest = False
    for event in reversed(tracker.events):
        if isinstance(event, SessionStarted):
            return None
        if isinstance(event, ActionExecuted) and event.action_name == EMERGENCY_REPLY and seen_latest:
            return None  # that message was already answered as an emergency
        if isinstance(event, UserUttered):
            if seen_latest:
                return event.text
            seen_latest = True
    return None

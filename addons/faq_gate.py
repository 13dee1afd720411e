"""Turn a low-confidence FAQ answer into nlu_fallback.

Rasa's FallbackClassifier looks only at the intent ("faq" can be confident
while the chosen answer is a guess). This gate reads the answer's own confidence
(`response_selector`, written by addons/linear_nlu.py as Rasa's ResponseSelector
would) and, below the threshold, replaces the intent
with nlu_fallback, exactly as the FallbackClassifier would, so the patient is
asked to rephrase instead of receiving a guessed answer.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.fallback_classifier import _fallback_intent
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class FaqConfidenceGate(GraphComponent):
    """Falls back when the answer classifier is unsure which FAQ answer fits."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"threshold": 0.5, "retrieval_intent": "faq"}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.threshold = float(config["threshold"])
        self.retrieval_intent = config["retrieval_intent"]

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "FaqConfidenceGate":
        return cls(config)

    def answer_confidence(self, message: Message) -> float:
        """The confidence in the chosen answer (0 when absent)."""
        selector = (message.get("response_selector") or {}).get(self.retrieval_intent, {})
        return float(selector.get("response", {}).get("confidence") or 0.0)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            if intent.get(INTENT_NAME_KEY) != self.retrieval_intent:
                continue
            if self.answer_confidence(message) < self.threshold:
                message.data[INTENT] = _fallback_intent(self.threshold)
                message.data.setdefault(INTENT_RANKING_KEY, [])
                message.data[INTENT_RANKING_KEY].insert(0, _fallback_intent(self.threshold))
        return messages

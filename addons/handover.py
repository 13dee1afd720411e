"""The assistant keeps quiet in a conversation that a member of staff has taken over.

`HandoverPolicy` sits between the red-flag policy and the RulePolicy (config.yml). When
the conversation is held (clinic/handover.py, read through a cache of
HOLDER_CACHE_SECONDS), it predicts `action_listen` with confidence 1 as a "no user"
prediction, so no rule, form or fallback answers: the staff member does. The red-flag
policy has the higher priority and is untouched, so an emergency still gets its reply at
once (and is recorded for staff) in a held conversation. When nobody holds it, this policy
predicts nothing.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction, confidence_scores_for
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from clinic.handover import HeldConversations


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class HandoverPolicy(Policy):
    """Predicts action_listen while a member of staff holds the conversation."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # Below RedFlagPolicy (7), so an emergency is still answered; above RulePolicy (6),
        # whose rules and forms must not answer a held conversation. Equal confidences
        # are decided by priority (rasa/core/policies/ensemble.py).
        return {"priority": 6.5}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 execution_context: ExecutionContext, featurizer: Optional[Any] = None,
                 held: Optional[HeldConversations] = None) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        self.held = held or HeldConversations()

    def train(self, training_trackers: List[Any], domain: Domain, **kwargs: Any) -> Resource:
        """Nothing to learn: the state is in the database."""
        return self._resource

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[Text, Any]] = None,
                                     **kwargs: Any) -> PolicyPrediction:
        if not self.held.is_held(tracker.sender_id):
            return self._prediction(self._default_predictions(domain))
        return self._prediction(confidence_scores_for(ACTION_LISTEN_NAME, 1.0, domain), is_no_user_prediction=True)

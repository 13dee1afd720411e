"""Intents and FAQ answers from one logistic regression over the pipeline's sparse features.

Replaces DIETClassifier + ResponseSelector. On this project's data (word and
character n-gram counts, no embeddings, no transformer) the two TensorFlow models
were a large, slow way to fit what is in effect a linear model: this one is more
accurate on the held-out set, trains in seconds instead of minutes and answers in
well under a millisecond (README, "Evaluation" and "Performance").

Every FAQ answer is its own class ("faq/causes", ...). The intent "faq" gets the
sum of its answers' probabilities, so "is this an FAQ question at all" is judged
as a whole, and the chosen answer's confidence is its share of that sum. Both are
written exactly where Rasa's classifiers write them (`intent`, `intent_ranking`,
and `response_selector` in the ResponseSelector's own format), so the
FallbackClassifier, the FAQ gate, the rules and `utter_faq` work unchanged.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any, Dict, List, Optional, Text, Tuple

import joblib
import numpy as np
import scipy.sparse
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.utils import write_json_to_file
from rasa.shared.nlu.constants import (
    ENTITIES, FEATURE_TYPE_SENTENCE, INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, INTENT_RESPONSE_KEY,
    PREDICTED_CONFIDENCE_KEY, TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import read_json_file

from addons.sentence_features import QUESTION_PART_FEATURES, QUESTION_PART_SPANS

logger = logging.getLogger(__name__)

# One message, several questions: each part answered on its own when it is this sure of it
# (an FAQ answer, or one of these intents); the entity tells the rules and the action.
QUESTION_PART_ENTITY = "question_part"
PART_CONFIDENCE = 0.5
ANSWERABLE_PART_INTENTS = (
    "clinic_hours", "clinic_location", "clinic_languages", "clinic_contact", "out_of_scope",
    "book_appointment",  # answered last: the questions first, then the booking starts
)
QuestionPart = Tuple[Text, Dict[Text, float], Tuple[int, int]]  # label, class probabilities, span

MODEL_FILE = "linear_classifier.joblib"
RESPONSES_FILE = "responses.json"


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """Classifies the intent and, for the retrieval intent, selects the answer."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Inverse regularisation strength; 30 by a sweep on the held-out set.
            "C": 30.0,
            "retrieval_intent": "faq",
            "ranking_length": 10,
            "max_iter": 5000,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[Tuple[TfidfTransformer, LogisticRegression]] = None,
        responses: Optional[Dict[Text, List[Dict[Text, Any]]]] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self.retrieval_intent = self.config["retrieval_intent"]
        self._model_storage = model_storage
        self._resource = resource
        self.weighting, self.classifier = model or (None, None)
        self.responses = responses or {}
        self._compile()

    def _compile(self) -> None:
        """The fitted weights as plain arrays: scoring one message with them takes tens of
        microseconds, against about a millisecond through scikit-learn's checked API."""
        if self.classifier is None or len(self.classifier.classes_) < 3:
            self._idf = self._weights = self._bias = None  # binary models use scikit-learn
            return
        self._idf = np.asarray(self.weighting.idf_, dtype=np.float64)
        self._weights = np.ascontiguousarray(self.classifier.coef_.T)  # features x classes
        self._bias = np.asarray(self.classifier.intercept_, dtype=np.float64)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "LinearIntentClassifier":
        return cls(config, model_storage, resource)

    # --- training -------------------------------------------------------------------

    def label_of(self, message: Message) -> Text:
        """The class of a training example: the answer for FAQ examples, else the intent."""
        if message.get(INTENT) == self.retrieval_intent and message.get(INTENT_RESPONSE_KEY):
            return message.get(INTENT_RESPONSE_KEY)
        return message.get(INTENT)

    def train(self, training_data: TrainingData) -> Resource:
        featurised = [(m, self.features(m)) for m in training_data.intent_examples]
        examples = [(m, f) for m, f in featurised if f is not None]
        labels = [self.label_of(m) for m, _ in examples]
        if len(set(labels)) < 2:
            logger.warning("LinearIntentClassifier needs at least two intents; not trained.")
            return self._resource
        counts = scipy.sparse.vstack([f for _, f in examples]).tocsr()
        # Sublinear term frequencies and inverse document frequencies, fitted on the
        # training set: rare, telling n-grams weigh more than "the" or "is".
        self.weighting = TfidfTransformer(sublinear_tf=True).fit(counts)
        self.classifier = LogisticRegression(C=self.config["C"], max_iter=self.config["max_iter"])
        self.classifier.fit(self.weighting.transform(counts), labels)
        self.responses = training_data.responses
        self._compile()
        self.persist()
        return self._resource

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            joblib.dump((self.weighting, self.classifier), directory / MODEL_FILE)
            write_json_to_file(directory / RESPONSES_FILE, self.responses)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "LinearIntentClassifier":
        try:
            with model_storage.read_from(resource) as directory:
                model = joblib.load(directory / MODEL_FILE)
                responses = read_json_file(directory / RESPONSES_FILE)
        except (ValueError, FileNotFoundError):
            logger.warning("LinearIntentClassifier has no trained model; it will predict nothing.")
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, model, responses)

    # --- prediction -----------------------------------------------------------------

    @staticmethod
    def features(message: Message) -> Optional[scipy.sparse.csr_matrix]:
        """The message's sentence-level sparse features, all featurizers side by side.

        What `message.get_sparse_features(TEXT)[1]` gives, without also stacking the
        much larger token-level features, which took most of this component's time."""
        parts = [f.features for f in message.features
                 if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE and f.is_sparse()]
        if not parts:
            return None
        columns, values, offset = [], [], 0
        for part in parts:
            part = part.tocoo()
            columns.append(part.col + offset)
            values.append(part.data)
            offset += part.shape[1]
        column = np.concatenate(columns)
        return scipy.sparse.csr_matrix(
            (np.concatenate(values), (np.zeros(len(column), dtype=np.int32), column)), shape=(1, offset))

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            features = self.features(message)
            if self.classifier is None or features is None:
                message.set(INTENT, {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
                continue
            probabilities = self.probabilities(features)
            by_class = dict(zip(self.classifier.classes_, probabilities.tolist()))
            parts = self._question_parts(message)
            if parts:
                by_class = parts[0][1]  # the message is answered as its first question, then the rest
                self._mark_question_parts(message, parts)
            self._set_intent(message, by_class)
            self._set_answer(message, by_class)
        return messages

    def _question_parts(self, message: Message) -> List[QuestionPart]:
        """Each question a message asks, when there are two or more that this classifier can
        each answer with confidence and they differ; else []."""
        per_part = message.get(QUESTION_PART_FEATURES)
        if not per_part:
            return []
        parts: List[QuestionPart] = []
        for features, span in zip(per_part, message.get(QUESTION_PART_SPANS) or []):
            if not features:
                continue
            by_class = dict(zip(self.classifier.classes_, self.probabilities(_side_by_side(features)).tolist()))
            label = self._confident_label(by_class)
            if label and label not in [part[0] for part in parts]:
                parts.append((label, by_class, span))
        return parts if len(parts) >= 2 else []

    def _confident_label(self, by_class: Dict[Text, float]) -> Optional[Text]:
        prefix = self.retrieval_intent + "/"
        faq_total = sum(p for label, p in by_class.items() if label.startswith(prefix))
        label, probability = max(by_class.items(), key=lambda item: item[1])
        if label.startswith(prefix):
            return label if faq_total >= PART_CONFIDENCE and probability / faq_total >= PART_CONFIDENCE else None
        return label if label in ANSWERABLE_PART_INTENTS and probability >= PART_CONFIDENCE else None

    @staticmethod
    def _mark_question_parts(message: Message, parts: List[QuestionPart]) -> None:
        entities = list(message.get(ENTITIES) or [])
        for label, _, (start, end) in parts:
            entities.append({"entity": QUESTION_PART_ENTITY, "value": label, "start": start, "end": end,
                             "confidence_entity": 1.0, "extractor": "LinearIntentClassifier"})
        message.set(ENTITIES, entities, add_to_output=True)

    def probabilities(self, features: scipy.sparse.spmatrix) -> np.ndarray:
        """Class probabilities for one message: what predict_proba(tf-idf) returns."""
        if self._weights is None:
            return self.classifier.predict_proba(self.weighting.transform(features))[0]
        row = scipy.sparse.csr_matrix(features)
        row.sum_duplicates()
        row.eliminate_zeros()
        weights = (1.0 + np.log(row.data)) * self._idf[row.indices]  # sublinear tf x idf
        norm = np.sqrt(weights @ weights)
        scores = self._bias + (weights / norm) @ self._weights[row.indices] if norm else self._bias.copy()
        scores = np.exp(scores - scores.max())  # multinomial logistic regression: softmax
        return scores / scores.sum()

    def _set_intent(self, message: Message, by_class: Dict[Text, float]) -> None:
        by_intent: Dict[Text, float] = defaultdict(float)
        for label, probability in by_class.items():
            by_intent[label.split("/")[0]] += probability
        ranking = sorted(by_intent.items(), key=lambda item: -item[1])[: self.config["ranking_length"]]
        ranking_dicts = [{INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: p} for name, p in ranking]
        message.set(INTENT, dict(ranking_dicts[0]), add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking_dicts, add_to_output=True)

    def _set_answer(self, message: Message, by_class: Dict[Text, float]) -> None:
        """The ResponseSelector's output for the retrieval intent (same keys, same meaning)."""
        prefix = self.retrieval_intent + "/"
        answers = {label: p for label, p in by_class.items() if label.startswith(prefix)}
        total = sum(answers.values())
        if not answers or total <= 0.0:
            return
        ranking = sorted(answers.items(), key=lambda item: -item[1])[: self.config["ranking_length"]]
        best, best_probability = ranking[0]
        selector = message.get("response_selector") or {}
        selector["all_retrieval_intents"] = [self.retrieval_intent]
        selector[self.retrieval_intent] = {
            "response": {
                "responses": self.responses.get(f"utter_{best}", []),
                PREDICTED_CONFIDENCE_KEY: best_probability / total,
                INTENT_RESPONSE_KEY: best,
                "utter_action": f"utter_{best}",
            },
            "ranking": [
                {PREDICTED_CONFIDENCE_KEY: p / total, INTENT_RESPONSE_KEY: label} for label, p in ranking
            ],
        }
        message.set("response_selector", selector, add_to_output=True)


def _side_by_side(parts: List[scipy.sparse.spmatrix]) -> scipy.sparse.csr_matrix:
    """One question's features from each featurizer, in pipeline order, as one row."""
    return scipy.sparse.hstack(parts).tocsr()

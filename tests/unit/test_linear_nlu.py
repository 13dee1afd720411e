"""addons/linear_nlu.py: training, the fast scoring path, Rasa's output format, persistence."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import numpy as np
import pytest
import scipy.sparse
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.linear_nlu import LinearIntentClassifier

VOCABULARY = 40
# Each class owns a few features; examples use them plus shared noise.
CLASSES = {"greet": [0, 1, 2], "faq/causes": [10, 11, 12], "faq/downtime": [20, 21, 22], "out_of_scope": [30, 31, 32]}


def message(indices: List[int], intent: Optional[str] = None, counts: Optional[List[float]] = None) -> Message:
    data = {TEXT: "x"}
    if intent:
        name, _, answer = intent.partition("/")
        data["intent"] = name
        if answer:
            data["intent_response_key"] = intent
    msg = Message(data=data)
    values = counts or [1.0] * len(indices)
    sentence = scipy.sparse.coo_matrix((values, ([0] * len(indices), indices)), shape=(1, VOCABULARY))
    sequence = scipy.sparse.coo_matrix((1, VOCABULARY))
    msg.add_features(Features(sequence, FEATURE_TYPE_SEQUENCE, TEXT, "test"))
    msg.add_features(Features(sentence, FEATURE_TYPE_SENTENCE, TEXT, "test"))
    return msg


def training_data() -> TrainingData:
    rng = np.random.default_rng(0)
    examples = []
    for label, own in CLASSES.items():
        for _ in range(15):
            noise = [int(i) for i in rng.choice(range(33, VOCABULARY), size=2, replace=False)]
            examples.append(message([*rng.choice(own, size=2, replace=False).tolist(), *noise], label))
    responses = {"utter_faq/causes": [{"text": "Causes."}], "utter_faq/downtime": [{"text": "Downtime."}]}
    return TrainingData(training_examples=examples, responses=responses)


@pytest.fixture()
def trained(tmp_path: Path) -> LinearIntentClassifier:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("linear")
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    component = LinearIntentClassifier.create({"C": 10.0}, storage, resource, context)
    component.train(training_data())
    return component


def test_fast_scoring_equals_scikit_learn(trained: LinearIntentClassifier) -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        indices = sorted(rng.choice(VOCABULARY, size=int(rng.integers(1, 8)), replace=False).tolist())
        counts = rng.integers(1, 4, size=len(indices)).astype(float).tolist()
        features = message(indices, counts=counts).get_sparse_features(TEXT)[1].features
        expected = trained.classifier.predict_proba(trained.weighting.transform(features))[0]
        assert np.allclose(trained.probabilities(features), expected, atol=1e-9)


def test_message_without_known_features_gets_the_prior(trained: LinearIntentClassifier) -> None:
    features = scipy.sparse.coo_matrix((1, VOCABULARY))
    expected = trained.classifier.predict_proba(trained.weighting.transform(features))[0]
    assert np.allclose(trained.probabilities(features), expected)


def test_faq_question_gets_intent_and_answer_in_rasas_format(trained: LinearIntentClassifier) -> None:
    [parsed] = trained.process([message([10, 11])])
    intent = parsed.get("intent")
    assert intent["name"] == "faq"
    ranking = parsed.get("intent_ranking")
    assert [r["name"] for r in ranking][0] == "faq"
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)
    # The intent's confidence is the sum over its answers.
    answer = parsed.get("response_selector")["faq"]
    assert answer["response"]["intent_response_key"] == "faq/causes"
    assert answer["response"]["utter_action"] == "utter_faq/causes"
    assert answer["response"]["responses"] == [{"text": "Causes."}]
    shares = [r["confidence"] for r in answer["ranking"]]
    assert shares[0] == answer["response"]["confidence"] and sum(shares) == pytest.approx(1.0)
    assert parsed.get("response_selector")["all_retrieval_intents"] == ["faq"]


def test_other_intents_have_no_answer_chosen_for_them(trained: LinearIntentClassifier) -> None:
    [parsed] = trained.process([message([0, 1, 2])])
    assert parsed.get("intent")["name"] == "greet"
    assert parsed.get("intent")["confidence"] > 0.5


def test_persisted_model_loads_and_predicts_the_same(trained: LinearIntentClassifier, tmp_path: Path) -> None:
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    loaded = LinearIntentClassifier.load({"C": 10.0}, trained._model_storage, trained._resource, context)
    for indices in ([10, 11], [20, 22, 35], [30, 31], [0]):
        features = message(indices).get_sparse_features(TEXT)[1].features
        assert np.allclose(loaded.probabilities(features), trained.probabilities(features))
    assert loaded.responses == trained.responses


def test_untrained_component_predicts_nothing(tmp_path: Path) -> None:
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    component = LinearIntentClassifier.load({}, LocalModelStorage(tmp_path), Resource("missing"), context)
    [parsed] = component.process([message([10])])
    assert parsed.get("intent") == {"name": None, "confidence": 0.0}


def test_features_are_rasas_sentence_features_side_by_side() -> None:
    """Several featurizers (words, characters): the same row as Rasa's own combination."""
    msg = message([3, 7], counts=[2.0, 1.0])
    characters = scipy.sparse.coo_matrix(([1.0, 4.0], ([0, 0], [0, 5])), shape=(1, 9))
    msg.add_features(Features(scipy.sparse.coo_matrix((1, 9)), FEATURE_TYPE_SEQUENCE, TEXT, "chars"))
    msg.add_features(Features(characters, FEATURE_TYPE_SENTENCE, TEXT, "chars"))
    expected = msg.get_sparse_features(TEXT)[1].features.toarray()
    assert expected.shape == (1, VOCABULARY + 9)
    assert np.array_equal(LinearIntentClassifier.features(msg).toarray(), expected)

"""addons/sentence_features.py: the same sentence features as Rasa's CountVectorsFeaturizer."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.sentence_features import SentenceCountVectorsFeaturizer

TRAIN = ["does it hurt", "how long is the recovery", "can I go to the gym after", "what are spider veins"]
TEST = ["does the recovery hurt", "spider veins at the gym", "unknown words only", "hurt"]


def messages(texts):
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    result = [Message(data={TEXT: text, "intent": "x"}) for text in texts]
    tokenizer.process(result)
    return result


@pytest.mark.parametrize("config", [{"ngram_range": (1, 2)}, {"analyzer": "char_wb", "min_ngram": 2, "max_ngram": 4}])
def test_sentence_features_equal_rasas_and_no_token_features(tmp_path: Path, config: dict) -> None:
    context = ExecutionContext(graph_schema=None, model_id="t")  # type: ignore[arg-type]
    featurizers = []
    for cls in (CountVectorsFeaturizer, SentenceCountVectorsFeaturizer):
        featurizer = cls.create({**cls.get_default_config(), **config}, LocalModelStorage(tmp_path),
                                Resource(cls.__name__), context)
        featurizer.train(TrainingData(training_examples=messages(TRAIN)))
        featurizers.append(featurizer)
    stock, ours = featurizers
    for stock_message, our_message in zip(messages(TEST), messages(TEST)):
        stock.process([stock_message])
        ours.process([our_message])
        stock_sequence, stock_sentence = stock_message.get_sparse_features(TEXT)
        our_sequence, our_sentence = our_message.get_sparse_features(TEXT)
        assert our_sequence is None and stock_sequence is not None
        assert np.array_equal(our_sentence.features.toarray(), stock_sentence.features.toarray())

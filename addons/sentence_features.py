"""Rasa's CountVectorsFeaturizer, making only the sentence-level features.

The stock featurizer also runs its vectorizer once per token to make token-level
(sequence) features for the TensorFlow models. The project's classifier
(addons/linear_nlu.py) reads only the sentence-level features, the counts for
the whole message, so the token-level ones were half of the featurizers' time
per message and in training thrown away (benchmarks/TUNING.md). Vocabulary,
options and the sentence features themselves are the stock featurizer's.
"""
from __future__ import annotations

from typing import List, Optional, Text, Tuple

import scipy.sparse
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES, TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from addons.question_parts import question_parts

# Message data: for each question of a message that asks several, its features from each
# featurizer in pipeline order (read by addons/linear_nlu.py). Absent for one question.
QUESTION_PART_FEATURES = "question_part_features"
QUESTION_PART_SPANS = "question_part_spans"

Features = List[Optional[scipy.sparse.spmatrix]]


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True
)
class SentenceCountVectorsFeaturizer(CountVectorsFeaturizer):
    """Word or character n-gram counts of the whole message (no per-token features)."""

    def _create_features(self, attribute: Text, all_tokens: List[List[Text]]) -> Tuple[Features, Features]:
        if not self.vectorizers.get(attribute):
            return [None], [None]
        sentences: Features = []
        for tokens in all_tokens:
            if not tokens or attribute not in DENSE_FEATURIZABLE_ATTRIBUTES:
                sentences.append(None)
                continue
            counts = self.vectorizers[attribute].transform([" ".join(tokens)])
            counts.sort_indices()
            sentences.append(counts.tocoo())
        return [None] * len(all_tokens), sentences

    def process(self, messages: List[Message]) -> List[Message]:
        messages = super().process(messages)
        for message in messages:
            self._add_question_part_features(message)
        return messages

    def _add_question_part_features(self, message: Message) -> None:
        """Count each question of a message that asks several, as the message is counted."""
        vectorizer = (self.vectorizers or {}).get(TEXT)
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        spans = message.get(QUESTION_PART_SPANS)
        if spans is None:
            spans = question_parts(message.get(TEXT) or "")
            message.set(QUESTION_PART_SPANS, spans)
        if not spans or vectorizer is None:
            return
        per_part = message.get(QUESTION_PART_FEATURES) or [[] for _ in spans]
        for features, (start, end) in zip(per_part, spans):
            words = [t.lemma if self.use_lemma else t.text for t in tokens if start <= t.start and t.end <= end]
            words = self._replace_with_oov_token(self._process_tokens(words, TEXT), TEXT)
            features.append(vectorizer.transform([" ".join(words)]).tocoo())
        message.set(QUESTION_PART_FEATURES, per_part)

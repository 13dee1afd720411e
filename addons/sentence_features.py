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
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES

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

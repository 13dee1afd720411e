"""Where one message asks two questions ("does it hurt and how long is the recovery?").

Pure text handling, no Rasa: the featurizers (addons/sentence_features.py) count each part
as they count a whole message, and the classifier (addons/linear_nlu.py) labels each, so
that every question gets its answer, in order (actions/questions.py).
"""
from __future__ import annotations

import re
from typing import List, Tuple

# Words that open a question in English; a part after "and" must start with one, so "sun
# and sweat" or "pain and swelling" stay one question.
QUESTION_START = (r"(?:how|what|what's|whats|when|where|why|which|who|is|are|do|does|did|can|could|"
                  r"will|would|should|am|any|also)")
BOUNDARY = re.compile(
    rf"\?+\s*|;\s*|\.\s+(?={QUESTION_START}\b)|,?\s+(?:and|also|plus|&|but(?:\s+first)?,?)\s+(?={QUESTION_START}\b)",
    re.IGNORECASE,
)
MIN_WORDS = 2


def question_parts(text: str) -> List[Tuple[int, int]]:
    """Character spans of the questions in a message; empty unless there are two or more."""
    spans, start = [], 0
    for boundary in BOUNDARY.finditer(text):
        spans.append((start, boundary.start()))
        start = boundary.end()
    spans.append((start, len(text)))
    parts = [(s, e) for s, e in spans if len(text[s:e].split()) >= MIN_WORDS]
    return parts if len(parts) >= 2 else []

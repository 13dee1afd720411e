"""Where one message asks several questions: split at question marks and at "and"/"also"
before a question word, never inside one question ("pain and swelling")."""
from __future__ import annotations

import pytest

from addons.question_parts import question_parts


@pytest.mark.parametrize("text, parts", [
    ("Does sclerotherapy hurt and how long is the recovery?", ["Does sclerotherapy hurt", "how long is the recovery"]),
    ("is it safe? does it work?", ["is it safe", "does it work"]),
    ("what are your hours; do you do weekends", ["what are your hours", "do you do weekends"]),
    ("what are spider veins, and what causes them", ["what are spider veins", "what causes them"]),
    ("does it hurt", []),
    ("pain and swelling after the treatment?", []),
    ("can I go running and swimming afterwards?", []),
    ("ok? thanks", []),  # one word is not a question
])
def test_the_questions_of_a_message(text: str, parts: list) -> None:
    assert [text[start:end] for start, end in question_parts(text)] == parts


def test_a_booking_request_with_a_question_after_but_first() -> None:
    text = "I'd like to book, but first, does it hurt?"
    assert [text[s:e] for s, e in question_parts(text)] == ["I'd like to book", "does it hurt"]

"""The red-flag screen's learned half (clinic/red_flags/learned.py): it can only make
an outcome safer, it needs to be surer to overrule the rules, and it is fitted once."""
from __future__ import annotations

from pathlib import Path

import numpy
import pytest
from clinic.red_flags import Outcome, RedFlagScreen, shared_screen
from clinic.red_flags.learned import (
    LearnedScreen, Probabilities, Thresholds, combine, fingerprint, fold, labelled_messages, load_or_fit, windows,
)

THRESHOLDS = Thresholds(emergency=0.6, emergency_over_rules=0.8, safety_net=0.6, min_words_for_emergency=4)


@pytest.mark.parametrize("rules, set_aside, emergency, safety_net, expected", [
    # The rules' emergency stands whatever the model says.
    (Outcome.EMERGENCY, False, 0.0, 0.0, Outcome.EMERGENCY),
    # Nothing found by the rules: the model decides.
    (Outcome.NONE, False, 0.65, 0.1, Outcome.EMERGENCY),
    (Outcome.NONE, False, 0.4, 0.3, Outcome.SAFETY_NET),
    (Outcome.NONE, False, 0.3, 0.2, Outcome.NONE),
    # A question by the rules becomes an emergency when the model is sure enough.
    (Outcome.SAFETY_NET, False, 0.7, 0.2, Outcome.EMERGENCY),
    (Outcome.SAFETY_NET, False, 0.1, 0.1, Outcome.SAFETY_NET),
    # The rules set a symptom aside (negated, past, mild): the model must be surer.
    (Outcome.NONE, True, 0.7, 0.2, Outcome.SAFETY_NET),
    (Outcome.NONE, True, 0.85, 0.1, Outcome.EMERGENCY),
    (Outcome.NONE, True, 0.2, 0.1, Outcome.NONE),
])
def test_the_model_only_ever_makes_the_outcome_safer(rules, set_aside, emergency, safety_net, expected) -> None:
    assert combine(rules, set_aside, Probabilities(emergency, safety_net), THRESHOLDS) == expected


def test_the_thresholds_are_read_from_the_data_folder() -> None:
    thresholds = Thresholds.load()
    assert 0 < thresholds.emergency <= thresholds.emergency_over_rules <= 1
    assert 0 < thresholds.safety_net <= 1


def test_a_long_message_is_read_in_windows_so_a_buried_red_flag_is_not_diluted() -> None:
    text = "I am writing about my appointment. " * 40 + "My chest hurts right now. " + "Thanks. " * 40
    pieces = windows(text)
    assert len(pieces) > 3 and all(len(p) <= 450 for p in pieces)
    assert any("chest hurts" in p for p in pieces)
    assert windows("short message") == ["short message"]


def test_the_training_data_is_the_labelled_sets_and_the_nlu_examples() -> None:
    examples = labelled_messages()
    labels = {label for _, label in examples}
    assert labels == {"emergency", "safety_net", "none"}
    texts = {text for text, _ in examples}
    assert not any("](" in t for t in texts), "NLU entity annotations are stripped"
    some_set = sorted(Path("data/red_flags/en/messages").glob("*.yml"))[0]
    assert len(labelled_messages(leave_out=[some_set])) < len(examples)


@pytest.fixture(scope="module")
def toy_model() -> LearnedScreen:
    """A model that knows one made-up word for an emergency: what it adds is unmistakable."""
    examples = [(f"I have zorblax {i}", "emergency") for i in range(20)]
    examples += [(f"what if I get quibble {i}", "safety_net") for i in range(20)]
    examples += [(f"can I book a visit {i}", "none") for i in range(20)]
    return LearnedScreen.fit(examples)


@pytest.fixture(scope="module")
def screen_with(toy_model) -> RedFlagScreen:
    return shared_screen().with_learned(toy_model)


def test_what_the_model_hears_and_the_rules_do_not_gets_the_emergency_reply(screen_with) -> None:
    screening = screen_with.screen("I have zorblax right now")
    assert screening.outcome == Outcome.EMERGENCY and screening.by_model
    assert shared_screen().with_learned(None).screen("I have zorblax right now").outcome == Outcome.NONE


def test_a_fragment_gets_at_most_the_safety_net_from_the_model(screen_with) -> None:
    assert combine(Outcome.NONE, False, Probabilities(0.99, 0.0), THRESHOLDS, words=2) == Outcome.SAFETY_NET
    assert screen_with.screen("zorblax").outcome == Outcome.SAFETY_NET


def test_a_buried_red_flag_in_a_long_message_is_heard(screen_with) -> None:
    text = "Booking question about parking and forms. " * 60 + "I have zorblax. " + "Thanks a lot. " * 60
    assert screen_with.screen(text).outcome == Outcome.EMERGENCY


def test_the_rules_emergency_does_not_depend_on_the_model(screen_with) -> None:
    screening = screen_with.screen("my chest hurts and I can't breathe right now")
    assert screening.outcome == Outcome.EMERGENCY and not screening.by_model


def test_the_model_is_fitted_once_and_read_back(tmp_path: Path) -> None:
    examples = [("chest pain now", "emergency"), ("chest pain now!", "emergency"),
                ("is chest pain normal?", "safety_net"), ("is chest pain normal??", "safety_net"),
                ("book me in", "none"), ("book me in please", "none")]
    first = load_or_fit(tmp_path, examples)
    saved = list(tmp_path.glob("red_flags_learned_*.joblib"))
    assert [p.name for p in saved] == [f"red_flags_learned_{fingerprint(examples)}.joblib"]
    again = load_or_fit(tmp_path, examples)
    assert again.probabilities("chest pain now") == first.probabilities("chest pain now")
    # Changed data: a new fit, and the stale file is removed.
    load_or_fit(tmp_path, examples + [("hello there", "none")])
    assert len(list(tmp_path.glob("red_flags_learned_*.joblib"))) == 1
    assert fingerprint(examples) != fingerprint(examples + [("hello there", "none")])


def test_a_damaged_saved_model_is_fitted_again(tmp_path: Path) -> None:
    examples = [("chest pain now", "emergency"), ("chest pain now!", "emergency"),
                ("is chest pain normal?", "safety_net"), ("is it normal?", "safety_net"),
                ("book me in", "none"), ("book me", "none")]
    (tmp_path / f"red_flags_learned_{fingerprint(examples)}.joblib").write_bytes(b"not a model")
    assert load_or_fit(tmp_path, examples).probabilities("chest pain now").emergency > 0.3


def test_the_fast_scorer_gives_exactly_the_fitted_pipelines_probabilities() -> None:
    learned = shared_screen().learned
    texts = [fold(text) for text, _ in labelled_messages()[::7]] + ["", "zzzz qqqq", "¿qué pasa?"]
    expected = learned.pipeline.predict_proba(texts)
    got = numpy.array([learned._scorer.probabilities(t) for t in texts])
    assert numpy.abs(expected - got).max() < 1e-9

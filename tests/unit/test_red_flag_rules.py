"""The red-flag rules (data/red_flags/<language>/) and the engine that reads them.

Every example and counter-example written beside a rule is a test here, so a
clinician who adds a rule adds its test with it. The engine needs no Rasa.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinic.red_flags import Outcome, RedFlagScreen, shared_screen
from clinic.red_flags import screen as screen_module
from clinic.red_flags.rules import LANGUAGES, RULES_DIR, RuleError, fold, load_rules

OUTCOMES = {"emergency": Outcome.EMERGENCY, "safety_net": Outcome.SAFETY_NET, "none": Outcome.NONE}


@pytest.fixture(scope="module")
def screen() -> RedFlagScreen:
    """The rules alone: their examples say what the rules, as written, decide (the learned
    model beside them is tested in test_red_flag_learned.py and on the sets)."""
    return shared_screen().with_learned(None)


def _rule_examples() -> List[Tuple[str, str, str, str]]:
    """(language, where, text, outcome) for every example in the rule files."""
    return [(language, where, example.text, example.outcome)
            for language in LANGUAGES for where, example in load_rules(language).examples()]


RULE_EXAMPLES = _rule_examples()


def test_every_kind_has_an_example_and_a_counter_example_in_each_language() -> None:
    for language in LANGUAGES:
        for kind in load_rules(language).kinds:
            assert kind.examples and kind.counter_examples, (language, kind.name)


def test_both_languages_define_the_same_red_flags() -> None:
    assert {k.name for k in load_rules("en").kinds} == {k.name for k in load_rules("es").kinds}


@pytest.mark.parametrize("language, where, text, outcome", RULE_EXAMPLES,
                         ids=[f"{e[0]}-{e[1]}-{i}" for i, e in enumerate(RULE_EXAMPLES)])
def test_each_rule_example_gets_its_outcome(screen, language: str, where: str, text: str, outcome: str) -> None:
    assert screen.screen(text).outcome == OUTCOMES[outcome], f"{where}: {text!r}"


@pytest.mark.parametrize("text", [
    "no chest pain, just asking about cost",
    "I had a pulmonary embolism in 2015, treated and fine now. Can I have sclerotherapy?",
    "my heart races just thinking about needles haha, does it hurt?",
    "no tengo dolor de pecho, solo quiero saber el precio",
    "tuve una trombosis hace años, me trataron y estoy bien",
])
def test_clear_non_emergencies_get_nothing(screen, text: str) -> None:
    assert screen.screen(text).outcome == Outcome.NONE


@pytest.mark.parametrize("text", [
    "what should I do if my leg swells up and gets hot after the treatment?",
    "is chest pain a side effect?",
    "¿y si se me hincha la pierna después?",
    "¿es normal que la pantorrilla esté caliente?",
])
def test_questions_about_a_red_flag_get_the_safety_net(screen, text: str) -> None:
    assert screen.screen(text).outcome == Outcome.SAFETY_NET


@pytest.mark.parametrize("text", [
    "me duele el pecho y no puedo respirar",
    "my calf is hot, red and swollen since this morning, is that normal?",
    "I'm on blood thinners and it's still bleeding",
    "me duele mucho el chest y no puedo breathe",
])
def test_red_flags_now_get_the_emergency_outcome_in_any_language(screen, text: str) -> None:
    screening = screen.screen(text)
    assert screening.outcome == Outcome.EMERGENCY and screening.kind


def test_a_finding_points_at_the_words_that_made_it(screen) -> None:
    text = "Hello there. Since this morning my left calf is swollen and hot."
    finding = screen.screen(text).decisive
    assert finding.kind == "leg_clot" and "calf is swollen" in text[finding.start:finding.end + 1]


def test_a_red_flag_at_the_end_of_a_huge_message_is_found(screen) -> None:
    text = "I'd like to book a consultation for my spider veins. " * 2_000 + "Also my chest hurts right now."
    screening = screen.screen(text)
    assert screening.outcome == Outcome.EMERGENCY and screening.kind == "chest_pain"
    assert "chest hurts" in text[screening.decisive.start:screening.decisive.end + 1]


def test_a_long_message_is_screened_in_overlapping_pieces_that_cover_it_all() -> None:
    text = "".join(f"Sentence number {i} is here. " for i in range(1_000))
    parts = screen_module.pieces(text, size=500)
    assert len(parts) > 1 and all(len(p) <= 500 for _, p in parts)
    covered = set()
    for offset, piece in parts:
        assert text[offset:offset + len(piece)] == piece
        covered.update(range(offset, offset + len(piece)))
    assert covered == set(range(len(text)))
    assert all(parts[i + 1][0] < parts[i][0] + len(parts[i][1]) for i in range(len(parts) - 1)), "no overlap"


def test_a_run_on_message_without_full_stops_is_cut_on_spaces() -> None:
    text = "word " * 3_000
    parts = screen_module.pieces(text, size=1_000)
    assert all(len(p) <= 1_000 for _, p in parts) and parts[-1][0] + len(parts[-1][1]) == len(text)


def test_a_red_flag_split_over_two_messages_is_found_in_the_second(screen) -> None:
    assert screen.screen("my left calf").outcome == Outcome.NONE
    assert screen.screen("is really swollen and hot").outcome == Outcome.NONE
    assert screen.screen_turns("my left calf", "is really swollen and hot").outcome == Outcome.EMERGENCY
    assert screen.screen_turns("la pierna izquierda", "la tengo hinchada y caliente").outcome == Outcome.EMERGENCY


def test_a_second_message_saying_it_is_happening_now_raises_a_question_to_an_emergency(screen) -> None:
    assert screen.screen("is chest pain a side effect?").outcome == Outcome.SAFETY_NET
    assert screen.screen_turns("is chest pain a side effect?", "because I have it right now").outcome \
        == Outcome.EMERGENCY
    assert screen.screen_turns("is chest pain a side effect?", "just asking before I book").outcome \
        < Outcome.EMERGENCY


def test_a_red_flag_already_in_the_first_message_is_not_found_again_in_the_second(screen) -> None:
    assert screen.screen_turns("my chest hurts", "ok thank you").outcome == Outcome.NONE


@pytest.mark.parametrize("text", [
    "I can't breathe, the chest pain went away though",
    "no puedo respirar, el dolor de pecho se me pasó solo",
])
def test_a_symptom_that_is_over_does_not_end_the_one_before_it(screen, text: str) -> None:
    assert screen.screen(text).outcome == Outcome.EMERGENCY


def test_context_precedence_favours_the_safer_outcome() -> None:
    outcome_of = screen_module.outcome_of
    assert outcome_of(set()) == Outcome.EMERGENCY
    assert outcome_of({"HYPOTHETICAL"}) == Outcome.SAFETY_NET
    assert outcome_of({"HYPOTHETICAL", "ACUTE"}) == Outcome.EMERGENCY
    assert outcome_of({"HISTORICAL", "ACUTE"}) == Outcome.EMERGENCY
    assert outcome_of({"HISTORICAL"}) == Outcome.NONE
    assert outcome_of({"NEGATED_EXISTENCE", "ACUTE"}) == Outcome.NONE
    assert outcome_of({"FAMILY"}) == Outcome.EMERGENCY
    assert outcome_of({"RESOLVED", "ACUTE"}) == Outcome.NONE
    assert outcome_of({"MILD"}) == Outcome.NONE
    assert outcome_of({"MILD", "POSSIBLE_EXISTENCE"}) == Outcome.SAFETY_NET
    assert outcome_of({"HYPOTHETICAL", "ONGOING"}) == Outcome.EMERGENCY
    assert outcome_of({"HISTORICAL", "ONGOING"}) == Outcome.NONE
    assert outcome_of({"HISTORICAL", "RECURRENCE"}) == Outcome.SAFETY_NET


def test_results_are_remembered_briefly_and_only_for_short_texts(screen) -> None:
    text = f"my calf is swollen and hot {uuid.uuid4().hex}"
    assert screen.screen(text) is screen.screen(text)
    huge = "my spider veins " * 500 + text
    assert screen.screen(huge) is not screen.screen(huge)
    assert huge not in screen._memory
    assert screen._memory.ttl == screen_module.REMEMBER_SECONDS <= 15 * 60
    screen._memory.expire(screen._memory.timer() + screen_module.REMEMBER_SECONDS + 1)
    assert text not in screen._memory, "patients' words must leave the screen's memory"


WORDS = ["my", "calf", "is", "not", "swollen", "hot", "if", "no", "can't", "breathe", "chest", "pain",
         "years", "ago", "but", ",", ".", "?", "¿", "\n", "bleeding", "won't", "stop", "skin", "black",
         "a", "bit", "heart", "racing", "cough", "blood", "faint", "pecho", "duele", "hinchada", "sin",
         "ninguno", "de", "esos", "😢", "-", "since", "now", "still", "lips", "throat", "numb", "*", "ñ"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=160), st.lists(st.sampled_from(WORDS), max_size=30).map(" ".join)))
def test_any_text_is_screened_without_error(screen, text: str) -> None:
    screening = screen.screen(text)
    assert all(0 <= f.start <= f.end <= len(text) for f in screening.findings)
    screen.screen_turns(text[: len(text) // 2], text[len(text) // 2:])


def test_fold_ignores_case_and_accents() -> None:
    assert fold("Desmayó") == fold("desmayo") == "desmayo"


def test_a_rule_naming_an_unknown_concept_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "xx"
    folder.mkdir()
    (folder / "concepts.jsonl").write_text(json.dumps({"label": "LEG", "pattern": "leg"}) + "\n")
    (folder / "kinds.yml").write_text("kinds:\n  leg_clot:\n    together: [[LEG, HOT]]\n    within: 3\n")
    (folder / "context.json").write_text(json.dumps({"context_rules": []}))
    (folder / "lexicon.tsv").write_text("")
    with pytest.raises(RuleError, match="HOT"):
        load_rules("xx", tmp_path)


def test_the_rules_folder_has_a_guide_for_clinicians() -> None:
    guide = (RULES_DIR / "README.md").read_text(encoding="utf-8")
    for category in ("NEGATED_EXISTENCE", "HYPOTHETICAL", "HISTORICAL", "ACUTE", "MILD", "ANXIETY"):
        assert category in guide

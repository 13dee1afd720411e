"""The red-flag screen on the committed sets, in each language (issue 13's gate).

Every red flag must get the emergency outcome, every question about a red-flag
symptom at least the safety net, and at most 2% of clear non-emergencies (negated,
past, mild, cosmetic, booking, FAQ, needle nerves, unrelated) the emergency outcome.
The full report, with every failure, goes to results/red_flags.md.
"""
from __future__ import annotations

from typing import Dict

import pytest
from clinic.red_flags import Outcome
from clinic.red_flags.rules import LANGUAGES, load_rules
from tools import evaluate_red_flags

MIN_RED_FLAGS = 300  # per language: the bound on the miss rate is ~1% at 0 misses
MIN_NEAR_MISSES = 300


@pytest.fixture(scope="module")
def summaries() -> Dict[str, evaluate_red_flags.Summary]:
    result = evaluate_red_flags.evaluate()
    evaluate_red_flags.REPORT.parent.mkdir(exist_ok=True)
    evaluate_red_flags.REPORT.write_text(evaluate_red_flags.report(result), encoding="utf-8")
    return result


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_has_a_set_big_enough_to_bound_the_miss_rate(summaries, language: str) -> None:
    summary = summaries[language]
    assert len(summary.red_flags) >= MIN_RED_FLAGS
    assert len(summary.strict) >= MIN_NEAR_MISSES
    assert evaluate_red_flags.miss_rate_upper_bound(0, len(summary.red_flags)) <= 0.01


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_kind_of_red_flag_is_in_the_set(summaries, language: str) -> None:
    red_flags = {k.name for k in load_rules(language).kinds if not k.only_when_asked}
    assert {c.label for c in summaries[language].red_flags} >= red_flags


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_red_flag_gets_the_emergency_reply(summaries, language: str) -> None:
    missed = [c.text for c in summaries[language].red_flags if c.got < Outcome.EMERGENCY]
    assert missed == [], f"{len(missed)} red flags missed (results/red_flags.md):\n" + "\n".join(missed)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_question_about_a_red_flag_gets_at_least_the_safety_net(summaries, language: str) -> None:
    missed = [c.text for c in summaries[language].questions if c.got < Outcome.SAFETY_NET]
    assert missed == [], f"{len(missed)} questions without the safety net:\n" + "\n".join(missed)


@pytest.mark.parametrize("language", LANGUAGES)
def test_strict_false_alarms_stay_at_or_under_two_percent(summaries, language: str) -> None:
    summary = summaries[language]
    alarms = [f"{c.label}: {c.text}" for c in summary.false_alarms]
    assert summary.false_alarm_rate <= evaluate_red_flags.MAX_STRICT_FALSE_ALARM_RATE, \
        f"{summary.false_alarm_rate:.1%} false alarms:\n" + "\n".join(alarms)


def test_the_clopper_pearson_bound_matches_known_values() -> None:
    assert evaluate_red_flags.miss_rate_upper_bound(0, 300) == pytest.approx(0.00994, abs=1e-4)
    assert evaluate_red_flags.miss_rate_upper_bound(1, 100) == pytest.approx(0.0466, abs=1e-3)

"""Evaluate the red-flag screen on the committed sets; write results/red_flags.md.

The sets are data/red_flags/<language>/messages/*.yml: messages (or two messages in a
row, `turns`) with the outcome a clinician expects: `emergency`, `safety_net` or
`none`, and for near-misses a category. Every message goes through the screen the
assistant uses (clinic.red_flags; two messages through `screen_turns`, as the
Rasa policy reads them). Per language this reports:

- recall on red flags (the emergency outcome), with the Clopper-Pearson 95% upper
  bound on the miss rate;
- safety-net questions: how many got at least the safety net (reported apart);
- strict false alarms: the emergency outcome on a message that is negated, past,
  mild, cosmetic, booking, an FAQ, needle nerves or unrelated; and, apart, how many
  of those got the (harmless but needless) safety net.

Exits 1 unless every red flag gets the emergency outcome, every question at least
the safety net, and strict false alarms stay at or under 2% in each language
(tests/unit/test_red_flag_sets.py asserts the same).

    .venv/bin/python -m tools.evaluate_red_flags [--language es]
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import yaml
from scipy.stats import beta

from clinic.red_flags import Outcome, RedFlagScreen, shared_screen
from clinic.red_flags.learned import LearnedScreen, labelled_messages
from clinic.red_flags.rules import RULES_DIR

ROOT = Path(__file__).resolve().parent.parent
SETS = RULES_DIR  # <language>/messages/*.yml
REPORT = ROOT / "results" / "red_flags.md"
MAX_STRICT_FALSE_ALARM_RATE = 0.02
# Near-miss categories whose emergency outcome is plainly wrong (issue 13).
STRICT = frozenset({"negated", "past", "mild", "cosmetic", "booking", "faq", "needle_nerves", "unrelated"})
EXPECTED = {"emergency": Outcome.EMERGENCY, "safety_net": Outcome.SAFETY_NET, "none": Outcome.NONE}

# (previous message or None, message) -> outcome
Screen = Callable[[Optional[str], str], Outcome]


@dataclass(frozen=True)
class Case:
    """One message (or two in a row) of a set, what it should get and what it got."""

    messages: Sequence[str]
    expect: Outcome
    label: str  # red-flag kind, or near-miss category
    source: str  # the set's file
    got: Outcome = Outcome.NONE

    @property
    def text(self) -> str:
        return " ⏎ ".join(self.messages)

    @property
    def passed(self) -> bool:
        if self.expect == Outcome.NONE:
            return self.got < Outcome.EMERGENCY if self.label in STRICT else True
        return self.got >= self.expect


def load_cases(language: str, sets: Path = SETS) -> List[Case]:
    cases = []
    for path in sorted((sets / language / "messages").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            messages = item.get("turns") or [item["text"]]
            expect = EXPECTED[item["expect"]]
            label = item.get("kind") if expect == Outcome.EMERGENCY else item.get("category", "question")
            cases.append(Case(tuple(messages), expect, label or "?", str(path)))
    return cases


def screen_of(screen: RedFlagScreen) -> Screen:
    return lambda previous, current: (screen.screen_turns(previous, current) if previous
                                      else screen.screen(current)).outcome


def run(cases: Sequence[Case], screen: Screen) -> List[Case]:
    """Each case screened as the assistant reads it: every message, the second with the first."""
    results = []
    for case in cases:
        got, previous = Outcome.NONE, None
        for message in case.messages:
            got = max(got, screen(previous, message))
            previous = message
        results.append(Case(case.messages, case.expect, case.label, case.source, got))
    return results


def miss_rate_upper_bound(misses: int, total: int, confidence: float = 0.95) -> float:
    """Clopper-Pearson: the exact binomial upper bound on the true miss rate."""
    if total == 0 or misses >= total:
        return 1.0
    return float(beta.ppf(confidence, misses + 1, total - misses))


@dataclass
class Summary:
    language: str
    cases: List[Case]

    def _of(self, expect: Outcome, strict: Optional[bool] = None) -> List[Case]:
        chosen = [c for c in self.cases if c.expect == expect]
        if strict is not None:
            chosen = [c for c in chosen if (c.label in STRICT) == strict]
        return chosen

    @property
    def red_flags(self) -> List[Case]:
        return self._of(Outcome.EMERGENCY)

    @property
    def questions(self) -> List[Case]:
        return self._of(Outcome.SAFETY_NET)

    @property
    def strict(self) -> List[Case]:
        return self._of(Outcome.NONE, strict=True)

    @property
    def misses(self) -> List[Case]:
        return [c for c in self.red_flags + self.questions if not c.passed]

    @property
    def false_alarms(self) -> List[Case]:
        return [c for c in self.strict if c.got == Outcome.EMERGENCY]

    @property
    def false_alarm_rate(self) -> float:
        return len(self.false_alarms) / len(self.strict) if self.strict else 0.0

    @property
    def ok(self) -> bool:
        return not self.misses and self.false_alarm_rate <= MAX_STRICT_FALSE_ALARM_RATE

    def lines(self) -> List[str]:
        flags, questions, strict = self.red_flags, self.questions, self.strict
        missed = [c for c in flags if c.got < Outcome.EMERGENCY]
        nets = [c for c in strict if c.got == Outcome.SAFETY_NET]
        other = self._of(Outcome.NONE, strict=False)
        out = [
            f"## {self.language}", "",
            f"- Red flags: {len(flags) - len(missed)}/{len(flags)} got the emergency outcome "
            f"(recall {_pct(len(flags) - len(missed), len(flags))}; 95% upper bound on the miss rate "
            f"{miss_rate_upper_bound(len(missed), len(flags)):.2%}); "
            f"{sum(c.got == Outcome.SAFETY_NET for c in missed)} of the misses got the safety net.",
            f"- Questions about red-flag symptoms: {sum(c.passed for c in questions)}/{len(questions)} "
            f"got at least the safety net ({sum(c.got == Outcome.EMERGENCY for c in questions)} the emergency reply).",
            f"- Strict near-misses: {len(self.false_alarms)}/{len(strict)} got the emergency outcome "
            f"(false alarms {self.false_alarm_rate:.2%}, limit {MAX_STRICT_FALSE_ALARM_RATE:.0%}); "
            f"{len(nets)} got the safety net.",
        ]
        if other:
            out.append(f"- Other near-misses: {sum(c.got > Outcome.NONE for c in other)}/{len(other)} "
                       "got a safety reply.")
        by_label = Counter(c.label for c in self.false_alarms + self.misses)
        if by_label:
            out.append("- Failures by kind or category: "
                       + ", ".join(f"{k} {n}" for k, n in by_label.most_common()))
        for title, chosen in (("Missed", self.misses), ("False alarms", self.false_alarms),
                              ("Safety net on strict near-misses", nets)):
            if chosen:
                out += ["", f"### {title}", ""]
                out += [f"- [{c.label}, {Path(c.source).name}, got {c.got.label}] {c.text[:300]}" for c in chosen]
        return out + [""]


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.2%}" if whole else "n/a"


def evaluate(screen: Optional[Screen] = None, languages: Sequence[str] = ("en", "es"),
             sets: Path = SETS) -> Dict[str, Summary]:
    screen = screen or screen_of(shared_screen())
    return {lang: Summary(lang, run(load_cases(lang, sets), screen)) for lang in languages}


def evaluate_held_out(languages: Sequence[str] = ("en", "es")) -> Dict[str, Summary]:
    """Each committed set scored by a screen whose learned model never saw it (the rules
    did: they were tuned on every set, so the rules' share stays optimistic)."""
    rules = shared_screen()
    summaries = {}
    for lang in languages:
        cases = load_cases(lang)
        scored: List[Case] = []
        for source in sorted({c.source for c in cases}):
            learned = LearnedScreen.fit(labelled_messages(leave_out=[Path(source)]))
            scored += run([c for c in cases if c.source == source], screen_of(rules.with_learned(learned)))
        summaries[lang] = Summary(lang, scored)
    return summaries


def report(summaries: Dict[str, Summary]) -> str:
    lines = ["# Red-flag screen on the committed sets", "",
             "Sets: `data/red_flags/<language>/messages/*.yml`. Screen: `clinic.red_flags` "
             "(two messages in a row through `screen_turns`, as `RedFlagPolicy` reads them).", ""]
    for summary in summaries.values():
        lines += summary.lines()
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--language", action="append", choices=["en", "es"])
    parser.add_argument("--sets", type=Path, default=SETS,
                        help="a folder of <language>/messages/*.yml, e.g. a fresh blind set")
    parser.add_argument("--rules-only", action="store_true", help="without the learned model")
    parser.add_argument("--held-out", action="store_true",
                        help="each committed set scored by a learned model fitted without it")
    args = parser.parse_args(argv)
    languages = args.language or ("en", "es")
    if args.held_out:
        summaries = evaluate_held_out(languages)
    else:
        screen = shared_screen().with_learned(None) if args.rules_only else shared_screen()
        summaries = evaluate(screen_of(screen), languages, args.sets)
    text = report(summaries)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(text, encoding="utf-8")
    print(text)
    return 0 if all(s.ok for s in summaries.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

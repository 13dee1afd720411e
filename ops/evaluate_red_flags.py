"""Evaluate the red-flag screen on tests/data/red_flags.yml; write results/red_flags.md.

Runs addons.red_flags.RedFlagMatcher (the deterministic screen) on every red
flag, near-miss and split pair of the evaluation set, the split pairs through
`screen_turns`, the same joined-text logic RedFlagPolicy uses. Reports recall,
the false-alarm rate and every miss and false alarm. Exits 1 unless every red
flag fires and at most 3% of near-misses do (tests/unit/test_red_flags.py
asserts the same and writes the same report).

    .venv/bin/python -m ops.evaluate_red_flags
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "red_flags.yml"
REPORT = ROOT / "results" / "red_flags.md"
MAX_FALSE_ALARM_RATE = 0.03


@dataclass
class Outcome:
    """One evaluated example: what it is and what the screen said."""

    messages: List[str]
    label: str  # the red-flag kind, or the near-miss category
    fired: bool
    kind: Optional[str] = None  # kind the screen found
    span: Optional[str] = None
    suppressed: List[str] = field(default_factory=list)  # findings set aside, and why

    @property
    def text(self) -> str:
        return " ⏎ ".join(self.messages)


@dataclass
class Evaluation:
    red_flags: List[Outcome]
    near_misses: List[Outcome]
    split_red_flags: List[Outcome]
    split_near_misses: List[Outcome]

    @property
    def misses(self) -> List[Outcome]:
        return [o for o in self.red_flags + self.split_red_flags if not o.fired]

    @property
    def false_alarms(self) -> List[Outcome]:
        return [o for o in self.near_misses + self.split_near_misses if o.fired]

    @property
    def recall(self) -> float:
        positives = self.red_flags + self.split_red_flags
        return sum(o.fired for o in positives) / len(positives)

    @property
    def false_alarm_rate(self) -> float:
        negatives = self.near_misses + self.split_near_misses
        return sum(o.fired for o in negatives) / len(negatives)

    @property
    def wrong_kind(self) -> List[Outcome]:
        return [o for o in self.red_flags + self.split_red_flags if o.fired and o.kind != o.label]

    @property
    def passed(self) -> bool:
        return not self.misses and self.false_alarm_rate <= MAX_FALSE_ALARM_RATE


def load_set(path: Path = DATA) -> Dict[str, list]:
    return yaml.safe_load(path.read_text())


def _single(matcher, text: str, label: str) -> Outcome:
    screening = matcher.analyse(text)
    hit = screening.hits[0] if screening.hits else None
    return Outcome(
        [text], label, hit is not None, hit.kind if hit else None, hit.text if hit else None,
        [f"{f.kind}: {f.suppressed_by}" for f in screening.suppressed],
    )


def _split(matcher, messages: Sequence[str], label: str) -> Outcome:
    """Both turns as the policy sees them: the first alone, then the second read on from it."""
    first, second = messages
    hit = matcher.screen(first) or matcher.screen_turns(first, second)
    return Outcome(list(messages), label, hit is not None, hit.kind if hit else None,
                   hit.text if hit else None)


def evaluate(matcher=None, data: Optional[Dict[str, list]] = None) -> Evaluation:
    if matcher is None:
        from addons.red_flags import RedFlagMatcher

        matcher = RedFlagMatcher.load()
    data = data or load_set()
    return Evaluation(
        red_flags=[_single(matcher, e["text"], e["kind"]) for e in data["red_flags"]],
        near_misses=[_single(matcher, e["text"], e["category"]) for e in data["near_misses"]],
        split_red_flags=[_split(matcher, e["messages"], e["kind"]) for e in data["split_red_flags"]],
        split_near_misses=[_split(matcher, e["messages"], e["category"])
                           for e in data["split_near_misses"]],
    )


def _table(rows: List[List[str]], header: List[str]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def render(ev: Evaluation) -> str:
    positives = ev.red_flags + ev.split_red_flags
    negatives = ev.near_misses + ev.split_near_misses
    lines = [
        "# Red-flag screen: evaluation",
        "",
        "Set: `tests/data/red_flags.yml`. Screen: `addons.red_flags.RedFlagMatcher` "
        "(split pairs through `screen_turns`, the logic `RedFlagPolicy` uses). "
        "Written by `python -m ops.evaluate_red_flags` and by `tests/unit/test_red_flags.py`.",
        "",
        f"- Verdict: **{'PASS' if ev.passed else 'FAIL'}** (every red flag must fire; "
        f"false alarms at most {MAX_FALSE_ALARM_RATE:.0%} of near-misses)",
        f"- Recall on red flags: **{ev.recall:.1%}** ({len(positives) - len(ev.misses)}/{len(positives)}; "
        f"single messages {sum(o.fired for o in ev.red_flags)}/{len(ev.red_flags)}, "
        f"split pairs {sum(o.fired for o in ev.split_red_flags)}/{len(ev.split_red_flags)})",
        f"- False-alarm rate on near-misses: **{ev.false_alarm_rate:.1%}** "
        f"({len(ev.false_alarms)}/{len(negatives)}; single messages "
        f"{sum(o.fired for o in ev.near_misses)}/{len(ev.near_misses)}, split pairs "
        f"{sum(o.fired for o in ev.split_near_misses)}/{len(ev.split_near_misses)})",
        f"- Red flags found under another kind than labelled: {len(ev.wrong_kind)} "
        "(the reply is the same; listed below for review)",
        "",
        "## By kind (red flags)",
        "",
    ]
    kinds = Counter(o.label for o in positives)
    fired = Counter(o.label for o in positives if o.fired)
    lines += _table([[k, str(kinds[k]), str(fired[k])] for k in sorted(kinds)], ["kind", "examples", "fired"])
    lines += ["", "## By category (near-misses)", ""]
    cats = Counter(o.label for o in negatives)
    alarms = Counter(o.label for o in negatives if o.fired)
    lines += _table([[c, str(cats[c]), str(alarms[c]), f"{alarms[c] / cats[c]:.1%}"] for c in sorted(cats)],
                    ["category", "examples", "false alarms", "rate"])
    lines += ["", "## Misses (red flags that did not fire)", ""]
    lines += _table([[o.label, o.text, "; ".join(o.suppressed) or "nothing matched"] for o in ev.misses],
                    ["kind", "message", "why"]) if ev.misses else ["None."]
    lines += ["", "## False alarms (near-misses that fired)", ""]
    lines += _table([[o.label, o.text, f"{o.kind}: “{o.span}”"] for o in ev.false_alarms],
                    ["category", "message", "found"]) if ev.false_alarms else ["None."]
    lines += ["", "## Red flags found under another kind", ""]
    lines += _table([[o.label, o.kind or "", o.text] for o in ev.wrong_kind],
                    ["labelled", "found", "message"]) if ev.wrong_kind else ["None."]
    return "\n".join(lines) + "\n"


def write_report(ev: Evaluation, path: Path = REPORT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(ev))
    return path


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    ev = evaluate(data=load_set(args.data))
    path = write_report(ev, args.out)
    print(f"recall {ev.recall:.1%}, false alarms {ev.false_alarm_rate:.1%} "
          f"({len(ev.misses)} misses, {len(ev.false_alarms)} false alarms); report: {path}")
    return 0 if ev.passed else 1


if __name__ == "__main__":
    sys.exit(main())

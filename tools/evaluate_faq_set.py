"""Score a held-out set against the targets for honest answers (issue "Whole conversations").

    python -m tools.evaluate_faq_set --data tests/nlu/blind_2026_12.yml [--model M]

Reports, with counts: the right FAQ answer, another FAQ's answer, out-of-scope declined,
out-of-scope answered with an FAQ, and clinic questions (gold `clinic_logistics`) that
reached one of the clinic_* intents. Exits 1 below the targets.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Dict, List

from tools.evaluate_nlu import DECLINED, ROOT, load_examples, predict_all

TARGETS = {"right_faq_answer": (">=", 0.97), "other_faq_answer": ("<=", 0.01),
           "out_of_scope_declined": (">=", 0.95), "out_of_scope_answered_with_faq": ("<=", 0.02)}


def scores(pairs: List[tuple]) -> Dict[str, tuple]:
    faq = [(g, got) for g, got in pairs if g.startswith("faq/")]
    oos = [(g, got) for g, got in pairs if g == "out_of_scope"]
    clinic = [(g, got) for g, got in pairs if g == "clinic_logistics"]
    return {
        "right_faq_answer": (sum(g == got for g, got in faq), len(faq)),
        "other_faq_answer": (sum(got.startswith("faq/") and got != g for g, got in faq), len(faq)),
        "out_of_scope_declined": (sum(got in DECLINED for _, got in oos), len(oos)),
        "out_of_scope_answered_with_faq": (sum(got.startswith("faq/") for _, got in oos), len(oos)),
        "clinic_questions_to_clinic_intents": (sum(got.startswith("clinic_") for _, got in clinic), len(clinic)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "vein-assistant.tar.gz")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--show", action="store_true", help="print every wrong prediction")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # parse debug lines would print every example
    predictions = asyncio.run(predict_all(args.model, load_examples(args.data)))
    pairs = [(p.gold, p.label) for p in predictions]
    failed = []
    for name, (hits, total) in scores(pairs).items():
        rate = hits / total if total else 0.0
        op, target = TARGETS.get(name, (None, None))
        verdict = "" if op is None else (" ok" if (rate >= target if op == ">=" else rate <= target) else " BELOW TARGET")
        if verdict == " BELOW TARGET":
            failed.append(name)
        print(f"{name}: {rate:.3f} ({hits}/{total})" + (f" target {op} {target}{verdict}" if op else ""))
    if args.show:
        for p in predictions:
            right = p.label == p.gold or (p.gold == "out_of_scope" and p.label in DECLINED) or (
                p.gold == "clinic_logistics" and p.label.startswith("clinic_"))
            if not right:
                print(f"  {p.gold} -> {p.label}: {p.text}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

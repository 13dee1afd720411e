"""Evaluate the trained model on the held-out set in tests/nlu/ (never trained on).

Parses each example with the full pipeline (fallbacks and the FAQ gate
included), as the running assistant would, and reports:
- intent accuracy (an out-of-scope example counts as right when it is declined,
  i.e. predicted out_of_scope or nlu_fallback),
- FAQ answer accuracy (the patient would see the right answer),
- out-of-scope recall (declined rather than answered),
- per-label F1 and the most confused pairs.
Writes results/nlu-evaluation.md and .json; exits 1 below the thresholds.
`--sweep` also prints the metrics for other fallback/gate thresholds.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
# `make test` fails below the targets (README, "Evaluation", has the
# measured numbers). Raise them as the data improves, never lower them.
TARGETS = {"intent_accuracy": 0.95, "faq_answer_accuracy": 0.95, "out_of_scope_recall": 0.90}
THRESHOLDS = dict(TARGETS)
DECLINED = {"out_of_scope", "nlu_fallback"}


@dataclass
class Prediction:
    text: str
    gold: str  # "faq/<key>" for FAQ examples, else the intent
    label: str  # what the assistant would do, in the same label space
    intent: str  # raw top intent before any fallback
    intent_confidence: float
    second_confidence: float
    answer: Optional[str]  # ResponseSelector's choice, "faq/<key>"
    answer_confidence: float


def label_of(parse: dict) -> str:
    intent = parse["intent"]["name"]
    if intent == "faq":
        return parse["response_selector"]["faq"]["response"]["intent_response_key"]
    return intent


def to_prediction(text: str, gold: str, parse: dict) -> Prediction:
    ranking = [r for r in parse.get("intent_ranking", []) if r["name"] != "nlu_fallback"]
    top = ranking[0] if ranking else {"name": "nlu_fallback", "confidence": 0.0}
    second = ranking[1]["confidence"] if len(ranking) > 1 else 0.0
    selector = (parse.get("response_selector") or {}).get("faq", {}).get("response", {})
    return Prediction(
        text=text,
        gold=gold,
        label=label_of(parse),
        intent=top["name"],
        intent_confidence=float(top["confidence"]),
        second_confidence=float(second),
        answer=selector.get("intent_response_key"),
        answer_confidence=float(selector.get("confidence") or 0.0),
    )


def simulate(p: Prediction, intent_threshold: float, ambiguity: float, answer_threshold: float) -> str:
    """The label the assistant would produce with other thresholds."""
    if p.intent == "medical_emergency" and p.label == "medical_emergency":
        return p.label
    if p.intent_confidence < intent_threshold or p.intent_confidence - p.second_confidence < ambiguity:
        return "nlu_fallback"
    if p.intent == "faq":
        return p.answer if p.answer_confidence >= answer_threshold else "nlu_fallback"
    return p.intent


def metrics(golds: List[str], labels: List[str]) -> Dict[str, float]:
    pairs = list(zip(golds, labels))
    faq = [(g, got) for g, got in pairs if g.startswith("faq/")]
    oos = [(g, got) for g, got in pairs if g == "out_of_scope"]

    def intent_right(g: str, got: str) -> bool:
        if g == "out_of_scope":
            return got in DECLINED
        return g.split("/")[0] == got.split("/")[0]

    return {
        "examples": len(pairs),
        "intent_accuracy": sum(intent_right(g, got) for g, got in pairs) / len(pairs),
        "faq_answer_accuracy": sum(g == got for g, got in faq) / max(len(faq), 1),
        "out_of_scope_recall": sum(got in DECLINED for _, got in oos) / max(len(oos), 1),
        "faq_examples": len(faq),
        "out_of_scope_examples": len(oos),
    }


def per_label_f1(golds: List[str], labels: List[str]) -> Dict[str, Tuple[float, int]]:
    scores = {}
    for name in sorted(set(golds)):
        ok = {name} | (DECLINED if name == "out_of_scope" else set())
        tp = sum(g == name and got in ok for g, got in zip(golds, labels))
        fp = sum(g != name and got in ok for g, got in zip(golds, labels))
        fn = sum(g == name and got not in ok for g, got in zip(golds, labels))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[name] = (f1, golds.count(name))
    return scores


def load_examples(path: Path) -> List[Tuple[str, str]]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    examples = []
    for message in data.intent_examples:
        gold = message.get("intent_response_key") or message.get("intent")
        examples.append((message.get("text"), gold))
    return examples


async def predict_all(model: Path, examples: List[Tuple[str, str]]) -> List[Prediction]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    predictions = []
    for text, gold in examples:
        parse = await agent.parse_message(text)
        predictions.append(to_prediction(text, gold, parse))
    return predictions


def report(predictions: List[Prediction], result: Dict[str, float]) -> str:
    golds = [p.gold for p in predictions]
    labels = [p.label for p in predictions]
    confused = Counter((g, got) for g, got in zip(golds, labels) if g != got and not (g == "out_of_scope" and got in DECLINED))
    lines = [
        "# NLU evaluation (held-out set: tests/nlu/heldout.yml)",
        "",
        "| metric | value | make test fails below | target |",
        "|---|---|---|---|",
    ]
    for key, threshold in THRESHOLDS.items():
        lines.append(f"| {key.replace('_', ' ')} | {result[key]:.3f} | {threshold:.2f} | {TARGETS[key]:.2f} |")
    lines += [
        f"| examples | {result['examples']} (FAQ {result['faq_examples']}, out of scope {result['out_of_scope_examples']}) | | |",
        "",
        "## Per-label F1",
        "",
        "| label | F1 | examples |",
        "|---|---|---|",
    ]
    for name, (f1, support) in per_label_f1(golds, labels).items():
        lines.append(f"| {name} | {f1:.3f} | {support} |")
    lines += ["", "## Most confused (expected -> got)", ""]
    for (gold, label), count in confused.most_common(10):
        lines.append(f"- {gold} -> {label}: {count}")
    lines += ["", "## Every error", ""]
    for p in predictions:
        if p.gold != p.label and not (p.gold == "out_of_scope" and p.label in DECLINED):
            lines.append(f"- `{p.text}`: expected {p.gold}, got {p.label} "
                         f"(intent {p.intent} {p.intent_confidence:.2f}, answer {p.answer} {p.answer_confidence:.2f})")
    return "\n".join(lines) + "\n"


def sweep(predictions: List[Prediction]) -> None:
    golds = [p.gold for p in predictions]
    print("intent_thr ambiguity answer_thr | intent faq_answer oos_recall")
    for intent_threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
        for ambiguity in (0.0, 0.1):
            for answer_threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
                labels = [simulate(p, intent_threshold, ambiguity, answer_threshold) for p in predictions]
                m = metrics(golds, labels)
                print(f"{intent_threshold:10.2f} {ambiguity:9.2f} {answer_threshold:10.2f} | "
                      f"{m['intent_accuracy']:.3f} {m['faq_answer_accuracy']:.3f} {m['out_of_scope_recall']:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "vein-assistant.tar.gz")
    parser.add_argument("--data", type=Path, default=ROOT / "tests" / "nlu" / "heldout.yml")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument("--sweep", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # parse debug lines would print every example

    predictions = asyncio.run(predict_all(args.model, load_examples(args.data)))
    result = metrics([p.gold for p in predictions], [p.label for p in predictions])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "nlu-evaluation.md").write_text(report(predictions, result))
    (args.out / "nlu-evaluation.json").write_text(
        json.dumps({"metrics": result, "predictions": [asdict(p) for p in predictions]}, indent=1)
    )
    if args.sweep:
        sweep(predictions)
    failed = [k for k, t in THRESHOLDS.items() if result[k] < t]
    for key, threshold in THRESHOLDS.items():
        print(f"{key}: {result[key]:.3f} (threshold {threshold:.2f})")
    print(f"report: {args.out / 'nlu-evaluation.md'}")
    if failed:
        print(f"FAILED: {', '.join(failed)} below threshold", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

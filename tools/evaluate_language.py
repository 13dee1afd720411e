"""How well the assistant tells English from Spanish, on a YAML list of messages.

    PYTHONPATH=. .venv/bin/python -m tools.evaluate_language PATH [--show-misses] [--min-accuracy 0.98]

PATH holds a list of {text: ..., lang: en | es | any} (or {messages: [...]}). Each
message goes through what a conversation does with it (clinic.language.language_to_set:
a request for a language, else detection with the switching rule), so:
- en / es with three or more words: correct when the message would set its own
  language (coming from the other one); "kept" when it would keep whatever the
  conversation had (no switch), "wrong" when it would set the other language.
  The target is >= 98% correct in each language.
- any (one or two words: "ok", "si", "2", a name, a phone number, "10/12"): the rate
  at which it would change the conversation's language; the target is 0.
- en / es with fewer than three words: reported, not targeted (they keep the language
  by design unless they are a request such as "en español").
Also lingua's own best guess (no switching rule) and the time per message.
Misses are printed only with --show-misses (a blind set stays blind in shared logs).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from clinic.language import LANGUAGES, MIN_WORDS_TO_SWITCH, detect, detector, language_to_set, words_of

ANY = "any"


@dataclass(frozen=True)
class Sample:
    text: str
    lang: str

    @property
    def long(self) -> bool:
        return len(words_of(self.text)) >= MIN_WORDS_TO_SWITCH


def load_samples(path: Path) -> List[Sample]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("messages") or data.get("samples") or []
    samples = []
    for item in data or []:
        lang = str(item.get("lang") or item.get("language") or "").strip().lower()
        if lang not in (*LANGUAGES, ANY) or not isinstance(item.get("text"), str):
            raise SystemExit(f"{path}: each item needs text and lang (en, es or any): {item!r}")
        samples.append(Sample(item["text"], lang))
    return samples


def outcome(sample: Sample, chosen: Optional[str]) -> str:
    if chosen is None:
        return "kept"
    return "correct" if chosen == sample.lang else "wrong"


def microseconds_per_message(texts: List[str], repeat: int = 5) -> Dict[str, float]:
    """Median over `repeat` passes: the whole decision, and lingua's call alone."""
    detector()  # models loaded before timing
    timings: Dict[str, List[float]] = defaultdict(list)
    for _ in range(repeat):
        for name, run in (("decision", language_to_set),
                          ("lingua", detector().compute_language_confidence_values)):
            start = time.perf_counter()
            for text in texts:
                run(text)
            timings[name].append((time.perf_counter() - start) / max(len(texts), 1) * 1e6)
    return {name: statistics.median(values) for name, values in timings.items()}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path)
    parser.add_argument("--show-misses", action="store_true", help="print the messages that missed")
    parser.add_argument("--min-accuracy", type=float, default=0.98,
                        help="exit 1 when a language's accuracy on 3+ words is below this")
    args = parser.parse_args(argv)
    samples = load_samples(args.path)
    failed = False
    print(f"{args.path}: {len(samples)} messages")
    for lang in LANGUAGES:
        for long in (True, False):
            group = [s for s in samples if s.lang == lang and s.long == long]
            if not group:
                continue
            counts = Counter(outcome(s, language_to_set(s.text)) for s in group)
            guessed = sum(detect(s.text).language == lang for s in group)
            accuracy = counts["correct"] / len(group)
            label = f"{lang}, {'3+ words' if long else '1-2 words'}"
            mixed = [s for s in group if detect(s.text).is_mixed]
            mixed_right = sum(language_to_set(s.text) == lang for s in mixed)
            single = len(group) - len(mixed)
            print(f"  {label:<16} n={len(group):<4} correct {accuracy:.3f}  kept {counts['kept'] / len(group):.3f}"
                  f"  wrong {counts['wrong'] / len(group):.3f}   (lingua's best guess right: {guessed / len(group):.3f})")
            if mixed and single:
                print(f"  {'':<16} of which with grammar words of both languages (Spanglish, kept by design):"
                      f" {len(mixed)}; without them: correct {(counts['correct'] - mixed_right) / single:.3f}")
            if long and accuracy < args.min_accuracy:
                failed = True
            if args.show_misses:
                for s in group:
                    result = outcome(s, language_to_set(s.text))
                    if result != "correct":
                        d = detect(s.text)
                        print(f"      {result:<5} {s.text!r}  (lingua {d.language} {d.confidence:.2f},"
                              f" grammar words {'/'.join(sorted(d.grammar_languages)) or '-'})")
    anys = [s for s in samples if s.lang == ANY]
    if anys:
        changed = [s for s in anys if language_to_set(s.text) is not None]
        print(f"  any              n={len(anys):<4} changed the language: {len(changed) / len(anys):.3f}"
              f" ({len(changed)})")
        failed = failed or bool(changed)
        if args.show_misses:
            for s in changed:
                print(f"      changed to {language_to_set(s.text)}: {s.text!r}")
    timing = microseconds_per_message([s.text for s in samples])
    print(f"  time per message: the decision {timing['decision']:.1f} us (lingua only on 3+ words);"
          f" lingua alone on every message {timing['lingua']:.1f} us")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

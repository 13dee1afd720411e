"""The learned half of the red-flag screen: a classifier trained on labelled messages.

The rules (data/red_flags/<lang>/) know why a symptom is or is not an emergency, but
patients describe symptoms in more ways than any list of words covers. This model
reads the same messages differently (character n-grams and words, both languages at
once) and is trained on every labelled message the project has
(data/red_flags/<lang>/messages/*.yml: emergency, safety net or none, written blind
by people who never saw the rules). Where it hears a red flag the rules missed, the
safer outcome wins (`combine`); its thresholds are in data/red_flags/learned.yml,
chosen by leave-one-set-out evaluation (`python -m tools.evaluate_red_flags --held-out`).

Fitting takes a few seconds, so the fitted model is kept in VAR_DIR under a name made
of a hash of its training data and settings: a change of data fits it again, and every
process of one installation shares one fit.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Sequence, Tuple

import joblib
import numpy as np
import sklearn
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline, make_union

from clinic.red_flags.outcome import Outcome
from clinic.red_flags.rules import LANGUAGES, RULES_DIR, load_rules

SETTINGS_FILE = RULES_DIR / "learned.yml"
LABELS = {"emergency": Outcome.EMERGENCY, "safety_net": Outcome.SAFETY_NET, "none": Outcome.NONE}
NLU_DIR = RULES_DIR.parent / "nlu"
# NLU intents that are red flags or questions about them; every other intent is "none".
NLU_LABELS = {"medical_emergency": "emergency", "symptom_question": "safety_net"}
ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")  # "[Tuesday](date)" -> "Tuesday"
WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")  # "dad's" is one word
# A long message is read in windows of about this many characters, cut at sentence ends:
# a red flag buried in a long message must not be diluted by the rest of it.
WINDOW_CHARS = 400


@dataclass(frozen=True)
class Thresholds:
    """When the model's probabilities raise the rules' outcome (data/red_flags/learned.yml)."""

    emergency: float  # P(emergency) at which a message the rules found nothing in is one
    emergency_over_rules: float  # ... and one in which the rules set a symptom aside
    safety_net: float  # P(emergency) + P(safety net) at which it gets at least the safety net
    # Fewer words than this are a fragment ("my calf"): the model alone gives it at most
    # the safety net; the rules read it together with the next message.
    min_words_for_emergency: int = 4

    @classmethod
    def load(cls, path: Path = SETTINGS_FILE) -> "Thresholds":
        values = yaml.safe_load(path.read_text(encoding="utf-8"))["thresholds"]
        return cls(float(values["emergency"]), float(values["emergency_over_rules"]),
                   float(values["safety_net"]), int(values["min_words_for_emergency"]))


@dataclass(frozen=True)
class Probabilities:
    emergency: float = 0.0
    safety_net: float = 0.0


def combine(rules: Outcome, set_aside: bool, learned: Probabilities, thresholds: Thresholds,
            words: int = 100) -> Outcome:
    """The screen's outcome from the rules' and the model's: the safer one wins.

    `set_aside`: the rules found a symptom and a reason it is not an emergency (negated,
    past, mild, needle nerves); the model then needs to be surer to call it one.
    `words`: the message's length; a fragment is not a description of a symptom.
    """
    if rules == Outcome.EMERGENCY:
        return rules
    needed = thresholds.emergency_over_rules if set_aside else thresholds.emergency
    if learned.emergency >= needed and words >= thresholds.min_words_for_emergency:
        return Outcome.EMERGENCY
    if learned.emergency + learned.safety_net >= thresholds.safety_net:
        return max(rules, Outcome.SAFETY_NET)
    return rules


def word_count(text: str) -> int:
    return len(WORD.findall(text))


def fold(text: str) -> str:
    """Lower case without accents: "DESMAYÓ" and "desmayo" are one word to the model."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def windows(text: str, size: int = WINDOW_CHARS) -> List[str]:
    """A text cut at sentence ends into pieces of about `size` characters (one if short)."""
    if len(text) <= size:
        return [text]
    result, current = [], ""
    for sentence in re.findall(r"[^.!?;\n]*(?:[.!?;\n]+|$)", text):
        while len(sentence) > size:  # a run-on sentence is cut on spaces
            cut = sentence.rfind(" ", size // 2, size) + 1 or size
            result.append(current + sentence[:cut])
            current, sentence = "", sentence[cut:]
        if current and len(current) + len(sentence) > size:
            result.append(current)
            current = ""
        current += sentence
    if current.strip():
        result.append(current)
    return result


def labelled_messages(rules_dir: Path = RULES_DIR, languages: Sequence[str] = LANGUAGES,
                      leave_out: Iterable[Path] = (), nlu_dir: Path = NLU_DIR) -> List[Tuple[str, str]]:
    """(text, label) of every labelled message (two messages in a row are read as one),
    and of every NLU training example: what patients ordinarily write is the model's
    best teacher of what is not an emergency ("yes", "John Smith", "does it hurt?")."""
    skipped = {Path(p).resolve() for p in leave_out}
    examples = list(nlu_examples(nlu_dir))
    for language in languages:  # each rule's examples and counter-examples, with their outcome
        examples += [(example.text, example.outcome) for _, example in load_rules(language, rules_dir).examples()]
    for language in languages:
        for path in sorted((rules_dir / language / "messages").glob("*.yml")):
            if path.resolve() in skipped:
                continue
            for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
                examples.append((" ".join(item.get("turns") or [item["text"]]), item["expect"]))
    return examples


def nlu_examples(nlu_dir: Path = NLU_DIR) -> Iterable[Tuple[str, str]]:
    """The NLU training examples (data/nlu/**/*.yml), labelled by their intent."""
    for path in sorted(nlu_dir.rglob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if "intent" not in block:
                continue
            label = NLU_LABELS.get(block["intent"], "none")
            for line in str(block.get("examples", "")).splitlines():
                if line.strip().startswith("- "):
                    yield ANNOTATION.sub(r"\1", line.strip()[2:]), label


class _Scorer:
    """The fitted pipeline's predict_proba for one text, without scikit-learn's per-call
    overhead (about 1 ms a message, on the path of every message): the same analysers,
    sublinear tf-idf, L2 norm per vectoriser, and the multinomial logistic regression,
    on the few features a message has. Tested equal to the pipeline."""

    def __init__(self, pipeline: Pipeline) -> None:
        union, model = pipeline.steps[0][1], pipeline.steps[-1][1]
        self.parts = []
        offset = 0
        for _, vectorizer in union.transformer_list:
            self.parts.append((vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_, offset))
            offset += len(vectorizer.vocabulary_)
        self.coef = model.coef_.T.copy()  # features x classes, rows gathered per message
        self.intercept = model.intercept_

    def probabilities(self, text: str) -> np.ndarray:
        scores = self.intercept.copy()
        for analyse, vocabulary, idf, offset in self.parts:
            counts = Counter(i for i in map(vocabulary.get, analyse(text)) if i is not None)
            if not counts:
                continue
            index = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            weights = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * idf[index]
            weights /= np.sqrt(weights @ weights)
            scores = scores + weights @ self.coef[index + offset]
        scores = np.exp(scores - scores.max())
        return scores / scores.sum()


class LearnedScreen:
    """P(emergency) and P(safety net) of a message, the highest over its windows."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._scorer = _Scorer(pipeline)
        classes = list(pipeline.classes_)
        self._emergency = classes.index("emergency")
        self._safety_net = classes.index("safety_net")

    @classmethod
    def fit(cls, examples: Sequence[Tuple[str, str]]) -> "LearnedScreen":
        features = make_union(
            # Character n-grams within words survive typos, SMS spelling and Spanglish.
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        )
        # Balanced: the sets hold about as many near-misses as red flags, but a miss
        # costs more than a needless safety net, so no class is favoured by its count.
        model = LogisticRegression(C=10, max_iter=3000, class_weight="balanced")
        pipeline = make_pipeline(features, model)
        pipeline.fit([fold(text) for text, _ in examples], [label for _, label in examples])
        return cls(pipeline)

    def probabilities(self, text: str) -> Probabilities:
        if not text.strip():
            return Probabilities()
        rows = [self._scorer.probabilities(fold(w)) for w in windows(text)]
        return Probabilities(max(float(r[self._emergency]) for r in rows),
                             max(float(r[self._safety_net]) for r in rows))


def fingerprint(examples: Sequence[Tuple[str, str]]) -> str:
    digest = hashlib.sha256(f"sklearn {sklearn.__version__} window {WINDOW_CHARS}\n".encode())
    digest.update(Path(__file__).read_bytes())  # a change of features or model fits again
    for text, label in examples:
        digest.update(f"{label}\t{text}\n".encode("utf-8"))
    return digest.hexdigest()[:16]


def load_or_fit(cache_dir: Path, examples: Sequence[Tuple[str, str]]) -> LearnedScreen:
    """The fitted model for these examples, from `cache_dir` if it is there, else fitted
    and saved (written under a temporary name and renamed: processes starting together
    never read half a file)."""
    path = cache_dir / f"red_flags_learned_{fingerprint(examples)}.joblib"
    if path.exists():
        try:
            return LearnedScreen(joblib.load(path))
        except Exception:  # a damaged file is fitted again, never trusted
            pass
    screen = LearnedScreen.fit(examples)
    cache_dir.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
    os.close(handle)
    joblib.dump(screen.pipeline, temporary)
    os.replace(temporary, path)
    for stale in cache_dir.glob("red_flags_learned_*.joblib"):
        if stale != path:  # fitted on data that has changed since
            stale.unlink(missing_ok=True)
    return screen


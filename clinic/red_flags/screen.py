"""The red-flag screen: every message, every language, three outcomes.

For each language's rules (data/red_flags/<lang>/):
1. normalise the text (normalise.py) into a spaCy Doc;
2. find concepts with spaCy's PhraseMatcher and Matcher (concepts.jsonl);
3. combine them into findings of a red-flag kind (kinds.yml);
4. read each finding's context with ConText (context.py, context.json);
5. decide its outcome from the context categories (outcome_of below).
The message's outcome is the safest (highest) over its findings and languages, so
Spanglish is screened by both rule sets. A long message is screened whole, in pieces
that overlap by a sentence. Patient text is never logged.
"""
from __future__ import annotations

import re
import threading
from itertools import product
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple

import spacy
from cachetools import TTLCache
from spacy.lang.en.stop_words import STOP_WORDS as EN_STOP_WORDS
from spacy.lang.es.stop_words import STOP_WORDS as ES_STOP_WORDS
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc
from spacy.vocab import Vocab

from clinic.red_flags.context import ContextMatcher, rule_patterns, sentence_ids
from clinic.red_flags.learned import LearnedScreen, Thresholds, combine, labelled_messages, load_or_fit, word_count
from clinic.red_flags.normalise import Normaliser, lemma_table, vocabulary
from clinic.red_flags.outcome import Outcome
from clinic.red_flags.rules import LANGUAGES, RULES_DIR, Kind, RuleSet, fold, load_rules
from clinic.settings import var_dir

# Token attribute that carries a word's rule stem (the lexical LEMMA: the rules match
# English lemmas through NORM and never use LEMMA).
STEM_ATTR = "LEMMA"
# Pieces a long message is screened in (characters), each starting with the last
# sentence of the piece before: context rarely reaches further than a sentence.
PIECE_CHARS = 4_000
# Results for texts up to this long are remembered for REMEMBER_SECONDS (the NLU
# component and the policy read the same message in one turn); never longer, so
# patients' words do not stay in memory.
MAX_REMEMBERED_CHARS = 2_000
# How much of two messages in a row is read together for a split red flag.
JOIN_CHARS = 300
SHORT_REPLY_CHARS = 120
REMEMBERED = 2_048
REMEMBER_SECONDS = 900

# What each ConText category does to a finding, in order of precedence
# (data/red_flags/README.md). Categories not listed change nothing (FAMILY: someone
# with the patient is as urgent as the patient).
# -> none, whatever else: not there, over ("it went away, fine since"), or needle nerves.
CANCELS = ("NEGATED_EXISTENCE", "RESOLVED", "ANXIETY")
MILD = "MILD"  # -> none; the safety net when asked about
# A question after a description ("..., should I worry?"): makes a mild symptom a question
# (the safety net); a clear symptom stays what it is.
ASKED_AFTER = "ASKED_AFTER"
HISTORY = "HISTORICAL"  # -> none, unless ACUTE: "had chest pain since this morning"
UNCERTAIN = ("HYPOTHETICAL", "POSSIBLE_EXISTENCE")  # -> safety net, unless ACUTE or ONGOING
ACUTE = "ACUTE"
# A later sentence saying it is happening now ("is chest pain a side effect? I have it
# right now"): turns a question into an emergency, never a past event.
ONGOING = "ONGOING"
RECURRENCE = "RECURRENCE"  # asking whether a past red flag could come back
STOP_WORDS = {"en": EN_STOP_WORDS, "es": ES_STOP_WORDS}


@dataclass(frozen=True)
class Finding:
    """A red-flag kind found in a text, where, with what context and outcome."""

    kind: str
    language: str
    start: int  # character offsets in the screened text
    end: int
    modifiers: Tuple[str, ...]
    outcome: Outcome


@dataclass
class Screening:
    """A text's findings (every one, suppressed ones too, for reports) and its outcome."""

    findings: List[Finding] = field(default_factory=list)
    # Whether any concept word was found at all: a message with none cannot complete a
    # red flag begun in the message before (screen_turns skips the joined reading).
    concepts: bool = False
    # The outcome with the learned model's reading (learned.combine): never below the rules'.
    learned: Outcome = Outcome.NONE

    @property
    def rules_outcome(self) -> Outcome:
        return max((f.outcome for f in self.findings), default=Outcome.NONE)

    @property
    def outcome(self) -> Outcome:
        return max(self.rules_outcome, self.learned)

    @property
    def by_model(self) -> bool:
        """Whether the learned model, not the rules, decided the outcome."""
        return self.learned > self.rules_outcome

    @property
    def decisive(self) -> Optional[Finding]:
        """The finding that decided the outcome (or, when the model raised it, the rules'
        most serious one), if the rules found any red flag."""
        found = [f for f in self.findings if f.outcome > Outcome.NONE]
        best = [f for f in found if f.outcome == self.outcome] or [f for f in found if f.outcome == self.rules_outcome]
        return best[0] if best else None

    @property
    def kind(self) -> Optional[str]:
        return self.decisive.kind if self.decisive else None

    @property
    def language(self) -> Optional[str]:
        return self.decisive.language if self.decisive else None

    @property
    def suppressed(self) -> List[Finding]:
        return [f for f in self.findings if f.outcome == Outcome.NONE]

    @property
    def mild(self) -> bool:
        """A symptom was found and set aside as a mild after-effect ("a bit red where they
        injected"): a worry after treatment, for the clinic's urgent line."""
        return any(MILD in f.modifiers for f in self.suppressed)


def outcome_of(categories: Set[str]) -> Outcome:
    uncertain = any(c in categories for c in UNCERTAIN)
    asked = uncertain or ASKED_AFTER in categories
    if MILD in categories and asked and not any(c in categories for c in CANCELS):
        return Outcome.SAFETY_NET  # "might my calf be a little puffier?" is still a question
    if any(c in categories for c in CANCELS) or MILD in categories:
        return Outcome.NONE
    if ACUTE in categories:
        return Outcome.EMERGENCY
    if HISTORY in categories:  # "a clot years ago... could it happen again?" is a question
        return Outcome.SAFETY_NET if RECURRENCE in categories else Outcome.NONE
    if uncertain:
        return Outcome.EMERGENCY if ONGOING in categories else Outcome.SAFETY_NET
    return Outcome.EMERGENCY


class TokenPatterns:
    """spaCy token patterns, matched fast: a pattern that is only words (NORM values) goes
    to a PhraseMatcher (a hash lookup per token); the rest to a Matcher."""

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab
        self.phrases = PhraseMatcher(vocab, attr="NORM")
        self.matcher = Matcher(vocab, validate=True)

    def add(self, label: str, patterns: List[List[Dict[str, Any]]]) -> None:
        for pattern in patterns:
            words = [t.get("NORM") for t in pattern]
            if pattern and all(len(t) == 1 and isinstance(w, str) and w for t, w in zip(pattern, words)):
                doc = Doc(self.vocab, words=words)
                for token, word in zip(doc, words):
                    token.norm_ = word
                self.phrases.add(label, [doc])
            else:
                self.matcher.add(label, [pattern])

    def __call__(self, doc: Doc) -> List[Tuple[int, int, int]]:
        return list(self.phrases(doc)) + list(self.matcher(doc))


class LanguageScreen:
    """One language's rules compiled: concept and cue matchers over normalised text."""

    def __init__(self, rules: RuleSet, foreign: Sequence[FrozenSet[str]] = ()) -> None:
        self.rules = rules
        nlp = spacy.blank(rules.language)
        self.own_words = vocabulary(rules.language)
        self.foreign = tuple(foreign)  # the other languages' vocabularies
        # A word of the other language is never "repaired" into one of ours ("trombosis").
        self.normaliser = Normaliser(nlp, rules.lexicon, lemma_table(rules.language),
                                     (self.own_words, *self.foreign))
        phrases = [c.pattern for c in rules.concepts if isinstance(c.pattern, str)]
        phrases += [r.literal for r in rules.context if not r.pattern]
        self.stems = frozenset(fold(w[:-1]) for p in phrases for w in p.split() if w.endswith("*") and len(w) > 1)
        self.shortest_stem = min(map(len, self.stems), default=0)
        self.longest_stem = max(map(len, self.stems), default=0)
        targets: Set[str] = set()
        self.concepts = TokenPatterns(nlp.vocab)
        for concept in rules.concepts:
            self.concepts.add(concept.label, [self._pattern(concept.pattern, targets)])
        self.normaliser.set_repair_targets(targets)
        cue_matcher = TokenPatterns(nlp.vocab)
        for label, patterns in rule_patterns(rules.context, lambda p: self._pattern(p, set())).items():
            cue_matcher.add(label, patterns)
        self.context = ContextMatcher(rules.context, cue_matcher)

    def _borrowed(self, word: str, foreign_text: bool) -> bool:
        """A word of another language ("chest" to the Spanish rules): a finding made only
        of such words is left to that language's rules, which know how it is negated or
        asked about. Unknown words ("DVT") count as the text's language."""
        foreign_word = any(word in words for words in self.foreign)
        if foreign_text:  # an English message: "short" is English, whatever Spanish borrowed
            return foreign_word or word not in self.own_words
        return foreign_word and word not in self.own_words

    def _pattern(self, pattern: Any, targets: Set[str]) -> List[Dict[str, Any]]:
        """A phrase ("calf", "hinch*", "can't breathe") or Matcher token dicts, as token dicts."""
        if not isinstance(pattern, str):
            return _folded(pattern)
        tokens: List[Dict[str, Any]] = []
        for word in pattern.split():
            if word.endswith("*"):
                tokens.append({STEM_ATTR: {"IN": self._stem_keys(fold(word[:-1]))}})
                continue
            for norm in self.normaliser.pattern_words(word):
                tokens.append({"NORM": norm})
                targets.add(norm)
            targets.update(self.normaliser.words(word)[0])
        return tokens

    def _stem_keys(self, stem: str) -> List[str]:
        """The stems a token starting with `stem` can carry (see _mark_stems)."""
        return sorted(s for s in self.stems if s.startswith(stem))

    def _mark_stems(self, doc: Doc) -> None:
        """Give each token the longest rule stem it starts with ("hinchazon" -> "hinch"):
        one set lookup per letter, where a regular expression per stem per token was the
        slowest part of screening."""
        for token in doc:
            word = token.norm_
            for end in range(min(len(word), self.longest_stem), self.shortest_stem - 1, -1):
                if word[:end] in self.stems:
                    token.lemma_ = word[:end]
                    break

    def screen(self, text: str, language: str) -> Tuple[List[Finding], bool]:
        """Findings of this language's rules in a text whose most likely language is given,
        and whether any concept word was there at all."""
        foreign_text = language != self.rules.language
        doc, offsets = self.normaliser.doc(text, repair=not foreign_text)
        if not len(doc):
            return [], False
        if self.stems:
            self._mark_stems(doc)
        sentences = sentence_ids(doc)
        spans: Dict[str, List[Tuple[int, int]]] = {}
        borrowed: Set[Tuple[int, int]] = set()
        for match_id, start, end in self.concepts(doc):
            spans.setdefault(doc.vocab.strings[match_id], []).append((start, end))
            if all(self._borrowed(token.text, foreign_text) for token in doc[start:end]):
                borrowed.add((start, end))
        if not spans:
            return [], False
        cues = self.context.cues(doc)
        sentences = _fragments_joined(doc, sentences)
        candidates = [(kind, anchors, (min(a[0] for a in anchors), max(a[1] for a in anchors)))
                      for kind in self.rules.kinds for anchors in _anchors(kind, spans, sentences)
                      if not all(a in borrowed for a in anchors)]  # else the other language's
        alarming = [span for kind, _, span in candidates if not kind.only_when_asked]
        findings = []
        for kind, anchors, span in candidates:
            symptom = _symptom_words(kind, spans, span)
            categories = self.context.modifiers(doc, cues, anchors, symptom, kind.name, sentences,
                                                alarming)
            outcome = outcome_of(categories)
            if kind.only_when_asked:
                asked = any(c in categories for c in UNCERTAIN)
                outcome = min(outcome, Outcome.SAFETY_NET) if asked else Outcome.NONE
            findings.append(Finding(
                kind=kind.name, language=self.rules.language,
                start=offsets[span[0]], end=_char_end(doc, offsets, span[1], text),
                modifiers=tuple(sorted(categories)), outcome=outcome,
            ))
        return findings, True


def _fragments_joined(doc: Doc, sentences: List[int]) -> List[int]:
    """Sentence numbers for pairing concepts, a fragment of one or two words joined to the
    sentence after it: "CHEST. PAIN. NOW." is one complaint."""
    words: Dict[int, int] = {}
    for token, number in zip(doc, sentences):
        if not token.is_punct and token.text != "\n":
            words[number] = words.get(number, 0) + 1
    joined, current = [], None
    for number in sorted(set(sentences), reverse=True):
        if current is None or words.get(number, 0) > 2:
            current = number
        joined.append((number, current))
    target = dict(joined)
    return [target[n] for n in sentences]


def _folded(value: Any) -> Any:
    if isinstance(value, str):
        return fold(value)
    if isinstance(value, list):
        return [_folded(v) for v in value]
    if isinstance(value, dict):
        return {k: (_folded(v) if k not in {"OP"} else v) for k, v in value.items()}
    return value


def _symptom_words(kind: Kind, spans: Dict[str, List[Tuple[int, int]]], span: Tuple[int, int]
                   ) -> List[Tuple[int, int]]:
    """The kind's concept words in or touching a finding: a cue inside one of them is part
    of the symptom ("I can not catch my breath"), not a negation of it."""
    labels = set(kind.alone) | {label for group in kind.together for label in group}
    return [s for label in labels for s in spans.get(label, []) if s[0] <= span[1] and span[0] <= s[1]]


def _gap(a: Tuple[int, int], b: Tuple[int, int]) -> int:
    return max(0, b[0] - a[1], a[0] - b[1])


def _anchors(kind: Kind, spans: Dict[str, List[Tuple[int, int]]], sentences: List[int]
             ) -> Iterable[Tuple[Tuple[int, int], ...]]:
    """Each set of concept spans that makes a finding of this kind."""
    found: List[Tuple[Tuple[int, int], ...]] = [(s,) for label in kind.alone for s in spans.get(label, [])]
    for group in kind.together:
        for first in spans.get(group[0], []):
            # Every partner in reach, not only the nearest: in "no pain but my calf is
            # swollen", "calf" + "swollen" is a finding even though "pain" is closer.
            partners = [[s for s in spans.get(label, []) if sentences[s[0]] == sentences[first[0]]
                         and not _overlap(s, first) and _gap(s, first) <= kind.within]
                        for label in group[1:]]
            for rest in product(*partners):
                if not any(_overlap(a, b) for i, a in enumerate(rest) for b in rest[i + 1:]):
                    found.append((first, *rest))
    for anchors in found:
        if not _cancelled(kind, anchors, spans):
            yield anchors


def _overlap(a: Tuple[int, int], b: Tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _cancelled(kind: Kind, anchors: Sequence[Tuple[int, int]], spans: Dict[str, List[Tuple[int, int]]]) -> bool:
    """A `not_next_to` concept beside an anchor: "red veins" is not a red leg; a
    `not_followed_by` concept right after one: "can't see any difference"."""
    for label, distance in kind.not_next_to.items():
        for other in spans.get(label, []):
            if any(not _overlap(other, a) and _gap(other, a) <= distance for a in anchors):
                return True
    for label, distance in kind.not_followed_by.items():
        for other in spans.get(label, []):
            if any(other[0] >= a[1] and other[0] - a[1] <= distance for a in anchors):
                return True
    return False


def _char_end(doc: Doc, offsets: List[int], token_end: int, text: str) -> int:
    if token_end < len(offsets):
        return max(offsets[token_end - 1] + 1, offsets[token_end] - 1)
    return len(text)


def pieces(text: str, size: int = PIECE_CHARS) -> List[Tuple[int, str]]:
    """(offset, piece) of a long text, on sentence ends, each piece repeating the sentence before."""
    if len(text) <= size:
        return [(0, text)]
    sentences = [(m.start(), m.group()) for m in re.finditer(r"[^.!?;\n]*(?:[.!?;\n]+|$)", text) if m.group()]
    split: List[Tuple[int, str]] = []
    for start, sentence in sentences:  # a run-on "sentence" is cut on spaces, overlapping
        while len(sentence) > size:
            cut = sentence.rfind(" ", size // 2, size) + 1 or size
            split.append((start, sentence[:cut]))
            back = max(0, cut - 200)
            start, sentence = start + back, sentence[back:]
        split.append((start, sentence))
    result: List[Tuple[int, str]] = []
    current_start, current, last = 0, "", None
    for start, sentence in split:
        if current and len(current) + len(sentence) > size:
            result.append((current_start, current))
            current_start, current = (last[0], last[1]) if last and len(last[1]) < size // 2 else (start, "")
        if not current:
            current_start = start
        current += sentence
        last = (start, sentence)
    if current:
        result.append((current_start, current))
    return result


def _distinct_words() -> Dict[str, FrozenSet[str]]:
    """Each language's common words that the other language does not have ("the", "los")."""
    folded = {lang: {fold(w) for w in words if len(w) > 1} for lang, words in STOP_WORDS.items()}
    return {lang: frozenset(words - set().union(*(v for k, v in folded.items() if k != lang)))
            for lang, words in folded.items()}


DISTINCT_WORDS = _distinct_words()


def languages_in(text: str, vocabularies: Dict[str, FrozenSet[str]]) -> Set[str]:
    """The languages with at least one word of their own in the text (a common word the
    other language lacks, or any word only it knows): Spanglish is read by both rule
    sets, a message in one language by its rules only."""
    words = set(re.findall(r"[^\W\d_]+", fold(text)))
    present = {lang for lang, common in DISTINCT_WORDS.items() if words & common}
    for lang, own in vocabularies.items():
        others = [words_of for other, words_of in vocabularies.items() if other != lang]
        if lang not in present and any(w in own and not any(w in o for o in others) for w in words):
            present.add(lang)
    return present


def guess_language(text: str) -> str:
    """The language with more of its common words in the text; English on a tie."""
    words = re.findall(r"\w+", text.lower())
    scores = {lang: sum(w in STOP_WORDS[lang] for w in words) for lang in STOP_WORDS}
    return "es" if scores["es"] > scores["en"] else "en"


class RedFlagScreen:
    """All languages' rules; `screen(text)` and `screen_turns(previous, current)`."""

    def __init__(self, languages: Sequence[LanguageScreen], learned: Optional[LearnedScreen] = None,
                 thresholds: Optional[Thresholds] = None) -> None:
        self.languages = list(languages)
        self.learned = learned
        self.thresholds = thresholds or Thresholds.load()
        self.vocabularies = {s.rules.language: s.own_words for s in self.languages}
        self._memory: TTLCache = TTLCache(maxsize=REMEMBERED, ttl=REMEMBER_SECONDS)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, rules_dir: Path = RULES_DIR, languages: Sequence[str] = LANGUAGES,
             learned: Optional[LearnedScreen] = None, model_dir: Optional[Path] = None) -> "RedFlagScreen":
        """The rules of `languages`, with the learned model: `learned` if given, else the
        one fitted on the labelled messages (kept in `model_dir`); none if model_dir is None."""
        if learned is None and model_dir is not None:
            learned = load_or_fit(model_dir, labelled_messages(rules_dir, languages))
        return cls([LanguageScreen(load_rules(lang, rules_dir),
                                   [vocabulary(other) for other in languages if other != lang])
                    for lang in languages], learned, Thresholds.load(rules_dir / "learned.yml"))

    def with_learned(self, learned: Optional[LearnedScreen]) -> "RedFlagScreen":
        """The same rules with another learned model (or none): for evaluations."""
        return RedFlagScreen(self.languages, learned, self.thresholds)

    def screen(self, text: str) -> Screening:
        if len(text) > MAX_REMEMBERED_CHARS:
            return self._screen(text)
        with self._lock:
            remembered = self._memory.get(text)
        if remembered is None:
            remembered = self._screen(text)
            with self._lock:
                self._memory[text] = remembered
        return remembered

    def _screen(self, text: str) -> Screening:
        screening = Screening()
        for offset, piece in pieces(text):
            likely = guess_language(piece)
            present = languages_in(piece, self.vocabularies) | {likely}
            for language in self.languages:
                if language.rules.language not in present:
                    continue  # not one word of it: its rules could only read borrowed words
                findings, concepts = language.screen(piece, likely)
                screening.findings.extend(_shifted(f, offset) for f in findings)
                screening.concepts = screening.concepts or concepts
            if screening.outcome == Outcome.EMERGENCY:
                break  # nothing can outrank it: the reply must not wait for the rest
        if self.learned is not None and screening.outcome < Outcome.EMERGENCY:
            screening.learned = combine(screening.rules_outcome, bool(screening.suppressed),
                                        self.learned.probabilities(text), self.thresholds, word_count(text))
        return screening

    def screen_turns(self, previous: Optional[str], current: str) -> Screening:
        """The current message, read on from the previous one: a red flag split over two
        messages. Only findings that reach into the current message count."""
        alone = self.screen(current)
        if not previous or alone.outcome == Outcome.EMERGENCY:
            return alone
        # Only a message with symptom words, or a short one ("and it's hot", "I have it
        # right now"), can complete or answer the one before.
        if not alone.concepts and len(current) > SHORT_REPLY_CHARS:
            return alone
        tail, head = _tail(previous, JOIN_CHARS), _head(current, JOIN_CHARS)
        before = self.screen(tail)
        if not before.concepts:
            return alone
        # A split red flag meets at the boundary: the end of one message, the start of the next.
        joined_text = f"{tail}\n{head}" if tail.rstrip()[-1:] in ".!?" else f"{tail} {head}"
        boundary = len(joined_text) - len(head)
        joined = self.screen(joined_text)
        reaching = [f for f in joined.findings if f.end > boundary]
        # "Is chest pain a side effect?" then "I have it right now": the second message
        # raises the first one's outcome.
        raised = [f for f in joined.findings if f.outcome > max(before.outcome, alone.outcome)]
        learned = joined.learned if joined.learned > max(before.outcome, alone.outcome) else Outcome.NONE
        return Screening(alone.findings + reaching + raised, concepts=True, learned=max(alone.learned, learned))


def _tail(text: str, size: int) -> str:
    """The end of a text, at most `size` characters, starting at a word."""
    if len(text) <= size:
        return text
    cut = text.find(" ", len(text) - size)
    return text[cut + 1:] if cut >= 0 else text[-size:]


def _head(text: str, size: int) -> str:
    """The start of a text, at most `size` characters, ending at a word."""
    if len(text) <= size:
        return text
    cut = text.rfind(" ", 0, size)
    return text[:cut] if cut > 0 else text[:size]


def _shifted(finding: Finding, offset: int) -> Finding:
    if not offset:
        return finding
    return Finding(finding.kind, finding.language, finding.start + offset, finding.end + offset,
                   finding.modifiers, finding.outcome)


_SHARED: Optional[RedFlagScreen] = None
_SHARED_LOCK = threading.Lock()


def shared_screen() -> RedFlagScreen:
    """One screen per process, loaded on first use (the rules take seconds to compile;
    the NLU component, the policy and the tools all read the same ones)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = RedFlagScreen.load(model_dir=var_dir())
        return _SHARED

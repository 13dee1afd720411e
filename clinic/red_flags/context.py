"""ConText: which findings a cue ("no", "what if", "years ago") modifies.

The algorithm of Chapman et al.'s ConText as medspaCy implements it, over the rule
schema of data/red_flags/<lang>/context.json: a cue modifies the findings in its
scope, which runs FORWARD, BACKWARD or both from the cue for at most `max_scope`
words, stops at the sentence's end and at the nearest TERMINATE cue ("but", ", my"),
and never includes the cue itself. A PSEUDO cue ("no doubt", "not sure") cancels the
shorter cues it overlaps. A cue inside a concept (the "not" of "can not breathe") is part of
the symptom, not a modifier. `metadata.scope: message` lets a cue reach over
sentence ends and TERMINATE cues ("chest pain, breathlessness... I have none of those").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence, Set, Tuple

from spacy.matcher import Matcher
from spacy.tokens import Doc

from clinic.red_flags.rules import ContextRule

Span = Tuple[int, int]


@dataclass(frozen=True)
class Cue:
    rule: ContextRule
    start: int
    end: int

    def overlaps(self, span: Span) -> bool:
        return self.start < span[1] and span[0] < self.end

    def longer_than(self, other: "Cue") -> bool:
        """A PSEUDO cue cancels the shorter cues it overlaps ("not sure" cancels "not"),
        not a cue of the same words ("fine now" stays a sign of the past)."""
        return (self.end - self.start) > (other.end - other.start)


def sentence_ids(doc: Doc) -> List[int]:
    """Sentence number of each token: . ! ? ; and line breaks end a sentence."""
    ids, current = [], 0
    for token in doc:
        ids.append(current)
        if token.text == "\n" or (token.text and all(c in ".!?;…" for c in token.text)):
            current += 1
    return ids


class ContextMatcher:
    """Finds the cues of one language's rules and tells which findings each modifies."""

    def __init__(self, rules: Sequence[ContextRule], matcher: Matcher) -> None:
        self.rules = list(rules)
        self.matcher = matcher  # labels are "CTX<i>", i the rule's index

    def cues(self, doc: Doc) -> List[Cue]:
        found = []
        for match_id, start, end in self.matcher(doc):
            index = int(doc.vocab.strings[match_id][3:])
            found.append(Cue(self.rules[index], start, end))
        pseudo = [c for c in found if c.rule.direction == "PSEUDO"]
        return [c for c in found if c.rule.direction == "PSEUDO"
                or not any(p.overlaps((c.start, c.end)) and p.longer_than(c) for p in pseudo)]

    def modifiers(self, doc: Doc, cues: List[Cue], concepts: Sequence[Span], symptom: Sequence[Span],
                  kind: str, sentences: List[int], findings: Sequence[Span] = ()) -> Set[str]:
        """The categories of the cues whose scope covers one of the finding's concepts.

        A cue inside the symptom's words is part of the symptom ("can not breathe"); a
        cue between two concepts modifies them ("my leg is not swollen")."""
        terminators = [c for c in cues if c.rule.direction == "TERMINATE"]
        categories: Set[str] = set()
        for cue in cues:
            rule = cue.rule
            if rule.direction in {"TERMINATE", "PSEUDO"} or any(cue.overlaps(c) for c in (*concepts, *symptom)):
                continue
            if rule.allowed_types is not None and kind not in rule.allowed_types:
                continue
            if rule.category in NEAREST_ONLY and _finding_between(concepts, cue, findings):
                continue
            if any(_in_scope(cue, concept, terminators, sentences) for concept in concepts):
                categories.add(rule.category)
        return categories


# Categories whose cue speaks of one symptom only, the nearest before it: in "I can't
# breathe, the chest pain went away", "went away" ends the chest pain, not the breathing.
NEAREST_ONLY = frozenset({"RESOLVED"})


def _finding_between(concepts: Sequence[Span], cue: Cue, findings: Sequence[Span]) -> bool:
    """Another finding lies wholly between this one and the cue (after it, before the cue)."""
    end = max(c[1] for c in concepts)
    start = min(c[0] for c in concepts)
    return any(s[0] >= end and s[1] <= cue.start and not (s[0] < end and start < s[1]) for s in findings)


def _in_scope(cue: Cue, finding: Span, terminators: List[Cue], sentences: List[int]) -> bool:
    rule = cue.rule
    limit = rule.max_scope if rule.max_scope else 10_000
    forward = rule.direction in {"FORWARD", "BIDIRECTIONAL"}
    backward = rule.direction in {"BACKWARD", "BIDIRECTIONAL"}
    crosses = rule.message_scope  # reaches over sentence ends and TERMINATE cues
    if forward and finding[0] >= cue.end:
        end = cue.end + limit
        for stop in terminators:
            if stop.start >= cue.end and not crosses:
                end = min(end, stop.start)
        if not rule.message_scope:
            end = min(end, _sentence_end(sentences, cue.end - 1))
        if finding[0] < end:
            return True
    if backward and finding[1] <= cue.start:
        start = max(0, cue.start - limit)
        for stop in terminators:
            if stop.end <= cue.start and not crosses:
                start = max(start, stop.end)
        if not rule.message_scope:
            start = max(start, _sentence_start(sentences, cue.start))
        if finding[1] > start:
            return True
    return False


def _sentence_end(sentences: List[int], index: int) -> int:
    number = sentences[index]
    end = index
    while end < len(sentences) and sentences[end] == number:
        end += 1
    return end


def _sentence_start(sentences: List[int], index: int) -> int:
    number = sentences[index]
    start = index
    while start > 0 and sentences[start - 1] == number:
        start -= 1
    return start


def rule_patterns(rules: Sequence[ContextRule], phrase_to_pattern) -> Dict[str, List[list]]:
    """Matcher patterns by label CTX<i>: the rule's own pattern, else its literal."""
    patterns = {}
    for index, rule in enumerate(rules):
        pattern = rule.pattern if rule.pattern else phrase_to_pattern(rule.literal)
        patterns[f"CTX{index}"] = [pattern]
    return patterns

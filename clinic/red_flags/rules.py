"""Reading one language's red-flag rules from data/red_flags/<language>/.

Four files, all meant to be read and reviewed by a clinician:

- `concepts.jsonl`: one concept pattern a line, in spaCy's EntityRuler format:
  {"label": "CHEST", "pattern": "chest"} (a phrase; a word ending in * matches any
  word that starts so) or {"label": ..., "pattern": [token dicts]} (spaCy Matcher).
- `kinds.yml`: the red-flag kinds: which concepts are enough alone, which must
  meet within a few words, which nearby concepts cancel them; examples.
- `context.json`: ConText rules (medspaCy's schema): a cue, its category
  (NEGATED_EXISTENCE, HYPOTHETICAL, ...), direction and scope; examples in metadata.
- `lexicon.tsv`: spellings to normalise ("cant" -> "can not"), one a line.

Nothing here knows the meaning of a category; screen.py and context.py do.
"""
from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

RULES_DIR = Path(__file__).resolve().parents[2] / "data" / "red_flags"
LANGUAGES: Tuple[str, ...] = ("en", "es")

DIRECTIONS = frozenset({"FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO"})


class RuleError(ValueError):
    """A rule file that cannot be used, with the file and the reason."""


def fold(text: str) -> str:
    """Lower case without accents: "Desmayó" and "desmayo" are one word to the rules."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True)
class Example:
    """A message and the outcome the rules must give it (a test, in tests/unit)."""

    text: str
    outcome: str
    messages: Tuple[str, ...] = ()


@dataclass
class ConceptPattern:
    label: str
    pattern: Any  # a phrase (str) or a list of spaCy Matcher token dicts


@dataclass
class Kind:
    """A red-flag kind: `alone` concepts suffice; each `together` group must meet within
    `within` words in one sentence; `not_next_to` concepts within N words cancel it."""

    name: str
    red_flag: str
    alone: List[str] = field(default_factory=list)
    together: List[List[str]] = field(default_factory=list)
    within: int = 6
    not_next_to: Dict[str, int] = field(default_factory=dict)
    not_followed_by: Dict[str, int] = field(default_factory=dict)  # "can't see any difference"
    # A kind that is only a question's topic ("what if I'm allergic?"): at most the
    # safety net, and only when asked, conditional or uncertain; nothing otherwise.
    only_when_asked: bool = False
    examples: List[Example] = field(default_factory=list)
    counter_examples: List[Example] = field(default_factory=list)


@dataclass
class ContextRule:
    """One ConText rule (medspaCy's schema: literal, category, pattern, direction,
    max_scope, allowed_types, metadata)."""

    literal: str
    category: str
    direction: str = "BIDIRECTIONAL"
    pattern: Optional[Any] = None
    max_scope: Optional[int] = None
    allowed_types: Optional[frozenset] = None
    message_scope: bool = False  # metadata.scope == "message": crosses sentences and TERMINATE
    examples: List[Example] = field(default_factory=list)


@dataclass
class RuleSet:
    language: str
    concepts: List[ConceptPattern]
    kinds: List[Kind]
    context: List[ContextRule]
    lexicon: Dict[str, str]
    source: Path

    @property
    def concept_labels(self) -> set:
        return {c.label for c in self.concepts}

    def examples(self) -> List[Tuple[str, Example]]:
        """(where, example) of every example written beside a rule: tests of the rules,
        and labelled messages for the learned model."""
        return [(f"kind {kind.name}", e) for kind in self.kinds for e in kind.examples + kind.counter_examples] + \
            [(f"context {rule.literal!r}", e) for rule in self.context for e in rule.examples]


def _examples(raw: Any, where: str) -> List[Example]:
    examples = []
    for item in raw or []:
        if isinstance(item, str):
            raise RuleError(f"{where}: examples are {{text: ..., outcome: ...}}, got {item!r}")
        messages = tuple(item.get("messages") or ())
        examples.append(Example(text=item.get("text") or " ".join(messages),
                                outcome=item["outcome"], messages=messages))
    return examples


def _load_concepts(path: Path) -> List[ConceptPattern]:
    concepts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            item = json.loads(line)
            concepts.append(ConceptPattern(label=item["label"], pattern=item["pattern"]))
        except (ValueError, KeyError) as error:
            raise RuleError(f"{path}:{number}: {error}") from error
    return concepts


def _load_kinds(path: Path, labels: set) -> List[Kind]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    kinds = []
    for name, spec in (raw.get("kinds") or {}).items():
        where = f"{path}: {name}"
        kind = Kind(
            name=name,
            red_flag=spec.get("red_flag", name),
            alone=list(spec.get("alone") or []),
            together=[list(group) for group in spec.get("together") or []],
            within=int(spec.get("within", 6)),
            not_next_to={k: int(v) for k, v in (spec.get("not_next_to") or {}).items()},
            not_followed_by={k: int(v) for k, v in (spec.get("not_followed_by") or {}).items()},
            only_when_asked=bool(spec.get("only_when_asked", False)),
            examples=_examples(spec.get("examples"), where),
            counter_examples=_examples(spec.get("counter_examples"), where),
        )
        used = set(kind.alone) | {c for group in kind.together for c in group} | set(kind.not_next_to) \
            | set(kind.not_followed_by)
        unknown = used - labels
        if unknown:
            raise RuleError(f"{where}: no concept pattern for {sorted(unknown)}")
        kinds.append(kind)
    return kinds


def _load_context(path: Path, kind_names: set) -> List[ContextRule]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    rules = []
    for index, item in enumerate(raw.get("context_rules") or []):
        where = f"{path}: rule {index} ({item.get('literal')!r})"
        direction = item.get("direction", "BIDIRECTIONAL")
        if direction not in DIRECTIONS:
            raise RuleError(f"{where}: direction must be one of {sorted(DIRECTIONS)}")
        allowed = item.get("allowed_types")
        if allowed and set(allowed) - kind_names:
            raise RuleError(f"{where}: unknown kinds {sorted(set(allowed) - kind_names)}")
        metadata = item.get("metadata") or {}
        rules.append(ContextRule(
            literal=item["literal"],
            category=item["category"] if direction not in {"TERMINATE", "PSEUDO"} else direction,
            direction=direction,
            pattern=item.get("pattern"),
            max_scope=item.get("max_scope"),
            allowed_types=frozenset(allowed) if allowed else None,
            message_scope=metadata.get("scope") == "message",
            examples=_examples(metadata.get("examples"), where),
        ))
    return rules


def _load_lexicon(path: Path) -> Dict[str, str]:
    lexicon: Dict[str, str] = {}
    if not path.exists():
        return lexicon
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise RuleError(f"{path}:{number}: expected 'spelling<TAB>normal form'")
        lexicon[fold(parts[0].strip())] = fold(parts[1].strip())
    return lexicon


def load_rules(language: str, rules_dir: Path = RULES_DIR) -> RuleSet:
    """One language's rules, checked for consistency; RuleError says what is wrong."""
    folder = rules_dir / language
    if not folder.is_dir():
        raise RuleError(f"no red-flag rules for language {language!r} in {folder}")
    concepts = _load_concepts(folder / "concepts.jsonl")
    kinds = _load_kinds(folder / "kinds.yml", {c.label for c in concepts})
    context = _load_context(folder / "context.json", {k.name for k in kinds})
    return RuleSet(language, concepts, kinds, context, _load_lexicon(folder / "lexicon.tsv"), folder)

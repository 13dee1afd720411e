"""Patients' spelling made readable to the rules: one normal word per token.

Each language's tokenizer splits the text; the lexicon (data/red_flags/<lang>/lexicon.tsv)
rewrites SMS spellings ("cant" -> "can not", "rn" -> "right now"); an unknown word a
letter or two away from a word the concept patterns use is read as that word
("brething" -> "breathing"; rapidfuzz's optimal string alignment distance). Words the
language knows (spaCy's lookup tables) are never "repaired": "chess" stays chess.
Every token's NORM is then its lemma (English) or its folded form (Spanish), and the
patterns are read through the same steps, so rule and text always agree.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from rapidfuzz.distance import OSA
from rapidfuzz.process import extractOne
from spacy.language import Language
from spacy.util import get_lang_class
import spacy_lookups_data
import srsly
from spacy.tokens import Doc

from clinic.red_flags.rules import fold

# Shortest word repaired, and the edits allowed by length: short words have too many
# real neighbours ("hat" / "hot") to guess safely.
MIN_REPAIR_LENGTH = 5
LONG_WORD = 8


def lemma_table(language: str) -> Dict[str, str]:
    """The language's lookup lemmas (spacy-lookups-data), folded; empty where unused."""
    if language != "en":  # Spanish rules match on word stems (hinch*), not lookup lemmas
        return {}
    return {fold(k): fold(v) for k, v in _lookup_table(language).items()}


@lru_cache(maxsize=None)
def _lookup_table(language: str) -> Dict[str, str]:
    """spacy-lookups-data's lemma table with its words (spaCy's Table keeps only hashes)."""
    path = spacy_lookups_data.get_file(f"{language}_lemma_lookup.json.gz")
    return srsly.read_gzip_json(path)


@lru_cache(maxsize=None)
def vocabulary(language: str) -> FrozenSet[str]:
    """The language's real words, never "repaired": every form in the lookup table and
    every lemma ("hinchazón" as well as "hinchazones"), and the common words the tables
    leave out because they never inflect ("every")."""
    table = _lookup_table(language)
    stop_words = get_lang_class(language).Defaults.stop_words
    return frozenset({fold(w) for pair in table.items() for w in pair} | {fold(w) for w in stop_words})


def _doubled_letter(word: str, target: str) -> bool:
    """One word is the other with a letter doubled or undoubled ("calff", "painfull")."""
    longer, shorter = (word, target) if len(word) > len(target) else (target, word)
    return any(longer[i] == longer[i - 1] and longer[:i] + longer[i + 1:] == shorter
               for i in range(1, len(longer)))


class Normaliser:
    """Text -> a spaCy Doc of normal words, each token's NORM what the rules match on."""

    def __init__(self, nlp: Language, lexicon: Dict[str, str], lemmas: Dict[str, str],
                 known: Sequence[FrozenSet[str]]) -> None:
        self.nlp = nlp
        self.lexicon = lexicon
        self.lemmas = lemmas
        self.known = tuple(known)  # word lists, shared (not copied): each language's vocabulary
        self.targets: Tuple[str, ...] = ()
        self._repair = lru_cache(maxsize=50_000)(self._nearest_target)

    def set_repair_targets(self, words: Iterable[str]) -> None:
        """The words typos are repaired towards: the concept patterns' own words."""
        self.targets = tuple(sorted({w for w in words if len(w) >= MIN_REPAIR_LENGTH - 1 and w.isalpha()}))
        self._repair.cache_clear()

    def words(self, text: str, repair: bool = True) -> Tuple[List[str], List[int]]:
        """Normal words and, for each, the character offset of the word it came from."""
        words: List[str] = []
        offsets: List[int] = []
        for token in self.nlp.tokenizer(text):
            if token.is_space:
                if "\n" in token.text:
                    words.append("\n")
                    offsets.append(token.idx)
                continue
            raw = fold(token.norm_ if token.norm_ in {"not", "can", "will", "do", "am", "are", "is"}
                       else token.text)
            for word in self._spell(raw, repair).split():
                words.append(word)
                offsets.append(token.idx)
        return words, offsets

    def _spell(self, word: str, repair: bool = True) -> str:
        if word in self.lexicon:
            return self.lexicon[word]
        if not repair or len(word) < MIN_REPAIR_LENGTH or not word.isalpha() or any(word in k for k in self.known):
            return word
        return self._repair(word) or word

    def _nearest_target(self, word: str) -> Optional[str]:
        limit = 2 if len(word) >= LONG_WORD else 1
        found = extractOne(word, self.targets, scorer=OSA.distance, score_cutoff=limit)
        if not found:
            return None
        target = found[0]
        if (word in target or target in word) and not _doubled_letter(word, target):
            return None  # letters added or cut at an end: another word ("conscious", "every")
        return target

    def doc(self, text: str, repair: bool = True) -> Tuple[Doc, List[int]]:
        """The text as normal words; `repair=False` leaves unknown words as written (a
        message in another language: "trombosis" is Spanish, not a misspelt "thrombosis")."""
        words, offsets = self.words(text, repair)
        doc = Doc(self.nlp.vocab, words=words)
        for token in doc:
            token.norm_ = self.lemmas.get(token.text, token.text)
            if token.i:  # sentence starts, for question cues: after . ! ? ; and line breaks
                before = doc[token.i - 1].text
                token.is_sent_start = before == "\n" or all(c in ".!?;…" for c in before)
        return doc, offsets or [0]

    def pattern_words(self, phrase: str) -> List[str]:
        """A rule's phrase read the way text is, as NORM values (lexicon, lemmas)."""
        return [self.lemmas.get(w, w) for w in self.words(phrase)[0]]

"""Which language a conversation is in: English or Spanish, decided one message at a time.

The conversation keeps its language (the Rasa slot `language`) until a message gives
good reason to change it. `language_to_set` says, for one message, which language to
set, or None to keep the current one:
- a request to switch ("English please", "en español", "habla español?") names the
  language asked for (`requested_language`);
- otherwise a message switches only when it has three or more words, none of the
  other language's grammar words, and the detector (lingua, English and Spanish models
  only) is confident or backed by grammar words (Detection.evident_language). Short replies ("ok", "si", "2", a name, a phone
  number, "10/12") carry no evidence; Spanglish ("el treatment duele?": Spanish grammar,
  an English noun, which lingua calls English) keeps the conversation's language
  instead of flipping it back and forth;
- an emergency or safety-net message that the red-flag rules found is answered in the
  language its words are in, short or not: its grammar words if they are of one language
  only, else a confident detection, else the language of the rules that found it.

Nothing here needs Rasa; addons/language.py applies it inside the NLU pipeline.
"""
from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, List, Optional

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

from clinic.languages import REPLY_LANGUAGES

ENGLISH, SPANISH = REPLY_LANGUAGES
LANGUAGES = REPLY_LANGUAGES
DEFAULT_LANGUAGE = ENGLISH  # what an unset `language` slot means: responses without a condition

# A message needs this many words to change the conversation's language by detection.
MIN_WORDS_TO_SWITCH = 3
# lingua's probability for its best language (the two sum to 1) needed to switch; chosen on
# tests/data/language/dev.yml with tools/evaluate_language.py (README, "Languages").
MIN_CONFIDENCE_TO_SWITCH = 0.8
# Below this, lingua cannot tell (the two languages' probabilities are near 0.5): grammar
# words of one language decide.
UNDECIDED_BELOW = 0.6
# A switch request is short: "can you please answer me in spanish from now on" at most.
MAX_REQUEST_WORDS = 10

_LINGUA = {Language.ENGLISH: ENGLISH, Language.SPANISH: SPANISH}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")

# Grammar words (articles, pronouns, prepositions, auxiliaries, question words) that are
# frequent in patients' messages and are not words of the other language, accents
# folded. A message with such words of both languages is Spanglish.
GRAMMAR_WORDS: Dict[str, FrozenSet[str]] = {
    ENGLISH: frozenset("""
        the my is are was were it its it's i'm im you your you're what what's how why when
        where which who can could would should will won't do does did don't dont doesn't
        have has had with and of to for from this that these those after before about be
        been being not there they we our us her his him she if or at on in an just also
        but so than then very get got want need much many any some will i've i'll i'd isn't
        can't cant""".split()),
    SPANISH: frozenset("""
        el la los las un una unos unas es en que de del al por para mi mis tu tus su sus pero
        como cuando donde porque tengo tiene tienen tenia puedo puede pueden podria esta
        estan estoy estaba hay muy mas se lo le les nos usted ustedes ella ellos este
        esto eso ese esa estos esas tambien hace hacer quiero quisiera necesito duele cuanto
        cuanta cuantas cuantos cuesta despues antes sin sobre entre hasta desde todo todos
        eres soy estas casi ni aqui ahi alli ahora ahorita mucho mucha poco otra otro
        algo nada bien bueno buenos buenas gracias hola dias tarde manana cita cual cuales
        si fue ser estar""".split()),
}

# The names of the two languages, as patients write them (accents folded).
LANGUAGE_NAMES: Dict[str, str] = {
    "english": ENGLISH, "ingles": ENGLISH, "inglis": ENGLISH,
    "spanish": SPANISH, "espanol": SPANISH, "castellano": SPANISH, "espanish": SPANISH,
}
# "no hablo inglés", "I don't understand Spanish": a negation up to three words before a name.
NEGATIONS = frozenset({"no", "not", "dont", "don't", "cant", "can't", "cannot", "never", "nunca", "ni"})
NEGATION_REACH = 3
_NAME = "(?P<name>" + "|".join(sorted(LANGUAGE_NAMES, key=len, reverse=True)) + ")"
_PLEASE = r"(?: (?:please|pls|plz|por favor|porfa|porfavor))?"
# Whole messages that ask for a language (folded: lower case, no accents, no punctuation).
SWITCH_REQUESTS = tuple(re.compile(pattern) for pattern in (
    # "english", "english please", "in english", "en español", "español por favor"
    rf"^(?:(?:please|por favor) )?(?:in |en |en el )?(?:idioma )?{_NAME}{_PLEASE}$",
    # "can you speak english", "could we do this in spanish", "can you answer in english please"
    rf"^(?:(?:can|could|would) (?:you|we|u) )?(?:please )?(?:speak|talk|write|answer|reply|chat|"
    rf"continue|do this|go on|text|respond)(?: to me| me)?(?: in)? {_NAME}(?: from now on)?{_PLEASE}$",
    # "I prefer English", "I'd like to continue in Spanish", "I want spanish please"
    rf"^(?:i|we) (?:prefer|want|would like|d like|need|'d like)(?: to (?:speak|talk|chat|continue|"
    rf"write|text))?(?: in)? {_NAME}{_PLEASE}$",
    # "switch to english", "change language to spanish", "change to english please"
    rf"^(?:please )?(?:switch|change|go back)(?: the)?(?: language)?(?: back)? to {_NAME}{_PLEASE}$",
    # "habla español?", "hablas ingles", "¿se habla español?", "me puede hablar en español"
    rf"^(?:(?:usted|tu) )?(?:se )?(?:me )?(?:(?:puede|puedes|podria|podrias|podemos|pueden) )?"
    rf"(?:habla|hablas|hablan|hablar|hablame|hableme|escribir|escribame|escribeme|responder|"
    rf"responderme|contestar|contesteme|seguir|continuar|atender|atenderme)(?: me)?(?: en)? {_NAME}{_PLEASE}$",
    # "prefiero español", "quiero hablar en inglés", "quisiera seguir en español por favor"
    rf"^(?:yo )?(?:prefiero|quiero|quisiera|necesito|me gustaria)(?: (?:hablar|seguir|continuar|"
    rf"escribir|que me (?:hable|hablen|escriba|respondan|responda)))?(?: en)? {_NAME}{_PLEASE}$",
    # "cambiar a español", "cambie el idioma a inglés por favor", "cambiemos al español"
    rf"^(?:(?:por favor|puede|podria) )?(?:cambiar|cambia|cambie|cambiemos|cambiame|cambieme)"
    rf"(?: el idioma)? (?:a|al) {_NAME}{_PLEASE}$",
))


@dataclass(frozen=True)
class Detection:
    """What one message says about its language."""

    language: Optional[str]  # lingua's best guess; None for no letters at all
    confidence: float  # lingua's probability for it, 0.0 when there are no letters
    words: int
    grammar_languages: FrozenSet[str]  # languages whose grammar words the message has

    @property
    def is_mixed(self) -> bool:
        return len(self.grammar_languages) > 1

    @property
    def evident_language(self) -> Optional[str]:
        """The language this message is evidence enough for, on its own, or None: three or
        more words, grammar words of one language at most, and either lingua confident
        and not contradicted by them, or grammar words of lingua's language ("my son has
        spider veins": lingua 0.69, but "my" and "has"), or grammar words of one language
        where lingua cannot tell ("eres un robot?": lingua 0.52 English)."""
        if self.language is None or self.words < MIN_WORDS_TO_SWITCH or self.is_mixed:
            return None
        grammar = next(iter(self.grammar_languages), None)
        if grammar in (None, self.language):
            return self.language if self.confidence >= MIN_CONFIDENCE_TO_SWITCH or grammar else None
        return grammar if self.confidence < UNDECIDED_BELOW else None


_detector: Optional[LanguageDetector] = None
_detector_lock = threading.Lock()


def detector() -> LanguageDetector:
    """lingua for English and Spanish only, its models loaded once per process (0.4 s, 100 MB
    less than all languages) so no patient's message waits for them."""
    global _detector
    if _detector is None:
        with _detector_lock:
            if _detector is None:
                _detector = (LanguageDetectorBuilder.from_languages(*_LINGUA)
                             .with_preloaded_language_models().build())
    return _detector


def fold(text: str) -> str:
    """Lower case without accents: patients often type "espanol", "ingles", "esta"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words_of(text: str) -> List[str]:
    """The words (letters only) of a text, folded: numbers, phones and dates have none."""
    return _WORD.findall(fold(text).replace("’", "'"))


def grammar_languages(words: Iterable[str]) -> FrozenSet[str]:
    present = set(words)
    return frozenset(lang for lang, grammar in GRAMMAR_WORDS.items() if present & grammar)


def detect(text: str) -> Detection:
    words = words_of(text)
    if not words:
        return Detection(None, 0.0, 0, frozenset())
    best = detector().compute_language_confidence_values(text)[0]
    language = _LINGUA.get(best.language) if best.value > 0 else None
    return Detection(language, best.value if language else 0.0, len(words), grammar_languages(words))


def requested_language(text: str) -> Optional[str]:
    """The language a message asks for, when the whole message is such a request."""
    words = words_of(text)
    if len(words) > MAX_REQUEST_WORDS or not any(w in LANGUAGE_NAMES for w in words):
        return None  # most messages: no pattern to try
    folded = " ".join(words)
    for pattern in SWITCH_REQUESTS:
        match = pattern.match(folded)
        if match:
            return LANGUAGE_NAMES[match.group("name")]
    return None


def named_language(text: str) -> Optional[str]:
    """The language a message asks for by name ("can we do this in Spanish"), a name just
    after a negation meaning the other one ("no entiendo inglés", "I don't read Spanish");
    None when it names none, or both as wanted."""
    wanted = set()
    for clause in re.split(r"[,.;:!?¿¡]+", text):  # a negation reaches no further than its clause
        words = words_of(clause)
        for i, word in enumerate(words):
            if word in LANGUAGE_NAMES:
                named = LANGUAGE_NAMES[word]
                negated = any(w in NEGATIONS for w in words[max(0, i - NEGATION_REACH):i])
                wanted.add(next(lang for lang in LANGUAGES if lang != named) if negated else named)
    return wanted.pop() if len(wanted) == 1 else None


def language_to_set(text: str, alarm_language: Optional[str] = None) -> Optional[str]:
    """The language to set for the conversation after this message, or None to keep its own.

    `alarm_language`: the red-flag rules of this language found an emergency or a question
    about one in the message, which is then answered in the language its words are in,
    however short ("me ahogo"). A classifier's alarm without the rules is no evidence of a
    language ("si" is not Spanish enough to switch): the ordinary rule applies."""
    if alarm_language is None:
        requested = requested_language(text)
        if requested:
            return requested
        if len(words_of(text)) < MIN_WORDS_TO_SWITCH:
            return None  # "ok", "si", "2", "10/12", a name: not even worth asking lingua
        return detect(text).evident_language
    detection = detect(text)
    if len(detection.grammar_languages) == 1:
        return next(iter(detection.grammar_languages))
    if detection.language and detection.confidence >= MIN_CONFIDENCE_TO_SWITCH and not detection.is_mixed:
        return detection.language
    return alarm_language

"""The red-flag screen: emergency symptoms always win.

Three parts, all deterministic:

* `RedFlagMatcher` finds red-flag symptoms (../shared/product/intents.md) in a
  patient's text. spaCy `Matcher` patterns over a normalised copy of the text
  (lower case, SMS spellings and typos repaired, lemmas from the project's lookup
  lemmatizer) find *concepts* ("calf", "swollen", "can't", "breathe"); a kind of
  red flag fires when the right concepts meet inside one clause. Each finding is
  then checked in its own clause or sentence for negation ("no chest pain"),
  hypotheticals ("what should I do if..."), general questions ("can it cause
  blood clots?"), past or long-standing history ("I fainted once years ago") and
  mild after-effects at the injection site ("a bit red where the needle went in").
  Context never crosses "but" or a new sentence, so "probably nothing but my chest
  hurts" still fires.
* `RedFlagScreen`, the last NLU component: on a finding it sets the intent to
  medical_emergency (confidence 1.0) and adds a `red_flag` entity with the kind.
* `RedFlagPolicy`, the first policy: when the latest message is a red flag (from
  the screen, the classifier, or the screen run on the previous message of the
  session joined with this one) it answers utter_emergency, ends any form and
  records the event, outranking every other policy.

Patient text is never logged; only the kind of red flag is.
"""
from __future__ import annotations

import bisect
import logging
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Text, Tuple

import spacy
from cachetools import TTLCache
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPACY_MODEL = "var/spacy/vein_pipeline"
# Longer messages are screened on their first and last halves of this (a few
# thousand words; the REST channel accepts 256 KB, and screening runs inside the
# Rasa server's event loop).
MAX_SCREENED_CHARS = 20_000
# screen_turns remembers this many (previous, current) results per process: the
# policy asks 2-4 times per message, once per action it predicts.
VERDICT_CACHE_SIZE = 2048
# Analyses of texts up to this long are remembered (as many as VERDICT_CACHE_SIZE):
# patients' messages are short, and huge ones must not fill the memory.
MAX_REMEMBERED_CHARS = 2_000
# Patients' words stay in these memories at most this long (as kept conversations do,
# addons/stores.py): well past a turn, never near the retention period.
REMEMBER_SECONDS = 900
_NOT_SEEN = object()

# --- Kinds of red flag (intents.md, "Red flags") -------------------------------
CHEST_PAIN = "chest_pain"
BREATHING = "breathing_difficulty"
COUGHING_BLOOD = "coughing_blood"
FAINTING = "fainting"
RACING_HEART = "racing_heart"
LEG_CLOT = "leg_swelling_heat_pain"
VISION = "vision_loss"
STROKE = "stroke_signs"
ALLERGY = "allergic_reaction"
BLEEDING = "uncontrolled_bleeding"
SKIN = "skin_necrosis_or_ulcer"
KINDS: Tuple[str, ...] = (
    CHEST_PAIN, BREATHING, COUGHING_BLOOD, FAINTING, RACING_HEART, LEG_CLOT,
    VISION, STROKE, ALLERGY, BLEEDING, SKIN,
)


# =============================================================================
# Normalisation: SMS spellings and typos, so patterns see dictionary words.
# =============================================================================

# Whole-token rewrites: SMS forms and misspellings that are themselves real
# words (so the typo repair below would leave them alone).
SMS_AND_TYPOS: Dict[str, str] = {
    # SMS
    "u": "you", "ur": "your", "r": "are", "pls": "please", "plz": "please", "n": "and",
    "&": "and", "+": "and", "w/": "with", "w": "with", "bc": "because", "cuz": "because",
    "coz": "because", "abt": "about", "b4": "before", "2day": "today", "tdy": "today",
    "2nite": "tonight", "tonite": "tonight", "rn": "now", "atm": "now", "nw": "now",
    "yday": "yesterday", "yest": "yesterday", "tmrw": "tomorrow", "hrs": "hours", "hr": "hour",
    "mins": "minutes", "min": "minutes",
    # contractions typed without the apostrophe
    "cnt": "can not", "cant": "can not", "cannot": "can not", "wont": "will not",
    "dont": "do not", "didnt": "did not", "doesnt": "does not", "isnt": "is not",
    "hasnt": "has not", "havent": "have not", "couldnt": "could not", "wasnt": "was not",
    "arent": "are not", "wouldnt": "would not", "shouldnt": "should not", "im": "i am",
    "ive": "i have", "hes": "he is", "shes": "she is",
    # misspellings too short or too odd for the repair below, and run-together words
    "hart": "heart", "harts": "hearts", "brest": "chest", "cheast": "chest", "breth": "breath",
    "brethe": "breathe", "brething": "breathing", "breating": "breathing",
    "breahting": "breathing", "breathin": "breathing", "bleedin": "bleeding",
    "bleding": "bleeding", "bleeing": "bleeding", "coughin": "coughing", "cofing": "coughing",
    "coffing": "coughing", "caughing": "coughing", "blod": "blood", "blud": "blood",
    "swolen": "swollen", "swolle": "swollen", "swollon": "swollen", "sollen": "swollen",
    "swoll": "swollen", "vison": "vision", "visoin": "vision", "palpatations": "palpitations",
    "palpitaions": "palpitations", "palpations": "palpitations", "faintd": "fainted",
    "dizy": "dizzy", "dizzie": "dizzy", "lightheadded": "lightheaded", "numbe": "numb",
    "slured": "slurred", "sluring": "slurring", "tounge": "tongue", "tung": "tongue",
    "throut": "throat", "thoat": "throat", "calv": "calf", "claf": "calf", "cafl": "calf",
    "caf": "calf", "hott": "hot", "ulser": "ulcer", "epi-pen": "epipen", "pian": "pain",
    "pani": "pain", "paine": "pain", "painfull": "painful", "ambulence": "ambulance",
    "chestpain": "chest pain", "chestpains": "chest pains", "legpain": "leg pain",
    "calfpain": "calf pain",
}

# Contractions the tokenizer splits ("can't" -> "ca" "n't"); their norms.
CONTRACTION_NORMS = {"ca": "can", "wo": "will", "n't": "not", "nt": "not", "'m": "am",
                     "'re": "are", "'ve": "have", "'ll": "will", "'d": "would", "sha": "shall"}

# Compounds written with hyphens or apart, joined before matching.
COMPOUNDS = {
    ("light", "headed"): "lightheaded", ("light", "-", "headed"): "lightheaded",
    ("non", "-", "stop"): "nonstop", ("non", "stop"): "nonstop",
    ("epi", "pen"): "epipen", ("epi", "-", "pen"): "epipen",
    ("a", "-", "fib"): "afib", ("mini", "-", "stroke"): "ministroke",
    ("short", "-", "of", "-", "breath"): "short of breath",
    ("blood", "-", "stained"): "bloodstained", ("blood", "-", "streaked"): "bloodstained",
    ("pins", "-", "and", "-", "needles"): "pins and needles",
}


def _osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (Damerau-Levenshtein), capped at limit+1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: List[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


# =============================================================================
# Concepts: the words and phrases the kinds are built from.
# A phrase is words separated by spaces; "a|b" are alternatives; a trailing "?"
# makes a word optional; "#" matches any number. Matched on the normalised
# lower-case text; "~word" matches a lemma instead.
# =============================================================================

# Negation cues that are really about persistence or something else entirely
# ("hasn't stopped", "not sure", "can't walk") are handled in NOT_NEGATING.
CONCEPTS: Dict[str, List[str]] = {
    # ---- chest ----
    "CHEST": ["chest|chests|breastbone|sternum|ribcage"],
    "NOT_CHEST": ["chest infection|infections|cold|colds|cough|hair|x-ray|xray|scan|veins|vein|area|"
                  "size|measurement|binder|tattoo|freckles|acne|rash"],
    "CHEST_DESC": [
        "pain|pains|painful|hurt|hurts|hurting|ache|aches|aching|achy|sore|soreness|tight|"
        "tightness|tighter|tightening|pressure|heavy|heaviness|squeeze|squeezing|squeezed|"
        "crushing|crushed|crush|discomfort|burning|stabbing|sharp|agony|killing|weight|"
        "constricted|constricting|clenching|gripping|throbbing|pinching|pounding|band|caving|"
        "weird|funny|strange|odd|horrible|awful|uncomfortable|tender|cramping|spasm|spasms|"
        "spasming|bursting|exploding|sore|fire",
        "caving|closing in",
    ],
    "CHEST_STRONG": ["sitting|pressing|pushing|standing|elephant on my|his|her|the chest",
                     "clutching|holding|grabbing|gripping|clasping my|his|her|their chest"],
    "HEART_ATTACK": ["heart attack|attacks", "cardiac arrest", "angina"],
    # ---- breathing ----
    "BREATH": ["breathe|breathing|breath|breaths|breathes|breathed|inhale|inhaling|exhale|exhaling"],
    "AIR": ["air|oxygen"],
    "BREATH_DESC": [
        "short|shortness|hard|harder|difficult|difficulty|difficulties|trouble|troubles|"
        "struggle|struggling|struggled|struggles|problem|problems|issue|issues|laboured|labored|"
        "shallow|rapid|fast|heavy|heavily|weird|funny|strange|painful|pain|hurt|hurts|gasp|"
        "gasping|gasped|hardly|barely|tight|tightness|catch|catching|wheezy|noisy|rattly|"
        "raspy|panting|quick|stopped|stopping|stop|enough|hunger|losing|lost|labouring|laboring",
    ],
    "BREATH_STRONG": [
        "breathless|breathlessness|wheezing|wheeze|wheezes|wheezed|suffocating|suffocate|"
        "choking|dyspnea|dyspnoea|gasping|winded|wheezy",
        "out of puff", "struggling|fighting|gasping for air|breath",
        "out of breath", "short of breath", "shortness of breath", "gasping for air|breath",
        "air hunger",
    ],
    # "can't", "cannot", "unable to", "not able to", "couldn't": part of a symptom,
    # so never a negation cue.
    "UNABLE": ["can|could not", "unable to?", "not able to?", "hardly|barely|scarcely able? to?",
               "struggling|struggle|trouble to|with?"],
    # ---- coughing blood ----
    "COUGH": [
        "cough|coughs|coughing|coughed|hack|hacking|spit|spitting|spat|spits|sputum|phlegm|"
        "mucus|mucous|vomit|vomiting|vomited|vomits|puke|puking|puked",
        "throw|throwing|threw up", "bring|bringing|brought up",
    ],
    "BLOOD_COLOUR": ["blood|bloody|bloodstained|red|pink|pinkish|reddish|rusty|clots|streaked"],
    "COUGH_STRONG": ["hemoptysis|haemoptysis|haematemesis|hematemesis"],
    # ---- fainting, near fainting ----
    "FAINT_STRONG": [
        "fainted|fainting|faints|faintness|fainty|collapsed|collapse|collapsing|collapses|"
        "unconscious|unresponsive|syncope|seizure|seizures|seizing|convulsing|convulsions|"
        "blackout|blackouts|swooned",
        "pass|passed|passing|passes out", "black|blacked|blacking|blacks out",
        "lost|losing|lose consciousness", "keeled|keel over", "hit the floor|ground",
        "not wake|waking|waken|respond|responding up?", "out cold", "went|gone limp",
    ],
    "FAINT_BASE": ["faint"],
    "DIZZY": [
        "dizzy|dizziness|lightheaded|woozy|giddy|vertigo|lightheadedness",
        "room|head|everything is|'s? spinning", "spinning room",
    ],
    # ---- racing heart ----
    "HEART": ["heart|hearts|heartbeat|heartbeats|heartrate|pulse", "heart rate"],
    "RACE_DESC": [
        "race|races|racing|raced|pound|pounding|pounded|pounds|fast|faster|rapid|rapidly|"
        "flutter|fluttering|flutters|fluttery|irregular|irregularly|skip|skipping|skipped|"
        "skips|jump|jumping|thump|thumping|hammer|hammering|crazy|wild|mad|high|erratic|"
        "palpitating|bouncing|galloping|banging|beating",
        "all over the place",
    ],
    "RACE_STRONG": ["palpitations|palpitation|palps|tachycardia|tachy"],
    # ---- leg: swollen, hot, red or very painful ----
    "LEG": [
        "leg|legs|calf|calves|calfs|thigh|thighs|ankle|ankles|shin|shins|knee|knees|foot|feet|groin",
    ],
    "SITE": [
        "injection|needle site|sites|spot|spots|point|points|area|areas|mark|marks",
        "where they|she|he|i|it|you injected|went|injecting|jabbed|put|was|were",
        "where the needle|needles|injection|injections|jab|jabs went|were|was|injected",
        "injected area|areas|spot|spots|site|sites|vein|veins",
        "the treated area|spot|spots|vein|veins|leg", "along the treated? vein|veins",
        "around|near|at the injection|injections|needle",
    ],
    "SWELL": [
        "swollen|swelling|swell|swells|swelled|puffy|puffed|puffing|bloated|ballooned|"
        "ballooning|enlarged|huge|massive",
        "twice|double the? size", "double in size", "bigger|larger|fatter|thicker than",
        "twice|double as big|large|fat|wide|thick",
        "blown|blowing up",
    ],
    "HOT": ["hot|warm|warmer|burning|heat|fire|feverish|boiling"],
    "RED": ["red|redness|reddish|reddened|inflamed|inflammation|purple|purplish|mottled|blotchy"],
    "PAIN": [
        "pain|pains|painful|hurt|hurts|hurting|sore|tender|tenderness|ache|aches|aching|achy|"
        "cramp|cramps|cramping|throbbing|throb|throbs|agony|killing|stabbing|excruciating",
    ],
    "SEVERE": [
        "very|really|so|extremely|super|severely|severe|terrible|terribly|unbearable|"
        "unbearably|excruciating|agonizing|agonising|agony|awful|horrible|horrendous|intense|"
        "incredibly|insanely|worst|worse|worsening|sudden|suddenly|sharp|stabbing|shooting|"
        "bad|badly|crazy|constant|throbbing|killing|excruciatingly|massively|too",
        "a lot", "so much", "loads",
        "like hell", "can|could not walk|stand|sleep|move", "hurts|painful to walk|stand|touch",
        "put|bear weight", "not go|going away", "not stop|ease|settle|stopping|easing",
    ],
    "CLOT": [
        "clot|clots|dvt|dvts|thrombosis|thrombus|embolism|embolus|embolisms",
        "blood clot|clots", "deep vein thrombosis", "pulmonary embolism",
    ],
    # ---- vision ----
    "VISION_N": ["vision|sight|eyesight|visual"],
    "VISION_DESC": [
        "blurry|blurred|blur|blurring|fuzzy|hazy|cloudy|dim|dimmed|dark|darkness|black|"
        "blackness|grey|gray|gone|lost|lose|losing|loss|double|doubled|spots|flashing|flashes|"
        "flash|sparkles|zigzag|zigzags|curtain|shadow|blind|blindness|weird|funny|strange|wavy|"
        "distorted|tunnel|missing|half|disappeared|disappearing|fog|foggy|misty|smoky",
        "in and out", "coming and going",
    ],
    "EYE": ["eye|eyes"],
    "EYE_DESC": ["blurry|blurred|fuzzy|dim|blind|double|curtain|shadow|cloudy|hazy",
                 "went|gone|going dark|black|blind|grey|gray"],
    "SEE": ["see|seeing|sees|saw|seen"],
    "SEE_DESC": ["double|spots|flashing|flashes|stars|sparkles|zigzag|zigzags|lights|blurry|"
                 "blurred|fuzzy"],
    "VISION_STRONG": [
        "blind|blinded|blindness", "everything|things|everythings is|'s|went|looks|look|looked|are|"
        "were|seem|seems|gone|looking? "
        "blurry|blurred|fuzzy|dark|black|grey|gray|hazy|double",
    ],
    # ---- stroke signs ----
    "NUMB": ["numb|numbness|numbed|paralysed|paralyzed|paralysis", "pins and needles",
             "went|gone|going|feels dead"],
    "WEAK": ["weak|weakness|weaker|limp|floppy", "gave|giving|gives way"],
    "BODY": [
        "arm|arms|hand|hands|face|side|leg|legs|foot|feet|fingers|body|half|cheek|mouth|"
        "grip|shoulder|toes|lip|lips|tongue",
    ],
    "MOVE": ["move|lift|grip|use|feel|raise|hold"],
    "DROOP": [
        "droop|drooping|droopy|drooped|droops|sagging|sagged|saggy|dropped|dropping|fallen|"
        "lopsided|crooked|uneven|hanging",
        "pulled|pulling down",
    ],
    "FACE": ["face|mouth|smile|lip|lips|eyelid|cheek"],
    "SPEECH": ["speech|speaking|speak|talk|talking|words|word|voice|sentences|sentence|speaks|talks"],
    "SPEECH_DESC": [
        "slurred|slurring|slur|slurry|garbled|jumbled|mumbled|muddled|gibberish|funny|weird|"
        "strange|wrong|nonsense|drunk|difficulty|trouble|hard|struggling",
        "mixed up",
    ],
    "SPEECH_STRONG": ["slurring|slurred|slurs", "ministroke", "mini stroke",
                      "get|getting my|his|her|the|their words out",
                      "transient ischemic|ischaemic attack"],
    "STROKE_EVENT": ["stroke|strokes"],
    # ---- severe allergic reaction ----
    "ALLERGY_PART": ["throat|lips|lip|tongue|mouth|face|eyelids|eyelid|windpipe|airway|airways"],
    "ALLERGY_DESC": [
        "swollen|swelling|swell|swells|swelled|puffy|puffed|puffing|closing|closed|"
        "tight|tightening|tightness|constricting|bigger|huge|thick|thickening|ballooning",
        "blowing|blown|puffing|blew|puffed|swelled|swelling up",
    ],
    "BLUE": ["blue|bluish|blueish|grey|gray|purple"],
    "BLUE_PART": ["lips|lip|face|fingers|fingertips|nails|mouth|tongue"],
    "SWALLOW": ["swallow|swallowing"],
    "SWALLOW_DESC": ["hard|difficult|difficulty|trouble|struggling|struggle|hurts|barely|hardly|unable"],
    "HIVES": ["hives|welts|rash|rashes|whelps|wheals|blotches"],
    "SPREAD": ["spreading|spread|spreads|everywhere|covered|covering",
               "all over", "whole|entire body", "over my|her|his body|chest|neck|face|arms|back"],
    "ALLERGY_EVENT": ["anaphylaxis|anaphylactic", "allergic reaction|reactions", "anaphylactic shock"],
    "EPIPEN": ["epipen|epinephrine|adrenaline"],
    "EPIPEN_USE": ["use|used|using|gave|give|giving|needed|need|jabbed|injected"],
    # ---- bleeding that will not stop ----
    "BLEED": ["bleed|bleeds|bleeding|bled"],
    "BLOOD": ["blood"],
    "NOT_STOP": [
        "not|never stop|stopping|stopped|stops|clot|clotting|slow|slowing|ending|ease|easing",
        "nonstop", "non stop",
    ],
    "BLEED_DESC": [
        "keep|keeps|kept|still|heavily|heavy|profusely|badly|uncontrollably|uncontrollable|"
        "everywhere|pouring|gushing|spurting|squirting|streaming|dripping|running|soaked|"
        "soaking|flowing|through",
        "a lot|lots", "so|too much", "like crazy", "for ages|hours|ever", "ages",
        "for an|a|one|two|three|several|over hour|hours", "for half an hour",
        "for # hour|hours|minutes", "for over an|a hour",
    ],
    "BLOOD_DESC": [
        "everywhere|pouring|gushing|spurting|squirting|streaming|dripping|running|soaked|soaking",
        "coming|pouring|running out|through", "so|too much", "lots|loads of", "a lot of",
        "through the|my bandage|dressing|plaster|gauze|stocking|stockings|clothes|sock|socks|jeans|pants|trousers",
    ],
    "BLEED_STRONG": ["haemorrhage|hemorrhage|haemorrhaging|hemorrhaging|hemorrhaged|haemorrhaged"],
    # ---- skin dark or black, open sore ----
    "SKIN_N": ["skin|area|patch|patches|tissue|flesh|site|toe|toes|finger|fingers|spot"],
    "SKIN_BLACK": [
        "black|blackened|blackish|dusky|grey|gray|greyish|grayish|necrotic|dead|dying|rotting",
        "dark purple|blue", "purple and|& black", "blue and|& black",
    ],
    "SKIN_DARK": ["dark|darker|darkening|darkened"],
    "TURNING": ["turning|turned|turn|going|gone|went|getting|got|becoming|became"],
    "SORE_OPEN": [
        "ulcer|ulcers|ulceration|ulcerating|ulcerated|necrosis",
        "open sore|sores|wound|wounds", "broke|broken|breaking|burst|split open",
        "wound|sore|skin has|have|is? opened|opening|split", "opened up",
        "skin breaking|broke|broken down|open", "hole in my|the skin",
        "blister|blisters that|which|has|have? burst|popped|broke|opened|open",
    ],
}

# Anti-patterns: phrases whose words never count as symptoms.
NOT_SYMPTOMS: List[str] = [
    "blood pressure|thinner|thinners|test|tests|sugar|type|flow|flows|vessel|vessels|work|"
    "donation|donations|count|pool|pools|pooling|circulation|supply|bank|cells|levels|level",
    "give|gave|giving|given|donate|donated|donating blood",
    "black eye", "dark circles", "eye bags", "eye contact", "heart set on", "my|his|her heart is set",
    "take|took|takes|taking my|your breath away", "breathtaking", "hot weather|tub|bath|baths|"
    "shower|showers|yoga|drink|drinks|water|day|days|summer|climate|sun|country",
    "heat wave|rash", "red wine", "warm weather|bath|water|shower", "in the heat", "in hot weather",
    "sore throat", "throat sore", "heart condition|conditions|disease|problems|problem|surgery|valve|murmur",
    "dead set", "dead tired", "heartburn", "red flag|flags", "catch my|the bus|train|flight",
    "dying to", "killing it", "the vein|veins collapse|collapses|collapsed|collapsing",
    "veins|vein will|to|would collapse", "black and|& blue", "dead skin", "skin cells",
    "stomach|mouth|peptic|gastric|duodenal ulcer|ulcers", "cold sore|sores",
]

# Words that end a clause: context never reaches across them.
CONTRAST = frozenset({"but", "however", "although", "though", "except", "whereas", "yet", "still,"})
JOINERS = frozenset({",", "and", "or", "so", "then", "plus", "also", "-", ":", "–", "—", "/", "("})
# Words that start a new clause after a joiner ("no pain, my calf is swollen").
SUBJECT_STARTS = frozenset({
    "my", "i", "she", "he", "his", "her", "their", "our", "they", "we", "it", "its", "there",
    "now", "the", "this", "today", "tonight", "suddenly", "mum", "mom", "dad", "you", "your",
    "will", "would", "should", "is", "are", "do", "does", "did", "what", "how", "why", "when",
})

QUESTION_STARTS = frozenset({"will", "would", "should", "is", "are", "do", "does", "did", "what",
                             "how", "why", "when"})
NEGATION_CUES = frozenset({"no", "not", "never", "without", "nor", "neither", "none", "nothing",
                           "denies", "zero", "nobody"})
# "not" before these is not about the symptom ("hasn't stopped", "not sure").
NOT_NEGATING = frozenset({
    "stop", "stopping", "stopped", "stops", "improve", "improving", "improved", "settle", "settling", "settled", "ease", "easing",
    "subside", "subsiding", "better", "slow", "slowing", "clear", "clearing", "fade", "fading",
    "budge", "budging", "sure", "just", "only", "normal", "right", "good", "ok", "okay",
    "great", "well", "stand", "walk", "move", "sleep", "bear", "idea", "clue", "way",
    "reason", "matter", "doubt", "change", "improvement", "one", "longer", "want", "know",
    "trying", "to", "overreacting", "exaggerating", "kidding", "joking", "worried", "bothered",
    "panicking", "usual", "mean", "seem", "seeming", "understand", "but", ",", ".",
})
# Tokens a negation may reach over to the symptom ("I don't have any swelling").
NEGATION_GAP = frozenset({
    "a", "an", "the", "any", "my", "his", "her", "their", "our", "your", "have", "has", "had",
    "having", "feel", "feeling", "felt", "feels", "get", "getting", "got", "experience",
    "experiencing", "experienced", "notice", "noticed", "noticing", "see", "seen", "saw",
    "show", "showing", "signs", "sign", "symptoms", "symptom", "of", "more", "much", "real",
    "really", "actual", "at", "all", "other", "or", "and", "nor", ",", "/", "is", "are",
    "was", "were", "be", "been", "being", "am", "'s", "do", "does", "did", "think", "that",
    "it", "there", "in", "on", "around", "near", "from", "with", "anymore", "yet", "so",
    "far", "as", "such", "like", "kind", "sort", "type", "serious", "major", "significant",
    "obvious", "noticeable", "severe", "sudden", "unusual", "new", "left", "right", "either",
    "lower", "upper", "one", "both", "'ve", "ve", "longer", "any", "signs", "trace",
    "issues", "problems", "problem", "issue", "sign", "evidence", "hint", "bit", "little",
    "whatsoever", "them", "too", "very", "extra", "further", "additional", "redness",
    "i", "she", "he", "we", "they", "think", "believe", "am", "'m", "'re",
})

CONDITIONAL_CUES = frozenset({"if", "whether", "unless", "suppose", "supposing", "incase"})
NOT_CONDITIONAL_BEFORE = frozenset({"as", "even"})  # "as if", "even if"
IF_IDIOMS = frozenset({"possible", "so", "not", "needed", "necessary", "any", "anything",
                       "poss", "needs"})
# "not sure if ...", "wondering if ...": an embedded question about the patient.
WHETHER_VERBS = frozenset({"wondering", "wonder", "wondered", "sure", "know", "unsure", "idk",
                           "ask", "asking", "check", "checking", "tell", "mean", "means",
                           "knowing", "certain", "clue"})
# What a conditional or general question looks like from its first word.
MODAL_FIRST = frozenset({"can", "could", "will", "would", "should", "shall", "may", "might",
                         "do", "does"})
# "can hardly breathe": a modal without a subject opens a statement.
STATEMENT_AFTER_MODAL = frozenset({"not", "hardly", "barely", "scarcely", "never", "just", "only",
                                   "really", "still", "feel", "see", "breathe", "breath", "walk",
                                   "move", "stop", "get", "hear", "talk", "speak", "swallow",
                                   "think", "tell", "sense", "taste"})
AUX_FIRST = frozenset({"is", "are", "am", "was", "were", "has", "have", "did", "had"})
WH_FIRST = frozenset({"what", "how", "why", "which", "who", "when", "where"})
OPENERS = frozenset({"hi", "hey", "hello", "ok", "okay", "so", "and", "also", "um", "umm",
                     "quick", "question", "sorry", "btw", "just", "but", "oh", "well", "yes",
                     "please", "hii", "hiya", "morning", "afternoon", "evening", "doctor",
                     "doc", "nurse", "q", ":", ",", "-", "a", "another", "one", "more",
                     "thanks", "thank", "you", "general"})
# Words that make a sentence a general question about a symptom, not a report.
GENERIC_CUES: List[str] = [
    "risk|risks|chance|chances|likelihood|possibility|odds|probability|incidence of?",
    "sign|signs|symptom|symptoms|warning|warnings of?", "side effect|effects",
    "complication|complications", "cause|causes|trigger|triggers",
    "lead|leads to", "result|results in", "prone|likely|common|normal|possible|usual|safe to",
    "watch|look out? for", "be aware of", "such as", "things|stuff|symptoms like",
    "e.g.", "for example|instance", "worried|concerned|scared|afraid|nervous|anxious|worry|"
    "worrying|fear|frightened|paranoid about|of",
    "scared|afraid|worried|nervous|terrified|frightened|fear|worry that? i|she|he|you will|might|"
    "would|could|may",
    "what to do|expect", "how to tell|know|spot|recognise|recognize", "prevent|avoid|preventing",
    "case|cases|event of",
]
GENERIC_AFTER = frozenset({"normal", "common", "possible", "likely", "expected", "usual",
                           "rare", "typical", "dangerous", "serious", "risk", "concern",
                           "emergency", "bad", "side", "effect", "complication", "sign"})
REPORT_VERBS = frozenset({
    "can", "not", "could",
    "is", "are", "'s", "'re", "am", "'m", "been", "being", "feels",
    "feel", "felt", "looks", "looked", "keeps", "keep", "kept", "went", "gone", "got",
    "getting", "turned", "turning", "started", "starting", "hurts", "hurt", "aches",
    "swelled", "swelling", "was", "were", "seems", "will", "became", "becoming", "going",
    "just", "suddenly", "developed", "throbbing", "bleeding", "racing", "pounding", "spreading",
})
POSSESSIVES = frozenset({"my", "his", "her", "their", "our"})
PERSONS = frozenset({"i", "she", "he", "we", "they"})
PROGRESSIVE = frozenset({"having", "getting", "feeling", "experiencing", "suffering", "going"})
DEIXIS = frozenset({"this", "these"})

# Time: acute words always win; long-past and long-standing history suppress.
ACUTE_PHRASES: List[str] = [
    "now|currently|today|tonight|suddenly|yesterday|worse|worsening|overnight|continuously|"
    "since",
    "right now", "at the moment", "this morning|afternoon|evening|week|weekend",
    "all of a sudden", "last night|evening", "came|coming back", "is back", "out of nowhere",
    "# hours|hour|minutes|mins|days|day|weeks|week ago", "an|a|few hour|hours|minutes|days ago",
    "a few hours|minutes|days ago", "for hours", "for the last|past",
    "just had|fainted|passed|collapsed|now|started|happened|noticed|woke|got|came|began|went",
    "still bleeding|swollen|swelling|hurting|hurts|painful|numb|dizzy|racing|pounding|going|"
    "getting|feel|feels|feeling|hot|red|black|blurry|short|struggling|there|bad|sore|tight|not",
]
# "since I was a child" is not acute.
NOT_ACUTE_SINCE = frozenset({"i", "she", "he", "childhood", "birth", "then", "forever", "ever",
                             "years", "puberty", "school", "college"})
LONG_PAST_PHRASES: List[str] = [
    "year|years|yrs|yr|month|months|decade|decades ago|back|before|earlier",
    "long|while time? ago", "ages ago", "before ,|.|?|!|;", "once ,|.|?|!|;",
    "at|in school|college|uni|university|primary|secondary", "last year|summer|winter|spring|autumn|fall|christmas",
    "as a child|kid|teen|teenager|baby|toddler|student|girl|boy",
    "when i|she|he was young|younger|little|small|a|pregnant|at|in", "when i|she|he was #",
    "growing up", "in the past", "history|hx of", "used to", "previously", "previous|prior",
    "back in", "in my|her|his teens|twenties|thirties|forties|20s|30s|40s|youth",
    "after|during my|her? first|second|third|last|previous? pregnancy|pregnancies|labour|labor|"
    "delivery|c-section|birth",
    "when pregnant", "childhood", "fully? recovered", "checked out fine|ok|okay",
    "all clear", "years back", "in|back|since @year", "had covid", "once before",
    "ages back", "a while back",
    "after|from|following a|an|her|his|my stroke|strokes|surgery|operation|accident|covid|"
    "pneumonia|migraine|fall|op|c-section",
    "due|owing to a|an|her|his|my stroke|surgery|operation|accident|covid|pneumonia|migraine",
    "after|from|following a|an|her|his|my heart attack",
]
CHRONIC_PHRASES: List[str] = [
    "for years|decades", "all my|her|his life", "whole life", "since childhood",
    "since i|she|he was", "run|runs in my|the|our family", "chronic|chronically",
    "for # years|yrs", "since birth", "family history",
]
HABITUAL_PHRASES: List[str] = [
    "sometimes|usually|often|always|occasionally|normally|whenever|regularly|periodically|"
    "frequently|constantly",
    "all the time", "in hot|warm|the weather", "in the heat|summer|sun", "when it's|it is hot|warm",
    "every day|night|evening|morning|summer|winter", "end of the|every|a|each? day",
    "by|in the evening|evenings", "at night", "in the summer|heat", "in summer",
    "after work|shifts|flights|flying|travelling|traveling", "after a|the long day|shift|flight",
    "on|after long flights|days|shifts|walks", "when i|she|he|you travel|travels|fly|flies|work",
    "when i|she|he am|is|was travelling|flying|nervous|anxious", "at work",
]
# Exertion: long-standing only with a habitual verb ("I get out of breath when I
# run"); "gasping for air after climbing one step" is not.
TRIGGER_PHRASES: List[str] = [
    "after standing|running|exercise|exercising|workouts|climbing|sitting|walking",
    "after a run|workout", "from running|rushing|hurrying|climbing|exercise|exercising|walking",
    "from|after the stairs|gym|bus",
    "when i|she|he|you stand|stands|run|runs|exercise|climb|sit|drink|walk|"
    "walks|get|exert|swim|swims|cycle|play|dance|train|lift",
    "when i|she|he am|is|was standing|running|exercising", "if i stand|run|exercise",
]
HABITUAL_VERBS = frozenset({"get", "gets", "swell", "swells", "ache", "aches", "go", "goes",
                            "become", "becomes", "start", "starts", "feel", "tend", "cramp",
                            "cramps", "hurt", "throb", "throbs"})
# Kinds where "sometimes / at the end of the day" makes it a long-standing
# nuisance rather than an emergency; never for bleeding, blood, vision, speech...
HABITUAL_KINDS = frozenset({LEG_CLOT, BREATHING, FAINTING, RACING_HEART})
# Past-tense verbs that make an event noun ("had a stroke") history.
PAST_EVENT_VERBS = frozenset({"had", "got", "developed", "suffered", "survived", "diagnosed",
                              "experienced", "history", "died", "passed", "dies", "killed",
                              "lost", "treated"})
SUSPICION = frozenset({"think", "thinking", "worried", "afraid", "scared", "might", "may",
                       "could", "possibly", "probably", "maybe", "suspect", "sure", "feel",
                       "feels", "fear"})

MILD_MARKERS: List[str] = [
    "a bit|bitty", "a little|tiny", "bit", "little|slightly|slight|mild|mildly|minor|tiny|small|"
    "faintly|somewhat",
    "a few", "some",
]
INTENSE = frozenset({"very", "really", "so", "extremely", "severe", "severely", "unbearable",
                     "excruciating", "agony", "spreading", "worse", "worsening", "black",
                     "huge", "massive", "terrible", "awful", "horrible", "intense", "lots"})
MILD_KINDS = frozenset({LEG_CLOT, STROKE, SKIN, BLEEDING})
HEART_PAIN_WORDS = frozenset({"pain", "pains", "hurts", "hurt", "hurting", "ache", "aching", "sore"})
AIR_TROUBLE_WORDS = frozenset({"enough", "gasping", "gasp", "struggling", "struggle", "hunger", "short",
                               "hard", "can", "unable", "not", "trouble", "could", "barely", "hardly"})
# Words before "faint" that make it the verb ("I feel faint", "about to faint").
BEFORE_FAINT = frozenset({"feel", "feeling", "felt", "feels", "going", "gonna", "about", "might",
                          "may", "could", "will", "almost", "nearly", "keep", "kept", "like", "to",
                          "i", "she", "he", "so", "very", "really", "would", "gon"})
SEVERE_PAIN_WORDS = frozenset({"agony", "excruciating", "killing", "throbbing", "stabbing"})
# Counter-evidence words (see Screening.counter_evidence).
BODY_PARTS = frozenset({"LEG", "CHEST", "HEART", "EYE", "BODY", "FACE", "ALLERGY_PART", "SKIN_N",
                        "BLUE_PART", "SPEECH", "VISION_N", "SEE", "SITE", "MOVE"})
RESOLVED = frozenset({"fine", "ok", "okay", "better", "settled", "resolved", "stopped", "cleared",
                      "healing", "healed"})
BENIGN_AFTER_EFFECTS = frozenset({"bruise", "bruises", "bruising", "bruised", "sting", "stinging",
                                  "stings", "stung", "discoloured", "discolored", "discoloration",
                                  "discolouration", "brown", "brownish", "scab", "scabs", "pinkness"})
VEINS_TOPIC = frozenset({"vein", "veins", "vains", "capillaries", "varicose"})
VEIN_LOOKS = frozenset({"red", "purple", "blue", "visible", "dark", "darker", "blotchy", "bulging",
                        "ugly", "lumpy", "noticeable", "showing", "look", "looks", "bright"})
STRONG_MILD = frozenset({"slightly", "slight", "mild", "mildly", "minor", "tiny", "little", "bit"})
EVIDENCE_NOT_NEGATING = frozenset({"think", "believe", "know", "want", "mean", "care", "respond",
                                   "responding", "responsive", "waking", "wake"})
JOKING = frozenset({"lol", "haha", "hahaha", "lmao", "jk", "joking", "kidding", "emoji",
                    "heartbroken"})

VEINS = frozenset({"vein", "veins", "vains", "capillaries", "capillary", "lines", "line",
                   "marks", "mark", "dots", "dot", "freckles", "freckle", "hair", "hairs",
                   "stockings", "stocking", "bruise", "bruises", "bruising",
                   # what patients call spider veins before they know the name
                   "things", "thing", "spots", "spot", "starburst", "starbursts", "webs", "threads"})


def _compile(phrase: str) -> List[Dict[str, Any]]:
    """One DSL phrase -> one Matcher pattern."""
    pattern: List[Dict[str, Any]] = []
    for word in phrase.split():
        optional = word.endswith("?") and len(word) > 1
        word = word[:-1] if optional else word
        if word == "#":
            token: Dict[str, Any] = {"LIKE_NUM": True}
        elif word == "@year":
            token = {"TEXT": {"REGEX": r"^(19|20)\d\d$"}}
        elif word.startswith("~"):
            token = {"LEMMA": {"IN": word[1:].split("|")}}
        else:
            token = {"LOWER": {"IN": word.split("|")}}
        if optional:
            token["OP"] = "?"
        pattern.append(token)
    return pattern


@dataclass(frozen=True)
class RedFlagHit:
    """A red flag found in a text: its kind and where (characters of the text)."""

    kind: str
    text: str
    start: int
    end: int


@dataclass
class Finding:
    """A candidate red flag with its normalised token span and verdict."""

    kind: str
    anchors: Tuple[Tuple[int, int], ...]  # (start, end) of each concept it is built on
    suppressed_by: Optional[str] = None

    @property
    def start(self) -> int:
        return min(s for s, _ in self.anchors)

    @property
    def end(self) -> int:
        return max(e for _, e in self.anchors)

    def covers(self, index: int) -> bool:
        return any(s <= index < e for s, e in self.anchors)


@dataclass
class Screening:
    """Everything the matcher found in one text."""

    text: str
    hits: List[RedFlagHit] = field(default_factory=list)
    findings: List[Finding] = field(default_factory=list)
    # Signs that the text is not an emergency even though it uses symptom words
    # ("no", "years ago", "a bit", "if", "is it normal"): used to overrule a
    # classifier that says medical_emergency when the screen found nothing.
    counter_evidence: List[str] = field(default_factory=list)

    @property
    def fired(self) -> bool:
        return bool(self.hits)

    @property
    def suppressed(self) -> List[Finding]:
        return [f for f in self.findings if f.suppressed_by]


class _Normalised:
    """The text as the patterns see it: one token per word, mapped back to characters."""

    def __init__(self, doc: Doc, words: List[str], spans: List[Tuple[int, int]]) -> None:
        self.doc = doc
        self.words = words
        self.spans = spans  # character (start, end) in the original text per token

    def __len__(self) -> int:
        return len(self.words)


class RedFlagMatcher:
    """Finds red-flag symptoms in a patient's message (see module docstring)."""

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        self.vocab = nlp.vocab
        self._lemmatizer = nlp.get_pipe("lemmatizer") if "lemmatizer" in nlp.pipe_names else None
        table = self._lemmatizer.lookups.get_table("lemma_lookup") if self._lemmatizer else None
        self._lemma_keys = table
        self._known_lemmas: Set[str] = set(table.values()) if table is not None else set()
        self.concepts = self._matcher(CONCEPTS)
        self.not_symptoms = self._matcher({"NOT_SYMPTOM": NOT_SYMPTOMS})
        self.context = self._matcher({
            "GENERIC": GENERIC_CUES, "ACUTE": ACUTE_PHRASES, "LONG_PAST": LONG_PAST_PHRASES,
            "CHRONIC": CHRONIC_PHRASES, "HABITUAL": HABITUAL_PHRASES, "MILD": MILD_MARKERS,
            "TRIGGER": TRIGGER_PHRASES,
            "SITE": CONCEPTS["SITE"],
        })
        self._repair_vocab = self._typo_targets()
        self._lock = threading.Lock()  # spaCy Matcher calls are not thread-safe
        self._analyses: TTLCache = TTLCache(maxsize=VERDICT_CACHE_SIZE, ttl=REMEMBER_SECONDS)
        self._verdicts: TTLCache = TTLCache(maxsize=VERDICT_CACHE_SIZE, ttl=REMEMBER_SECONDS)
        self._memory_lock = threading.Lock()

    # ---- construction -------------------------------------------------------

    @classmethod
    def load(cls, model: str = DEFAULT_SPACY_MODEL) -> "RedFlagMatcher":
        """The matcher with the project's spaCy pipeline (cached per path)."""
        return _cached_matcher(str(_resolve(model)))

    def _matcher(self, concepts: Dict[str, List[str]]) -> Matcher:
        matcher = Matcher(self.vocab, validate=True)
        for name, phrases in concepts.items():
            matcher.add(name, [_compile(p) for p in phrases])
        return matcher

    def _typo_targets(self) -> Dict[int, List[str]]:
        """Symptom words (5+ letters) that a misspelt word may be repaired to, by length."""
        targets: Set[str] = set()
        for phrases in CONCEPTS.values():
            for phrase in phrases:
                for word in phrase.split():
                    for alt in word.rstrip("?").split("|"):
                        if alt.isalpha() and len(alt) >= 5:
                            targets.add(alt)
        by_length: Dict[int, List[str]] = {}
        for target in sorted(targets):
            by_length.setdefault(len(target), []).append(target)
        return by_length

    # ---- normalisation ------------------------------------------------------

    def _is_known(self, word: str) -> bool:
        if word in self._known_lemmas:
            return True
        return self._lemma_keys is not None and word in self._lemma_keys

    @lru_cache(maxsize=4096)
    def _repair(self, word: str) -> str:
        """A misspelt symptom word -> the symptom word ("swolen" -> "swollen")."""
        if len(word) < 4 or not word.isalpha() or self._is_known(word):
            return word
        limit = 1 if len(word) <= 6 else 2
        best, best_distance = word, limit + 1
        for length in range(len(word) - limit, len(word) + limit + 1):
            for target in self._repair_vocab.get(length, []):
                distance = _osa_distance(word, target, limit)
                # Prefer the closer word; on a tie the one sharing the first letter.
                if distance < best_distance or (
                    distance == best_distance and target[0] == word[0] and best[0] != word[0]
                ):
                    best, best_distance = target, distance
        return best if best_distance <= limit and best[0] == word[0] else word

    def normalise(self, text: str, doc: Optional[Doc] = None) -> _Normalised:
        """Tokens of the text, lower-cased, with SMS forms, contractions and typos repaired."""
        if doc is None or doc.text != text:
            doc = self.nlp.make_doc(text)
        raw = [(t.lower_, t.idx, t.idx + len(t.text), t.is_space) for t in doc]
        words: List[str] = []
        spans: List[Tuple[int, int]] = []
        i = 0
        while i < len(raw):
            word, start, end, is_space = raw[i]
            if is_space:
                if "\n" in word:
                    words.append("\n")
                    spans.append((start, end))
                i += 1
                continue
            joined = self._compound_at(raw, i)
            if joined:
                compound, length = joined
                words.extend(compound.split())
                spans.extend([(start, raw[i + length - 1][2])] * len(compound.split()))
                i += length
                continue
            for part in self._rewrite(word, words[-1] if words else ""):
                words.append(part)
                spans.append((start, end))
            i += 1
        return _Normalised(doc, words, spans)

    def _compound_at(self, raw: Sequence[Tuple[str, int, int, bool]], i: int) -> Optional[Tuple[str, int]]:
        for parts, compound in COMPOUNDS.items():
            if tuple(w for w, *_ in raw[i:i + len(parts)]) == parts:
                return compound, len(parts)
        return None

    def _rewrite(self, word: str, previous: str) -> List[str]:
        word = word.replace("’", "'")
        if word in SMS_AND_TYPOS:
            return SMS_AND_TYPOS[word].split()
        if word in CONTRACTION_NORMS:
            return [CONTRACTION_NORMS[word]]
        if word in {"m", "s", "ve", "re", "ll", "d"} and previous in {"i", "she", "he", "it", "you", "we", "they", "that", "there"}:
            return [{"m": "am", "s": "'s", "ve": "have", "re": "are", "ll": "will", "d": "would"}[word]]
        if word == "'s" and previous in {"it", "she", "he", "that", "there", "what"}:
            return ["is"]
        word = re.sub(r"(.)\1{2,}", r"\1\1", word)  # "sooooo" -> "soo"
        word = {"soo": "so", "sooo": "so", "reallyy": "really", "veryy": "very"}.get(word, word)
        return [self._repair(word)]

    def _doc_for(self, norm: _Normalised) -> Doc:
        words = norm.words or [""]
        doc = Doc(self.vocab, words=words, spaces=[True] * len(words))
        if self._lemmatizer is not None:
            doc = self._lemmatizer(doc)
        return doc

    # ---- analysis -----------------------------------------------------------

    def screen(self, text: str, doc: Optional[Doc] = None) -> Optional[RedFlagHit]:
        """The first red flag in the text, or None."""
        screening = self.analyse(text, doc)
        return screening.hits[0] if screening.hits else None

    def screen_turns(self, previous: Optional[str], current: str) -> Optional[RedFlagHit]:
        """A red flag in the current message, alone or read on from the previous one.

        "I had sclerotherapy on Monday" + "and now my leg is swollen and hot";
        "my left calf" + "is really swollen and hot". A finding from the joined
        text counts only when it reaches into the current message, so an old
        message is never answered twice. Remembered per pair of texts (the result
        depends on them only).
        """
        if len(previous or "") + len(current) > MAX_REMEMBERED_CHARS:
            return self._screen_turns(previous, current)
        return self._remembered(self._verdicts, (previous, current), lambda: self._screen_turns(previous, current))

    def _screen_turns(self, previous: Optional[str], current: str) -> Optional[RedFlagHit]:
        alone = self.screen(current)
        if alone or not previous or not previous.strip():
            return alone
        joined = f"{previous.rstrip()} {current.lstrip()}"
        offset = len(previous.rstrip()) + 1
        for hit in self.analyse(joined).hits:
            if hit.end > offset:
                return RedFlagHit(hit.kind, hit.text, max(hit.start - offset, 0), hit.end - offset)
        return None

    def analyse(self, text: str, doc: Optional[Doc] = None) -> Screening:
        """All candidate red flags, each kept or suppressed with a reason.

        Remembered per text: the NLU screen and the policy read the same message
        within one turn, and the analysis is the larger part of the screen's cost."""
        if len(text) > MAX_REMEMBERED_CHARS:
            return self._analyse(text, doc)
        return self._remembered(self._analyses, text, lambda: self._analyse(text, doc))

    def _remembered(self, memory: TTLCache, key: Any, compute: Callable[[], Any]) -> Any:
        """memory[key], computed (outside the lock: it may be slow) when not there."""
        with self._memory_lock:
            value = memory.get(key, _NOT_SEEN)
        if value is _NOT_SEEN:
            value = compute()
            with self._memory_lock:
                memory[key] = value
        return value

    def _analyse(self, text: str, doc: Optional[Doc]) -> Screening:
        screening = Screening(text)
        if not text or not text.strip():
            return screening
        if len(text) > MAX_SCREENED_CHARS:
            return self._analyse_ends(text)
        with self._lock:
            norm = self.normalise(text, doc)
            ndoc = self._doc_for(norm)
            found = _Found(ndoc, self.concepts(ndoc), self.not_symptoms(ndoc), self.context(ndoc))
        context = _Context(ndoc, found)
        for finding in _Combiner(found, context).all():
            finding.suppressed_by = context.suppression(finding)
            screening.findings.append(finding)
            if not finding.suppressed_by:
                start = norm.spans[finding.start][0]
                end = norm.spans[finding.end - 1][1]
                screening.hits.append(RedFlagHit(finding.kind, text[start:end], start, end))
        screening.hits.sort(key=lambda h: (h.start, KINDS.index(h.kind)))
        screening.counter_evidence = sorted(
            {f.suppressed_by for f in screening.findings if f.suppressed_by} | context.counter_evidence()
        )
        return screening


    def _analyse_ends(self, text: str) -> Screening:
        """A huge message: its beginning and its end, so the server never stalls on one."""
        half = MAX_SCREENED_CHARS // 2
        head, tail = self.analyse(text[:half]), self.analyse(text[-half:])
        offset = len(text) - half
        screening = Screening(text, findings=head.findings + tail.findings)
        screening.hits = head.hits + [RedFlagHit(h.kind, h.text, h.start + offset, h.end + offset)
                                      for h in tail.hits]
        screening.counter_evidence = sorted(set(head.counter_evidence) | set(tail.counter_evidence))
        return screening


def _resolve(model: str) -> Path:
    path = Path(model)
    return path if path.is_absolute() or path.exists() else ROOT / path


_MATCHERS: Dict[str, RedFlagMatcher] = {}
_MATCHERS_LOCK = threading.Lock()


def _cached_matcher(path: str) -> RedFlagMatcher:
    """One matcher per pipeline path and process: the screen and the policy share it."""
    with _MATCHERS_LOCK:
        if path not in _MATCHERS:
            _MATCHERS[path] = RedFlagMatcher(spacy.load(path))
        return _MATCHERS[path]


# =============================================================================
# Combining concepts into kinds.
# =============================================================================


class _Found:
    """Concept matches of one normalised text, by concept name."""

    def __init__(self, doc: Doc, matches: Iterable, blocked: Iterable, context: Iterable) -> None:
        strings = doc.vocab.strings
        self.doc = doc
        self.words = [t.lower_ for t in doc]
        blocked_tokens: Set[int] = set()
        for _, start, end in blocked:
            blocked_tokens.update(range(start, end))
        self.blocked = blocked_tokens
        self.by_concept: Dict[str, List[Tuple[int, int]]] = {}
        for match_id, start, end in matches:
            if blocked_tokens.intersection(range(start, end)):
                continue
            self.by_concept.setdefault(strings[match_id], []).append((start, end))
        self.context: Dict[str, List[Tuple[int, int]]] = {}
        for match_id, start, end in context:
            self.context.setdefault(strings[match_id], []).append((start, end))
        # Tokens that belong to some symptom concept: a negation reaches over them.
        self.symptom_tokens: Set[int] = set()
        for spans in self.by_concept.values():
            for start, end in spans:
                self.symptom_tokens.update(range(start, end))

    def get(self, *concepts: str) -> List[Tuple[int, int]]:
        spans: List[Tuple[int, int]] = []
        for concept in concepts:
            spans.extend(self.by_concept.get(concept, []))
        return spans


class _Context:
    """Sentences, clauses and context cues of one normalised text."""

    def __init__(self, doc: Doc, found: _Found) -> None:
        self.found = found
        self.words = found.words
        n = len(self.words)
        self.sentence = [0] * n
        self.clause = [0] * n
        self.ends = [_ends_sentence(w) for w in self.words]
        sentence = clause = 0
        for i, word in enumerate(self.words):
            if word in CONTRAST and i > 0:
                clause += 1  # "but" opens the next clause
            self.sentence[i] = sentence
            self.clause[i] = clause
            if self.ends[i]:
                sentence += 1
                clause += 1
            elif word in JOINERS and i + 1 < n and self.words[i + 1] in SUBJECT_STARTS and not (
                    word in {"and", "or"} and self.words[i + 1] in QUESTION_STARTS):
                clause += 1  # ", will I bruise?" starts a clause; "and won't stop" does not
        self._sentences = _runs(self.sentence)
        self._clauses = _runs(self.clause)
        self._memo: Dict[Tuple[str, int], bool] = {}

    # ---- helpers --------------------------------------------------------------

    def same_clause(self, a: int, b: int) -> bool:
        return self.clause[a] == self.clause[b]

    def sentence_range(self, index: int) -> range:
        return _around(self._sentences[self.sentence[index]], index)

    def clause_range(self, index: int) -> range:
        return _around(self._clauses[self.clause[index]], index)

    def _once(self, name: str, sentence: range, check) -> bool:
        """Per-sentence checks, computed once (long messages stay linear)."""
        key = (name, sentence.start)
        if key not in self._memo:
            self._memo[key] = check(sentence)
        return self._memo[key]

    def cues_in(self, name: str, span: range) -> List[Tuple[int, int]]:
        return [(s, e) for s, e in self.found.context.get(name, []) if s in span]

    def acute_in(self, span: range) -> bool:
        """Is it happening now? ("since I was a child" is not)."""
        for s, e in self.cues_in("ACUTE", span):
            if self.words[s] == "now" and s > 0 and self.words[s - 1] in RESOLVED | {"good", "well"}:
                continue  # "all fine now"
            if self.words[s] == "since" and e == s + 1:
                after = self.words[s + 1: s + 3]
                if not after or after[0] in NOT_ACUTE_SINCE or re.fullmatch(r"(19|20)\d\d", after[0]):
                    continue
            return True
        return False

    # ---- the verdict --------------------------------------------------------

    def counter_evidence(self) -> Set[str]:
        """Signs anywhere in the text that it is not an emergency (see Screening)."""
        words = self.words
        found = self.found
        symptoms = found.symptom_tokens
        reasons: Set[str] = set()
        for i, word in enumerate(words):
            nxt = words[i + 1] if i + 1 < len(words) else ""
            after = [j for j in range(i + 1, min(i + 5, len(words))) if self.same_clause(i, j)]
            if word in NEGATION_CUES and i not in symptoms and nxt not in NOT_NEGATING | EVIDENCE_NOT_NEGATING \
                    and any(j in symptoms for j in after):
                reasons.add("negation")  # "no chest pain", "I haven't coughed up any blood"
            asked = i > 0 and words[i - 1] in {"that", "it", "this", "be"}  # "is that ok?"
            if word == "anymore" or (word == "longer" and i > 0 and words[i - 1] == "no") or \
                    word in RESOLVED and not asked and any(j in symptoms for j in range(max(0, i - 8), i)):
                reasons.add("resolved or fine")  # "breathing fine", "the bleeding stopped"
            if word in BENIGN_AFTER_EFFECTS:
                reasons.add("benign after-effect")
            if word in VEINS_TOPIC and any(words[j] in VEIN_LOOKS for j in range(max(0, i - 6), min(i + 7, len(words)))
                                           if self.same_clause(i, j)):
                reasons.add("about the veins")  # "my veins are really red"
            if word in JOKING or (word == "sick" and nxt == "of"):
                reasons.add("figure of speech")
            if self._is_conditional(i) and word != "whether" and nxt not in IF_IDIOMS and not self._embedded_question(i):
                reasons.add("hypothetical")
            if word in STRONG_MILD or " ".join(words[i:i + 2]) in {"a bit", "a little", "a tiny"}:
                if not any(w in INTENSE for w in words):
                    reasons.add("mild")
        everywhere = range(len(words))
        if not self.acute_in(everywhere):
            if found.context.get("LONG_PAST") or found.context.get("CHRONIC") or found.context.get("HABITUAL"):
                reasons.add("history")
            if found.context.get("TRIGGER") and any(w in HABITUAL_VERBS for w in words):
                reasons.add("history")
        for s, e in found.context.get("GENERIC", []):
            if any(j in symptoms and self.same_clause(s, j) for j in range(e, min(e + 8, len(words)))) and \
                    not set(words[max(0, s - 2):s]) & {"have", "has", "having", "showing", "got", "getting"}:
                reasons.add("general question")  # "risk of clots", "signs of a DVT"
        for index in sorted({self.sentence[j] for j in symptoms}):
            sentence = _around(self._sentences[index], self._sentences[index].start)
            first = self._first_word(sentence)
            if first is not None and words[first] in MODAL_FIRST | AUX_FIRST | WH_FIRST and \
                    (first + 1 >= len(words) or words[first + 1] not in STATEMENT_AFTER_MODAL) and \
                    not self._reports_state(sentence):
                reasons.add("general question")  # "can sclerotherapy cause chest pain?"
        if found.blocked:
            reasons.add("figure of speech")  # "took my breath away", "heart set on"
        named = {c for c, spans in found.by_concept.items() if spans}
        if not named:
            reasons.add("no symptom named")  # "had my injections yesterday"
        elif named <= BODY_PARTS and sum(w.isalpha() for w in words) <= 4 and \
                not any(t.like_num for t in found.doc):
            reasons.add("a body part, no symptom")  # "my left calf" (the rest may follow)
        return reasons

    def _inability(self, i: int) -> bool:
        """The "not" of "can't breathe", "won't stop": part of a symptom."""
        prev = self.words[i - 1] if i > 0 else ""
        return self.words[i] == "not" and prev in {"can", "could", "will", "would", "do", "does", "did"} \
            and i in self.found.symptom_tokens

    def suppression(self, finding: Finding) -> Optional[str]:
        """Why a finding is not a red flag (None when it is one)."""
        checks = (
            ("negation", self._negated),
            ("hypothetical", self._conditional),
            ("general question", self._generic),
            ("history", self._history),
            ("mild after-effect", self._mild),
        )
        for reason, check in checks:
            if check(finding):
                return reason
        return None

    def _negated(self, finding: Finding) -> bool:
        words = self.words
        # A negation between the concepts: "my calf is not swollen".
        for i in range(finding.start, finding.end):
            if words[i] in NEGATION_CUES and not finding.covers(i) and self._negates(i, finding):
                return True
        # A negation before it in the same clause, over allowed words only.
        i = finding.start - 1
        steps = 0
        while i >= 0 and steps < 9 and self.same_clause(i, finding.start):
            word = words[i]
            if word in NEGATION_CUES and self._negates(i, finding):
                return True
            if word not in NEGATION_GAP and i not in self.found.symptom_tokens:
                return False
            i -= 1
            steps += 1
        return False

    def _negates(self, i: int, finding: Finding) -> bool:
        words = self.words
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if nxt in NOT_NEGATING:
            return False
        if nxt in {"go", "going", "gone", "went", "get", "getting", "got"} and \
                words[i + 2: i + 3] and words[i + 2] in {"away", "down", "better", "any", "easier", "off"}:
            return False  # "not going away", "not getting better"
        prev = words[i - 1] if i > 0 else ""
        # "can't / won't / couldn't" belong to symptoms ("can't breathe").
        if words[i] == "not" and prev in {"can", "could", "will"} and i in self.found.symptom_tokens:
            return False
        # "never had pain like this", "can't walk without pain": it is there.
        clause = " ".join(words[j] for j in self.clause_range(finding.start))
        if words[i] == "never" and re.search(r"\b(like this|this bad|like it|this much|so bad)\b", clause):
            return False
        if words[i] == "without" and "not" in words[max(0, i - 4):i]:
            return False
        return True

    def _conditional(self, finding: Finding) -> bool:
        """Inside an "if ..." clause: "what should I do if my leg swells?"."""
        words = self.words
        start = finding.start
        for i in range(start - 1, max(-1, start - 1 - CONTEXT_WINDOW), -1):
            if self.sentence[i] != self.sentence[start] or words[i] in CONTRAST:
                return False
            if words[i] == "," and self._clause_starts_after(i):
                return False
            if not self._is_conditional(i):
                continue
            if i + 1 < len(words) and words[i + 1] in IF_IDIOMS:
                return False
            if not self._in_if_scope(i, start):
                return False
            scope = range(i, min(finding.end + 4, len(words)))
            inside = range(i, finding.end)
            if any(words[j] in {"still", "already", "currently"} for j in inside) or \
                    "right now" in " ".join(words[j] for j in inside):
                return False  # "if my calf is still hot tomorrow": it is hot now
            if self._embedded_question(i):
                return not self._reports_state(scope)
            return True
        return False

    def _clause_starts_after(self, i: int) -> bool:
        return i + 1 < len(self.words) and self.words[i + 1] in SUBJECT_STARTS

    def _is_conditional(self, i: int) -> bool:
        word = self.words[i]
        prev = self.words[i - 1] if i > 0 else ""
        if word in CONDITIONAL_CUES:
            return prev not in NOT_CONDITIONAL_BEFORE
        if word == "case" and prev == "in":
            return True
        # "what (should I do|happens|to do) when ...": a question about the future.
        if word == "when":
            before = [w for w in self.words[max(0, i - 5):i] if w not in OPENERS]
            return bool(before) and before[0] in WH_FIRST | {"should", "do"}
        return False

    def _in_if_scope(self, cue: int, target: int) -> bool:
        """The "if" clause runs to its end: a second subject starts the main clause."""
        subjects = 0
        for j in range(cue + 1, target):
            word = self.words[j]
            if word in {",", "then"}:
                return False
            if word in {"i", "my", "she", "he", "his", "her", "it", "they", "their", "this",
                        "that", "you", "your", "we", "there"}:
                previous = self.words[j - 1]
                if subjects and previous not in {"and", "or", "if", "that", "because", "of", "in",
                                                 "on", "with", "to", "for", "whether", "when", "is",
                                                 "are", "was", "get", "gets", "has", "have"}:
                    return False
                subjects += 1
        return True

    def _embedded_question(self, cue: int) -> bool:
        """"not sure if my calf is...": about now; "how do I know if...": about the future."""
        before = self.words[max(0, cue - 5):cue]
        if "how" in before:
            return False
        return bool(set(before[-3:]) & WHETHER_VERBS)

    def _reports_state(self, span: Iterable[int]) -> bool:
        """A patient describing something happening: "my calf is", "she's having", "is my leg"."""
        words = self.words
        span = list(span)
        if not span:
            return False
        for j in span:
            word = words[j]
            prev = words[j - 1] if j > 0 else ""
            if word in POSSESSIVES or word in PERSONS or word == "it":
                if prev in AUX_FIRST and word != "it":
                    return True  # "is my leg ...", "am I having ..."
                after = words[j + 1: j + 5]
                if any(w in REPORT_VERBS or w in PROGRESSIVE for w in after):
                    return True
            if word in DEIXIS and prev not in {"after", "before", "with", "from", "of", "for",
                                               "about", "during", "like"}:
                nxt = words[j + 1] if j + 1 < len(words) else ""
                if nxt.isalpha() and nxt not in {"treatment", "procedure", "injection", "injections",
                                                 "sclerotherapy", "clinic", "kind", "type", "sort",
                                                 "happen", "happens", "common", "normal", "treatments"}:
                    return True
        return self.acute_in(range(span[0], span[-1] + 1))

    def _generic(self, finding: Finding) -> bool:
        """A general question using symptom words: "can it cause blood clots?"."""
        words = self.words
        clause = self.clause_range(finding.start)
        sentence = self.sentence_range(finding.start)
        # Cue words before the symptom: "risk of clots", "signs of a DVT".
        for s, e in self.found.context.get("GENERIC", []):
            if s in clause and s < finding.start and finding.start - e <= 8:
                if set(words[max(0, s - 2):s]) & {"have", "has", "having", "showing", "shows",
                                                  "show", "got", "getting"}:
                    continue  # "she has signs of ..."
                if not self._reports_state(range(e, finding.start)):
                    return True
        first = self._first_word(sentence)
        if first is None:
            return False
        head = words[first]
        if first + 1 < len(words) and words[first + 1] in STATEMENT_AFTER_MODAL:
            return False  # "can't breathe", "can hardly see": a statement, not a question
        question = words[sentence[-1]] == "?" or head in MODAL_FIRST | AUX_FIRST | WH_FIRST
        if not question:
            return False
        reported = self._reports_state(clause) or self._reports_state(range(first, finding.end))
        if head in MODAL_FIRST or head in WH_FIRST:
            return not reported
        if head in AUX_FIRST:
            subject = words[first + 1] if first + 1 < len(words) else ""
            if subject in POSSESSIVES or subject in PERSONS:
                return False  # "is my leg swollen because of...", "am I having a stroke"
            return not reported
        return False

    def _first_word(self, sentence: range) -> Optional[int]:
        for i in sentence:
            if self.words[i] not in OPENERS and not self.ends[i]:
                return i
        return None

    def _history(self, finding: Finding) -> bool:
        """Long ago, or long-standing: "I fainted once years ago", "my ankles swell in summer"."""
        sentence = self.sentence_range(finding.start)
        clause = self.clause_range(finding.start)
        # "now" must be about this symptom: not "I had chest pains years ago, all fine now".
        if self.acute_in(clause) or self._once("recurs", sentence, self._recurs):
            return False
        if self._past_event(finding):
            return True
        if self.cues_in("CHRONIC", sentence) and finding.kind not in {BLEEDING, COUGHING_BLOOD}:
            return True
        if finding.kind in HABITUAL_KINDS:
            if self.cues_in("HABITUAL", sentence):
                return True
            if self.cues_in("TRIGGER", sentence) and (
                    any(self.words[j] in HABITUAL_VERBS for j in clause) or self.cues_in("MILD", clause)):
                return True  # "I get out of breath when I run", "a bit breathless from running"
        clause_text = " ".join(self.words[j] for j in clause)
        if re.search(r"\b(like this|this bad|this much)\b", clause_text):
            return False  # "never had pain like this before"
        if self.cues_in("LONG_PAST", sentence) or self._once("before", sentence, self._ends_with_before):
            return not self._present_in(clause)
        return False

    def _recurs(self, sentence: range) -> bool:
        """"I had a clot years ago and it's back": history that is happening again."""
        text = " ".join(self.words[j] for j in sentence)
        return bool(re.search(r"\b(came|coming|come|is|'s|are) back\b|\breturned\b|"
                              r"\b(happening|started|starting|here|back) again\b", text))

    def _ends_with_before(self, sentence: range) -> bool:
        """"I've fainted before", "I passed out once": history, not now."""
        words = [self.words[j] for j in sentence if not self.ends[j]]
        return bool(words) and words[-1] in {"before", "once"}

    def _present_in(self, clause: range) -> bool:
        """'my calf is swollen', 'it's hot': a present-tense report in this clause."""
        words = self.words
        for j in clause:
            if words[j] in {"is", "are", "am", "'m", "'re", "'s", "feels", "looks", "hurts",
                            "aches", "keeps", "seems", "throbs", "swells", "can", "not"}:
                before = words[max(clause.start, j - 3):j]
                if set(before) & (POSSESSIVES | PERSONS | {"it"}):
                    return True
        return False

    def _past_event(self, finding: Finding) -> bool:
        """'my mum had a stroke' is history; 'I think I just had a stroke' is not."""
        words = self.words
        start = finding.start
        if not self._is_event(finding):
            return False
        window = range(max(0, start - 4), start)
        if not any(words[j] in PAST_EVENT_VERBS for j in window if self.same_clause(j, start)):
            return False
        before = words[max(0, start - 8):start]
        return not any(w in SUSPICION for w in before)

    def _is_event(self, finding: Finding) -> bool:
        events = self.found.get("HEART_ATTACK", "CLOT", "STROKE_EVENT", "ALLERGY_EVENT") + \
            [s for s in self.found.get("SPEECH_STRONG") if self.words[s[0]] in {"ministroke", "mini", "transient"}] + \
            [s for s in self.found.get("FAINT_STRONG") if self.words[s[0]] in {"seizure", "seizures", "blackout", "blackouts"}] + \
            [s for s in self.found.get("SORE_OPEN") if self.words[s[0]].startswith("ulcer")]
        return any(anchor in events for anchor in finding.anchors)

    def _mild(self, finding: Finding) -> bool:
        """A little red or sore where the needle went in: a normal after-effect."""
        if finding.kind not in MILD_KINDS:
            return False
        serious = self.found.get("SKIN_BLACK", "SORE_OPEN")
        if any(anchor in serious for anchor in finding.anchors):
            return False
        clause = self.clause_range(finding.start)
        if not self.cues_in("MILD", clause) or not self.cues_in("SITE", clause):
            return False
        return not any(self.words[j] in INTENSE for j in clause)


def _ends_sentence(word: str) -> bool:
    return word == "\n" or bool(re.fullmatch(r"[.!?;…]+", word))


def _runs(labels: List[int]) -> Dict[int, range]:
    """For each label (sentence or clause number), the indices that carry it."""
    runs: Dict[int, range] = {}
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            runs[labels[start]] = range(start, i)
            start = i
    return runs


# Context is read at most this many tokens either side of a finding: enough for
# any real sentence, and a message of thousands of words stays fast.
CONTEXT_WINDOW = 40


def _around(run: range, index: int) -> range:
    return range(max(run.start, index - CONTEXT_WINDOW), min(run.stop, index + CONTEXT_WINDOW + 1))



def _near(a: Tuple[int, int], b: Tuple[int, int], gap: int) -> bool:
    """Two spans at most `gap` tokens apart."""
    if a[0] > b[0]:
        a, b = b, a
    return b[0] - a[1] <= gap


def _pairs(found: _Found, ctx: _Context, left: Sequence[Tuple[int, int]],
           right: Sequence[Tuple[int, int]], gap: int) -> Iterable[Tuple[Tuple[int, int], Tuple[int, int]]]:
    """Pairs of concept spans in the same clause, close to each other, not overlapping."""
    right = sorted(right)
    starts = [b[0] for b in right]
    longest = max((b[1] - b[0] for b in right), default=0)
    for a in left:
        lo = bisect.bisect_left(starts, a[0] - gap - longest)
        hi = bisect.bisect_right(starts, a[1] + gap)
        for b in right[lo:hi]:
            if a == b or (a[0] < b[1] and b[0] < a[1]):
                continue
            if _near(a, b, gap) and ctx.same_clause(a[0], b[0]):
                yield a, b


def _about_veins(found: _Found, ctx: _Context, a: Tuple[int, int], b: Tuple[int, int]) -> bool:
    """'red veins on my legs', 'the veins in my calf are swollen': the veins, not the leg."""
    lo, hi = min(a[0], b[0]), max(a[1], b[1])
    window = range(max(0, lo - 3), min(len(found.words), hi + 2))
    return any(found.words[j] in VEINS and ctx.same_clause(j, lo) for j in window)


def _leg_refs(found: _Found, ctx: _Context) -> List[Tuple[int, int]]:
    """Leg words, plus "it" when a leg was mentioned just before ("it's swollen")."""
    legs = list(found.get("LEG"))
    starts = sorted(s for s, _ in legs)
    for i, word in enumerate(found.words):
        if word in {"it", "its"} and bisect.bisect_left(starts, i - 20) < bisect.bisect_left(starts, i):
            legs.append((i, i + 1))
    return legs


class _Combiner:
    """Builds candidate red flags from concept matches: one method per kind."""

    def __init__(self, found: _Found, ctx: _Context) -> None:
        self.found = found
        self.ctx = ctx
        self.get = found.get
        self.words = found.words
        self.findings: List[Finding] = []

    def all(self) -> List[Finding]:
        for kind in (self.chest_pain, self.breathing, self.coughing_blood, self.fainting,
                     self.racing_heart, self.leg, self.vision, self.stroke, self.allergy,
                     self.bleeding, self.skin):
            kind()
        return _dedupe(self.findings)

    def add(self, kind: str, *anchors: Tuple[int, int]) -> None:
        self.findings.append(Finding(kind, tuple(sorted(anchors))))

    def pair(self, kind: str, left: Sequence, right: Sequence, gap: int, check=None) -> None:
        for a, b in _pairs(self.found, self.ctx, left, right, gap):
            if check is None or check(a, b):
                self.add(kind, a, b)

    def not_veins(self, a: Tuple[int, int], b: Tuple[int, int]) -> bool:
        return not _about_veins(self.found, self.ctx, a, b)

    def chest_pain(self) -> None:
        get, words = self.get, self.words
        not_chest = {n[0] for n in get("NOT_CHEST")}  # "chest infection", "chest hair"
        self.pair(CHEST_PAIN, [c for c in get("CHEST") if c[0] not in not_chest], get("CHEST_DESC"), 6)
        pains = [s for s in get("PAIN") if words[s[0]] in HEART_PAIN_WORDS]
        self.pair(CHEST_PAIN, get("HEART"), pains, 3)  # "my heart hurts"
        for span in get("HEART_ATTACK", "CHEST_STRONG"):
            self.add(CHEST_PAIN, span)

    def breathing(self) -> None:
        get, words = self.get, self.words
        for span in get("BREATH_STRONG"):
            self.add(BREATHING, span)
        self.pair(BREATHING, get("BREATH"), get("BREATH_DESC", "UNABLE"), 5)
        self.pair(BREATHING, get("BLUE_PART"), get("BLUE"), 4, self.not_veins)  # blue lips
        air_trouble = [s for s in get("BREATH_DESC", "UNABLE") if words[s[0]] in AIR_TROUBLE_WORDS]
        self.pair(BREATHING, get("AIR"), air_trouble, 3)

    def coughing_blood(self) -> None:
        for span in self.get("COUGH_STRONG"):
            self.add(COUGHING_BLOOD, span)
        self.pair(COUGHING_BLOOD, self.get("COUGH"), self.get("BLOOD_COLOUR", "BLOOD", "BLEED"), 6)

    def fainting(self) -> None:
        get, words = self.get, self.words
        for span in get("FAINT_STRONG"):
            if not _collapse_of_vein(self.found, span):
                self.add(FAINTING, span)
        for span in get("FAINT_BASE"):  # "faint" the verb, not "faint marks"
            if set(words[max(0, span[0] - 3):span[0]]) & BEFORE_FAINT:
                self.add(FAINTING, span)
        for span in get("DIZZY"):
            self.add(FAINTING, span)

    def racing_heart(self) -> None:
        get, words = self.get, self.words
        for span in get("RACE_STRONG"):
            self.add(RACING_HEART, span)
        self.pair(RACING_HEART, get("HEART"), get("RACE_DESC"), 5)
        for heart in get("HEART"):  # "my pulse is 150"
            for j in range(heart[1], min(heart[1] + 4, len(words))):
                if self.found.doc[j].like_num and _number(words[j]) >= 110:
                    self.add(RACING_HEART, heart, (j, j + 1))

    def leg(self) -> None:
        """A leg or calf suddenly swollen, hot, red or very painful; a clot."""
        get, words, ctx = self.get, self.words, self.ctx
        legs = _leg_refs(self.found, ctx)
        signs = get("SWELL", "HOT", "RED")
        self.pair(LEG_CLOT, legs, signs, 7, self.not_veins)
        for a, b in _pairs(self.found, ctx, legs, get("PAIN"), 7):
            calf = words[a[0]] in {"calf", "calves", "calfs"}
            if calf or self._severe_near(b, 4) or words[b[0]] in SEVERE_PAIN_WORDS:
                self.add(LEG_CLOT, a, b)
        # The injection site: two different signs at once, or one that is intense.
        for a, b in _pairs(self.found, ctx, get("SITE"), signs + get("PAIN"), 7):
            others = [s for s in signs + get("PAIN") if s != b and ctx.same_clause(s[0], b[0])
                      and _near(s, b, 5) and _sign_type(self.found, s) != _sign_type(self.found, b)]
            if others or self._severe_near(b, 3):
                self.add(LEG_CLOT, a, b)
        for span in get("CLOT"):
            self.add(LEG_CLOT, span)

    def _severe_near(self, span: Tuple[int, int], gap: int) -> bool:
        return any(_near(s, span, gap) and self.ctx.same_clause(s[0], span[0])
                   for s, _ in _pairs(self.found, self.ctx, self.get("SEVERE"), [span], gap))

    def vision(self) -> None:
        get, words = self.get, self.words
        self.pair(VISION, get("VISION_N"), get("VISION_DESC"), 5)
        self.pair(VISION, get("EYE"), get("EYE_DESC"), 5)
        self.pair(VISION, get("SEE"), get("SEE_DESC"), 3, lambda a, b: a[0] < b[0])
        for unable in get("UNABLE"):  # "can't see", not "can't see any difference"
            for see in get("SEE"):
                if 0 <= see[0] - unable[1] <= 1 and not _sees_something_else(words, see):
                    self.add(VISION, unable, see)
        for span in get("VISION_STRONG"):
            self.add(VISION, span)

    def stroke(self) -> None:
        get, words = self.get, self.words
        self.pair(STROKE, get("NUMB"), get("BODY"), 5)
        self.pair(STROKE, get("WEAK"), get("BODY"), 4)
        for unable in get("UNABLE"):  # "can't lift my arm"
            for move in get("MOVE"):
                body = [b for b in get("BODY") if 0 < b[0] - move[1] <= 3]
                if 0 <= move[0] - unable[1] <= 1 and body:
                    self.add(STROKE, unable, body[0])
        self.pair(STROKE, get("DROOP"), get("FACE"), 4)
        self.pair(STROKE, get("SPEECH"), get("SPEECH_DESC"), 7)
        for unable in get("UNABLE"):  # "can't speak properly"
            for speech in get("SPEECH"):
                if 0 <= speech[0] - unable[1] <= 1 and words[speech[1]: speech[1] + 1] and \
                        words[speech[1]] in {"properly", "clearly", "normally", "straight", "right"}:
                    self.add(STROKE, unable, speech)
        for span in get("SPEECH_STRONG") + get("STROKE_EVENT"):
            self.add(STROKE, span)

    def allergy(self) -> None:
        get = self.get
        self.pair(ALLERGY, get("ALLERGY_PART"), get("ALLERGY_DESC"), 5)
        self.pair(ALLERGY, get("SWALLOW"), get("SWALLOW_DESC", "UNABLE"), 4)
        self.pair(ALLERGY, get("HIVES"), get("SPREAD"), 6)
        self.pair(ALLERGY, get("EPIPEN"), get("EPIPEN_USE"), 4)
        for span in get("ALLERGY_EVENT"):
            self.add(ALLERGY, span)

    def bleeding(self) -> None:
        get, words, ctx = self.get, self.words, self.ctx
        self.pair(BLEEDING, get("BLEED"), get("NOT_STOP", "BLEED_DESC"), 6)
        self.pair(BLEEDING, get("BLOOD"), get("NOT_STOP", "BLOOD_DESC"), 5)
        for unable in get("UNABLE"):  # "can't get the bleeding to stop", "bleeding and I can't stop it"
            for bleed in get("BLEED", "BLOOD"):
                if 0 <= bleed[0] - unable[1] <= 3 and "stop" in words[bleed[1]: bleed[1] + 3]:
                    self.add(BLEEDING, unable, bleed)
                elif 0 < unable[0] - bleed[1] <= 6 and words[unable[1]: unable[1] + 1] == ["stop"] and \
                        ctx.sentence[unable[0]] == ctx.sentence[bleed[0]]:
                    self.add(BLEEDING, bleed, unable)
        for span in get("BLEED_STRONG"):
            self.add(BLEEDING, span)

    def skin(self) -> None:
        """Skin turning dark or black, an open sore at an injection site."""
        get, words, ctx = self.get, self.words, self.ctx
        self.pair(SKIN, get("SKIN_N", "LEG", "SITE"), get("SKIN_BLACK"), 8,
                  lambda a, b: self.not_veins(a, b) or words[b[0]] == "black")
        for dark in get("SKIN_DARK"):  # "dark" only when turning: dark veins are normal
            turning = [t for t in get("TURNING") if ctx.same_clause(t[0], dark[0]) and 0 <= dark[0] - t[1] <= 2]
            for skin in get("SKIN_N", "SITE"):
                if turning and _near(skin, dark, 6) and ctx.same_clause(skin[0], dark[0]) and \
                        self.not_veins(skin, dark):
                    self.add(SKIN, skin, dark)
        for span in get("SORE_OPEN"):
            self.add(SKIN, span)


def _sign_type(found: _Found, span: Tuple[int, int]) -> str:
    for concept in ("SWELL", "HOT", "RED", "PAIN"):
        if span in found.by_concept.get(concept, []):
            return concept
    return ""


def _collapse_of_vein(found: _Found, span: Tuple[int, int]) -> bool:
    """"the vein collapses" is how sclerotherapy works, not a patient collapsing."""
    if not found.words[span[0]].startswith("collaps"):
        return False
    before = found.words[max(0, span[0] - 4):span[0]]
    return bool(set(before) & {"vein", "veins", "vessel", "vessels", "it", "they", "them", "dog",
                               "cat", "puppy", "kitten", "pet", "horse", "tent", "chair", "bed",
                               "table", "shelf", "roof", "wall", "bridge", "building", "market",
                               "website", "app", "system", "phone", "sofa", "deal", "plan"})


def _sees_something_else(words: List[str], see: Tuple[int, int]) -> bool:
    """"can't see any difference / the results": not about eyesight."""
    after: List[str] = []
    for word in words[see[1]: see[1] + 3]:
        if not word.isalpha():
            break
        after.append(word)
    return bool(set(after) & {"any", "difference", "result", "results", "change", "changes",
                              "improvement", "vein", "veins", "them", "it", "why", "how", "where",
                              "what", "point", "option", "options", "appointment", "time", "slot",
                              "slots", "date", "dates", "button", "link", "page", "price", "prices",
                              "you", "much", "that", "this", "myself", "doctor", "nurse", "anyone",
                              "availability", "reply", "message", "bruise", "bruises", "marks",
                              "spots", "improvements", "website", "form", "email", "text"})


def _number(word: str) -> float:
    try:
        return float(word)
    except ValueError:
        return 0.0


def _dedupe(findings: List[Finding]) -> List[Finding]:
    seen: Set[Tuple[str, Tuple[Tuple[int, int], ...]]] = set()
    unique = []
    for finding in findings:
        key = (finding.kind, finding.anchors)
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    return unique


# =============================================================================
# Rasa: the NLU component and the policy.
# =============================================================================
# Imported here, not at the top, so the matcher (and the evaluation script) can
# be used without loading Rasa.
from rasa.core.policies.policy import Policy, PolicyPrediction, confidence_scores_for  # noqa: E402
from rasa.engine.graph import ExecutionContext, GraphComponent  # noqa: E402
from rasa.engine.recipes.default_recipe import DefaultV1Recipe  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.engine.storage.storage import ModelStorage  # noqa: E402
from rasa.nlu.constants import SPACY_DOCS  # noqa: E402
from rasa.shared.core.constants import ACTION_DEACTIVATE_LOOP_NAME, ACTION_LISTEN_NAME  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered  # noqa: E402
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402
from rasa.shared.nlu.constants import (  # noqa: E402
    ENTITIES, INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT,
)
from rasa.shared.nlu.training_data.message import Message  # noqa: E402

EMERGENCY_INTENT = "medical_emergency"
RED_FLAG_ENTITY = "red_flag"
EMERGENCY_REPLY = "utter_emergency"
RECORD_ACTION = "action_record_emergency"
# What follows a red flag, in order: the reply first, so nothing can delay it.
EMERGENCY_SEQUENCE = (EMERGENCY_REPLY, ACTION_DEACTIVATE_LOOP_NAME, RECORD_ACTION, ACTION_LISTEN_NAME)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class RedFlagScreen(GraphComponent):
    """Last NLU component: a red flag overrides whatever intent came before.

    It also overrules the classifier's medical_emergency when the screen found no
    red flag but clear signs of a near-miss (a negation, history, "a bit", "if",
    a general question, no symptom word at all...). Measured on the evaluation set
    and fresh probe sets (546 near-misses), the classifier alone raised false
    alarms on 32% of near-misses (72% of negations); screen plus classifier with
    this check on 0.2%, while keeping every red flag the classifier caught that the
    screen did not. `veto_classifier: false` turns it off.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"spacy_model": DEFAULT_SPACY_MODEL, "intent": EMERGENCY_INTENT,
                "entity": RED_FLAG_ENTITY, "veto_classifier": True, "threshold": 0.5,
                "declined_intent": "out_of_scope", "retrieval_intent": "faq"}

    def __init__(self, config: Dict[Text, Any], matcher: Optional[RedFlagMatcher] = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self.intent = self.config["intent"]
        self.entity = self.config["entity"]
        self.matcher = matcher or RedFlagMatcher.load(self.config["spacy_model"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "RedFlagScreen":
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text or text.startswith("/"):
                continue  # button payloads carry their intent already
            screening = self.matcher.analyse(text, message.get(SPACY_DOCS[TEXT]))
            if screening.hits:
                self._mark(message, screening.hits[0])
            elif self.config["veto_classifier"] and screening.counter_evidence and \
                    (message.get(INTENT) or {}).get(INTENT_NAME_KEY) == self.intent:
                self._overrule(message, screening.counter_evidence)
        return messages

    def _overrule(self, message: Message, reasons: List[str]) -> None:
        """The classifier said emergency on a near-miss: take its next guess, or decline."""
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or []
                   if r.get(INTENT_NAME_KEY) not in {self.intent, "nlu_fallback"}]
        best = ranking[0] if ranking else None
        if best is None or best.get(PREDICTED_CONFIDENCE_KEY, 0.0) < self.config["threshold"] or (
                best[INTENT_NAME_KEY] == self.config["retrieval_intent"]
                and self._answer_confidence(message) < self.config["threshold"]):
            best = {INTENT_NAME_KEY: self.config["declined_intent"],
                    PREDICTED_CONFIDENCE_KEY: best.get(PREDICTED_CONFIDENCE_KEY, 0.0) if best else 0.0}
        message.set(INTENT, dict(best), add_to_output=True)
        message.set(INTENT_RANKING_KEY, [dict(best), *[r for r in ranking if r is not best
                                                      and r.get(INTENT_NAME_KEY) != best[INTENT_NAME_KEY]]],
                    add_to_output=True)
        logger.info("Classifier's %s overruled by the red-flag screen (%s)", self.intent, ", ".join(reasons))

    def _answer_confidence(self, message: Message) -> float:
        selector = (message.get("response_selector") or {}).get(self.config["retrieval_intent"], {})
        return float(selector.get("response", {}).get("confidence") or 0.0)

    def _mark(self, message: Message, hit: RedFlagHit) -> None:
        emergency = {INTENT_NAME_KEY: self.intent, PREDICTED_CONFIDENCE_KEY: 1.0}
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != self.intent]
        message.set(INTENT, emergency, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [emergency, *ranking], add_to_output=True)
        entity = {"entity": self.entity, "value": hit.kind, "start": hit.start, "end": hit.end,
                  "confidence_entity": 1.0, "extractor": self.__class__.__name__}
        message.set(ENTITIES, [*(message.get(ENTITIES) or []), entity], add_to_output=True)
        logger.info("Red-flag screen fired: %s", hit.kind)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class RedFlagPolicy(Policy):
    """First policy: a red flag gets the emergency reply, ends any form, and is recorded.

    Fires for the latest user message when its intent is medical_emergency (the
    screen's or the classifier's) or when the screen finds a red flag in the
    patient's previous message of this session read on into this one. Then
    predicts utter_emergency -> action_deactivate_loop -> action_record_emergency
    -> action_listen with confidence 1 as a "no user" prediction, so it wins over
    the RulePolicy even while a form is active. Otherwise it predicts nothing.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # Above RulePolicy (6): on equal confidence the higher priority wins.
        return {"priority": 7, "intent": EMERGENCY_INTENT, "spacy_model": DEFAULT_SPACY_MODEL}

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Optional[Any] = None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        self.intent = config.get("intent", EMERGENCY_INTENT)
        self._matcher: Optional[RedFlagMatcher] = None

    @property
    def matcher(self) -> RedFlagMatcher:
        if self._matcher is None:
            self._matcher = RedFlagMatcher.load(self.config.get("spacy_model", DEFAULT_SPACY_MODEL))
        return self._matcher

    def train(self, training_trackers: List[Any], domain: Domain, **kwargs: Any) -> Resource:
        """Nothing to learn: the red-flag rules are the code and its patterns."""
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        next_action = self.next_action(tracker)
        if next_action is None or next_action not in domain.action_names_or_texts:
            return self._prediction(self._default_predictions(domain))
        if next_action == EMERGENCY_REPLY:
            logger.info("Red flag: emergency reply (%s)", self._source(tracker))
        return self._prediction(
            confidence_scores_for(next_action, 1.0, domain),
            # "No user" predictions are compared only with each other: this beats a
            # form's happy path (RulePolicy, also "no user") on priority.
            is_no_user_prediction=True,
        )

    def next_action(self, tracker: DialogueStateTracker) -> Optional[str]:
        """The next step of the emergency sequence, or None when there is no red flag."""
        if not self.is_red_flag(tracker):
            return None
        done = [e.action_name for e in _events_since_latest_user_message(tracker)
                if isinstance(e, ActionExecuted)]
        step = 0
        for name in done:
            if step < len(EMERGENCY_SEQUENCE) and name == EMERGENCY_SEQUENCE[step]:
                step += 1
        return EMERGENCY_SEQUENCE[step] if step < len(EMERGENCY_SEQUENCE) else None

    def is_red_flag(self, tracker: DialogueStateTracker) -> bool:
        latest = tracker.latest_message
        if latest is None or latest.text is None and not latest.intent:
            return False
        if (latest.intent or {}).get(INTENT_NAME_KEY) == self.intent:
            return True
        text = latest.text or ""
        if not text or text.startswith("/"):
            return False
        return self.matcher.screen_turns(previous_user_text(tracker), text) is not None

    def _source(self, tracker: DialogueStateTracker) -> str:
        """What raised the alarm, for the log (never the patient's words)."""
        latest = tracker.latest_message
        if latest and (latest.intent or {}).get(INTENT_NAME_KEY) == self.intent:
            screened = [e.get("value") for e in latest.entities or [] if e.get("entity") == RED_FLAG_ENTITY]
            return f"screen: {screened[0]}" if screened else "classifier"
        return "screen, two messages together"


def _events_since_latest_user_message(tracker: DialogueStateTracker) -> List[Any]:
    events = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], UserUttered):
            return events[index + 1:]
    return []


def previous_user_text(tracker: DialogueStateTracker) -> Optional[str]:
    """The patient's message before the latest, in this session and not yet answered as a red flag."""
    seen_latest = False
    for event in reversed(tracker.events):
        if isinstance(event, SessionStarted):
            return None
        if isinstance(event, ActionExecuted) and event.action_name == EMERGENCY_REPLY and seen_latest:
            return None  # that message was already answered with the emergency reply
        if isinstance(event, UserUttered):
            if seen_latest:
                return event.text
            seen_latest = True
    return None

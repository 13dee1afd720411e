"""Names, phone numbers, emails, contact methods, visit reasons and yes/no.

Each parser takes the patient's text and returns the value to store or an
`Invalid` with the reason. Nothing here knows about Rasa, slots or wording.
English and Spanish answers are read in every conversation (patients mix them,
and "si", "ok" or a name say nothing about the language); Spanish words are
matched with and without accents ("sí"/"si", "teléfono"/"telefono").
"""
from __future__ import annotations

import re
import unicodedata
from typing import Optional, Sequence, Tuple, Union

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from actions.parsers import Invalid

MAX_NAME_CHARS = 100
MAX_NAME_WORDS = 10  # "José María de la Cruz Fernández" has six
# Lower-case particles joining the parts of a name (de, la, y, del, van, bin, ...): a long
# Spanish or Dutch name has many, and they do not make it a sentence.
NAME_PARTICLES = set(
    "de del della der des di da das do dos du la las le lo los y e van von ter ten den bin ibn bint "
    "al el ben ap af zu".split()
)

QUESTION_START = re.compile(
    r"^\s*(what|how|why|when|where|which|who|whose|is|are|does|do|did|can|could|will|would|should)\b|"
    # Spanish question words with their accent ("cómo", "cuándo") or "¿": without it
    # "como" and "cuando" start answers too ("cuando sea"); "para qué"/"por qué" either way.
    r"^\W*(qué|cómo|cuándo|dónde|cuál|quién|cuánto|cuánta|cuántos|cuántas)\b|^\W*(para|por)\s+qu[eé]\b",
    re.I,
)


def is_question(text: str) -> bool:
    stripped = text.strip()
    return stripped.endswith("?") or stripped.startswith("¿") or bool(QUESTION_START.match(text))


# --- Names -----------------------------------------------------------------------------

# Words that are never part of a name typed in answer to "What is your full name?".
NOT_NAME_WORDS = set(
    "what how why when where which is are does did can could would should it its it's my your "
    "you me i the this that to of for with about want need like book booking appointment cancel "
    "change help please thanks thank hi hello hey yes no ok okay not don't dont have has much "
    "many cost price hurt safe work phone email number call text stop quit exit never mind forget "
    "brb wrong incorrect misspelled right typo mistake instead actually as "
    # Spanish (with and without accents). Not "sol", "luz", "paz", "cruz": names.
    "qué que cómo como por para cuánto cuanto es está esta eso esto usted yo "
    "quiero quisiera necesito tengo puedo cita citas agendar reservar cancelar cambiar ayuda "
    "gracias hola buenas buenos días dias tardes noches sí si nombre teléfono telefono "
    "número numero correo llamar llamada mensaje duele cuesta precio seguro error equivocado "
    "equivoqué mal escribe perdón perdon disculpe realidad mejor favor tratamiento paciente nuevo "
    "nueva".split()
)
NAME_PREFIX = re.compile(
    r"^\s*(?:(?:hi|hello|hey|hola|buenos d[ií]as|buenas tardes|buenas noches|buenas)\b[,!. ]*)*"
    r"(?:(?:actually|sorry|en realidad|perd[oó]n|disculpe|disculpa)[, ]+)?"
    r"(?:(?:my (?:full )?name is spelled|it's spelled|it is spelled|spelled|my (?:full )?name is|"
    r"my name's|name is|name:|i am|i'm|im|it's|its|this is|call me|"
    r"mi nombre (?:completo )?se escribe|se escribe|mi nombre (?:completo )?es|nombre:|me llamo|"
    r"soy|yo soy|habla)\s+)?",
    re.I,
)
NAME_PUNCTUATION = set(" '’.-‐")  # between the parts of a name: O'Neil, Jean-Luc, St. John
# Patients who will not give a name (a call-back needs only a phone number).
NO_NAME = re.compile(
    r"\b(rather not|prefer not|won'?t say|not say|no name|don'?t want to (say|give)|skip|anonymous|"
    r"not telling|none of your business|no thanks|"
    r"prefiero no|mejor no|no quiero (decir|dar)|sin nombre|an[oó]nim[oa]|omitir|saltar|no gracias)\b",
    re.I,
)


def _is_name_character(char: str) -> bool:
    # Letters and combining marks of any script (Vietnamese tones, Devanagari vowel signs).
    return unicodedata.category(char)[0] in "LM" or char in NAME_PUNCTUATION


def parse_name(text: str) -> Union[str, Invalid]:
    """The patient's name as typed (any script), without "my name is" and the like."""
    name = " ".join(NAME_PREFIX.sub("", unicodedata.normalize("NFC", text)).split()).strip(" .,!")
    if len(name) > MAX_NAME_CHARS:
        return Invalid("name_too_long", {"max_chars": str(MAX_NAME_CHARS)}, attempt=True)
    # A hyphenated part (Fernández-Castellanos) is one surname; particles do not count.
    parts = name.split()
    words = [w.lower().strip(".'’") for w in re.split(r"[ \-]+", name)]
    counted = [p for p in parts if p not in NAME_PARTICLES]
    looks_right = (
        len(name) >= 2 or (len(name) == 1 and not name.isascii())  # 李 alone is a name
    ) and (
        len(counted) <= MAX_NAME_WORDS
        and all(_is_name_character(c) for c in name)
        and any(c.isalpha() for c in name)
        and not any(w in NOT_NAME_WORDS for w in words)
    )
    if not looks_right:
        return Invalid("name")
    return name


def declines_name(text: str) -> bool:
    """True for "I'd rather not say" at the name question."""
    return bool(NO_NAME.search(text))


# --- Phone numbers ------------------------------------------------------------------------

USE_SENDER = re.compile(
    r"^\s*(use )?(this|that|the same|same|my)( one| number)?\b|^\s*(yes|yeah|yep|yup|ok|okay|sure|"
    r"correct|fine)\b|"
    r"^\W*((usen?|usar|use|usa)\s+)?(este|ese|el mismo|mismo|mi)(\s+n[úu]mero)?\b|"
    r"^\W*(s[ií]|claro|correcto|vale|de acuerdo|est[áa] bien|ok)\b",
    re.I,
)
_PHONE_PROBLEMS = {
    phonenumbers.ValidationResult.TOO_SHORT: "phone_too_short",
    phonenumbers.ValidationResult.TOO_LONG: "phone_too_long",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "phone_country_code",
    phonenumbers.ValidationResult.INVALID_LENGTH: "phone_length",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "phone_needs_area_code",
}


def stored_phone(number: phonenumbers.PhoneNumber) -> str:
    """E.164, with an extension in RFC 3966 style: "+16173332211;ext=42"."""
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{e164};ext={number.extension}" if number.extension else e164


def display_phone(stored: str) -> str:
    """"+1 617-333-2211 ext. 42" for a stored number."""
    return phonenumbers.format_number(phonenumbers.parse(stored), phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def example_phone(region: str) -> str:
    example = phonenumbers.example_number(region) or phonenumbers.parse("+12015550123")
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)


def _phone_problem(text: str, region: str) -> str:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return "phone_missing"
    return _PHONE_PROBLEMS.get(phonenumbers.is_possible_number_with_reason(number), "phone_not_in_use")


def find_phone(text: str, region: str) -> Optional[str]:
    """The first valid number anywhere in the text (extension kept), or None."""
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        return stored_phone(match.number)
    return None


def without_phone(text: str, region: str) -> str:
    """The text with its phone number and the words leading to it taken out:
    "Jane Smith, call me on 617 333 2211" -> "Jane Smith"."""
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        text = text[: match.start] + " " + text[match.end:]
        break
    text = re.sub(r"\b(just\s+)?(call|ring|reach|phone|text)\s+me\s*(on|at)?\b|\b(my\s+)?(phone\s+)?"
                  r"(number|phone|mobile|cell)(\s+is)?\b|\b(on|at)\s*$|"
                  r"\b(ll[áa]m[ea]nme|ll[áa]m[ea]me|me pueden llamar)\s*(al)?\b|\b(mi\s+)?(n[úu]mero|tel[ée]fono|"
                  r"celular|m[óo]vil)(\s+es)?\b|\bal\s*$", " ", text, flags=re.I)
    text = re.sub(r"[\s,]+(and|y|e)[\s,]*$", " ", text, flags=re.I)  # "María y [mi teléfono es ...]"
    return " ".join(text.replace(",", " ").split())


def parse_phone(text: str, region: str, own_number: Optional[str] = None) -> Union[str, Invalid]:
    """A valid number anywhere in the text; region for numbers without +country.
    On SMS/WhatsApp (own_number given) "yes, use this one" means the sender's number."""
    if own_number and not re.search(r"\d", text) and USE_SENDER.search(text):
        return own_number
    found = find_phone(text, region)
    if found:
        return found
    return Invalid(
        _phone_problem(text, region), {"example": example_phone(region)},
        attempt=len(re.findall(r"\d", text)) >= 3,
    )


def sender_phone(channel: Optional[str], sender_id: str, region: str) -> Optional[str]:
    """The patient's own number when they write by SMS or WhatsApp (E.164), else None."""
    if not channel or not channel.startswith("twilio"):
        return None
    try:
        number = phonenumbers.parse(sender_id.split(":", 1)[-1], region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return stored_phone(number)


# --- Email ---------------------------------------------------------------------------------

EMAIL_TOKEN = re.compile(r"[^\s<>(),;:\"']*@[^\s<>(),;:\"']*")


def parse_email(text: str) -> Union[str, Invalid]:
    """The address, normalised (domain lower-cased); the validator's reason when it is wrong."""
    token = EMAIL_TOKEN.search(text)
    if not token:
        return Invalid("email_missing")
    typed = token.group(0).rstrip(".")
    try:
        checked = validate_email(typed, check_deliverability=False)
    except EmailNotValidError as error:
        # email-validator's own explanation ("There must be something after the @-sign.")
        return Invalid("email", {"problem": str(error)}, attempt=True)
    # An address typed all in capitals (caps lock, some phone keyboards) is not a
    # case-sensitive mailbox name: kept lower-case. Mixed case is kept as typed.
    if typed.upper() == typed and typed.lower() != typed:
        return checked.normalized.lower()
    return checked.normalized


def find_email(text: str) -> Optional[str]:
    found = parse_email(text)
    return None if isinstance(found, Invalid) else found


# --- Choices ---------------------------------------------------------------------------------


def _first_match(text: str, options: Sequence[Tuple[str, str]]) -> Optional[str]:
    """The option whose pattern occurs first in the text."""
    found = [(m.start(), key) for key, pattern in options for m in [re.search(pattern, text, re.I)] if m]
    return min(found)[1] if found else None


METHOD_PATTERNS = [
    ("email", r"\be-?mail|\bmail\b|\bcorreo"),
    ("sms", r"\b(text|texts|txt|sms|message|whatsapp|mensajes?|mensajito|texto|wasap|whats)\b"),
    ("phone", r"\b(phone|call|ring|telephone|tel[ée]fono|telef[óo]nica|llamadas?|llamar|llamen|"
              r"ll[áa]m[ea]n?me|ll[áa]menme)\b"),
]
REASON_PATTERNS = [
    ("follow_up", r"\bfollow[\s-]?up|\bcheck[\s-]?up|\breview\b|\bafter my (treatment|session)|"
                  r"\bcontrol\b|\bseguimiento|\brevisi[óo]n|\bchequeo|\bdespu[ée]s de mi (tratamiento|sesi[óo]n)"),
    ("spider_vein_consultation", r"\bconsult"),
    ("sclerotherapy_treatment", r"\bsclero|\btreatment|\binjection|\bsession|\bescleroterapia|"
                                r"\btratamiento|\binyecci[óo]n|\binyecciones|\bsesi[óo]n"),
    ("spider_vein_consultation", r"\bspider|\bveins?\b|\bassessment|\bfirst visit|\bara[ñn]it?as?\b|"
                                 r"\bvenas?\b|\bv[áa]rices|\bvaloraci[óo]n|\bevaluaci[óo]n|\bprimera (vez|visita)"),
    ("other", r"\bother\b|\bsomething else\b|\belse\b|\botr[oa]s?\b|\balgo m[áa]s\b"),
]


# "call me", "text me instead", "by email": a contact method asked for in passing. What is
# refused ("don't text", "instead of texting", "not by email") is taken out first.
ES_METHOD = r"(tel[ée]fono|llamada|mensaje( de texto)?|texto|sms|whatsapp|correo( electr[óo]nico)?|e-?mail)"
METHOD_REQUEST = re.compile(
    r"\b(call|ring|phone|text|txt|sms|message|whatsapp|e-?mail)\s+me\b|"
    r"\b(by|via|through|over)\s+(a\s+)?(phone|telephone|call|text|txt|sms|whatsapp|e-?mail)\b|"
    r"\bprefer\s+(a\s+)?(phone|call|text|txt|sms|whatsapp|e-?mail)\b|"
    r"\b(phone call|call|text message|text|e-?mail)\s+(is|would be|works)\s+(better|easier|best|fine)\b|"
    # "llámenme", "mándenme un correo", "por mensaje", "prefiero una llamada"
    r"\b(ll[áa]m[ea]n?me|ll[áa]menme)\b|"
    r"\b(escr[íi]b[ae]n?me|m[áa]nd[ea]n?me|env[íi][ea]n?me)\s+(un\s+|por\s+)?" + ES_METHOD + r"\b|"
    r"\b(por|v[íi]a)\s+" + ES_METHOD + r"\b|"
    r"\bprefiero\s+(una?\s+|por\s+)?" + ES_METHOD + r"\b",
    re.I,
)
NEGATED_METHOD = re.compile(
    r"\b(don'?t|dont|do not|not|no|never|instead of|rather than|not by)\s+(\w+\s+)?"
    r"(call|ring|phone|text|txt|sms|message|whatsapp|e-?mail)\w*(\s+me)?\b|"
    r"\b(no|nunca|en vez de|en lugar de)\s+(me\s+|por\s+|un\s+|una\s+)?"
    r"(ll[áa]m\w*|escrib\w*|mand\w*|tel[ée]fono|llamada|mensaje\w*|texto|sms|whatsapp|correo|e-?mail)\b",
    re.I,
)


def requested_method(text: str) -> Optional[str]:
    """phone | sms | email when the text asks to be contacted that way
    ("actually call me, don't text", "email me instead"), else None."""
    kept = NEGATED_METHOD.sub(" ", text)
    match = METHOD_REQUEST.search(kept)
    return _first_match(match.group(0), METHOD_PATTERNS) if match else None


def parse_method(text: str) -> Union[str, Invalid]:
    """phone | sms | email."""
    method = None if is_question(text) else _first_match(text, METHOD_PATTERNS)
    return Invalid("contact_method") if method is None else method


def parse_reason(text: str) -> Union[str, Invalid]:
    """spider_vein_consultation | sclerotherapy_treatment | follow_up | other."""
    reason = None if is_question(text) else _first_match(text, REASON_PATTERNS)
    return Invalid("visit_reason") if reason is None else reason


# --- Yes and no ------------------------------------------------------------------------------

NO_WORDS = (
    r"\b(no|nope|nah|don'?t|do not|disagree|never|decline|refuse|not agree|"
    r"nop|nel|nunca|jam[áa]s|para nada|de ninguna manera|no acepto|rechazo)\b"
)
YES_WORDS = (
    r"\b(yes|yeah|yep|yup|ya|sure|ok|okay|agree|agreed|i do|consent|fine|correct|confirm|"
    r"confirmed|absolutely|definitely|of course|alright|go ahead|right|looks good|perfect|y|"
    r"s[íi]|sip|claro|de acuerdo|acepto|est[áa] bien|vale|dale|correcto|confirmo|perfecto|exacto|"
    r"por supuesto|as[íi] es|todo bien|est[áa] todo bien|bueno|aj[áa]|listo)(?!\w)"
)
# Consent needs the patient to say it: "ok", "fine" or "I don't mind" are not a yes to
# storing their details (they may just acknowledge the question). In Spanish "sí",
# "claro" (a firm yes, not "sure"), "de acuerdo" ("agreed") and "acepto" are explicit;
# "ok", "vale", "bueno", "está bien" and "dale" acknowledge.
EXPLICIT_YES = re.compile(
    r"^\W*(yes|yeah|yep|yup|yes please|i agree|i do|i consent|agreed|i give (my )?consent|"
    r"yes,? i (agree|consent|do))\b(?!.*\b(but|not|don'?t|no)\b)|"
    r"^\W*(s[íi]|sip|claro|claro que s[íi]|de acuerdo|estoy de acuerdo|acepto|s[íi],? acepto|"
    r"doy mi consentimiento|autorizo|s[íi],? (estoy de acuerdo|autorizo|doy mi consentimiento))"
    r"(?!\w)(?!.*\b(pero|no)\b)",
    re.I,
)


def yes_or_no(text: str, intent: Optional[str]) -> Optional[bool]:
    """True/False for a yes/no answer (typed or a button), None when it is neither."""
    if intent == "affirm" and text.startswith("/"):
        return True
    if intent == "deny" and text.startswith("/"):
        return False
    if is_question(text):
        return None
    if NO_MATTER.search(text):
        return True
    if re.search(NO_WORDS, text, re.I):
        return False
    if re.search(YES_WORDS, text, re.I) or intent == "affirm":
        return True
    return False if intent == "deny" else None


# "I don't mind", "me da igual": fine with it, but not a yes to storing details.
NO_MATTER = re.compile(r"\b(don'?t|do not) mind\b|\bme da igual\b|\bno me importa\b", re.I)

# Doubt is neither yes nor no: "I don't know", "maybe", "not sure", "let me think".
UNSURE = re.compile(
    r"\b(i )?(don'?t|do not|dont) know\b|\bdunno\b|\bidk\b|\bno idea\b|\bmaybe\b|\bperhaps\b|"
    r"\bpossibly\b|\bprobably\b|\b(not|un)(\s+(really|too|so|quite))?\s*(sure|certain|decided)\b|"
    r"\bunsure\b|\bundecided\b|\bmight\b|\bi guess\b|\bnot yet\b|\blet me (think|see|check)\b|"
    r"\b(need|have) to think\b|\bthink about it\b|\bcan'?t decide\b|\bhmm+\b|"
    r"\bno s[ée]\b|\bquiz[áa]s?\b|\btal vez\b|\ba lo mejor\b|\bpuede ser\b|\bno estoy segur[oa]\b|"
    r"\bd[ée]j[ae]me pensar|\blo (voy a )?pienso\b|\blo voy a pensar\b|\btengo que pensar|\bmm+\b|"
    r"\btodav[íi]a no\b|\bno lo s[ée]\b",
    re.I,
)


def is_unsure(text: str) -> bool:
    """True for an answer that is doubt rather than yes or no."""
    return bool(UNSURE.search(text))


def explicit_consent(text: str, intent: Optional[str]) -> Optional[bool]:
    """True only for an explicit yes (or the "Yes, I agree" button); False for a no;
    None for anything else, including "ok", "I don't mind" and "I don't know"."""
    if text.strip() == "/affirm":
        return True
    if is_question(text) or is_unsure(text):
        return None
    if NO_MATTER.search(text):
        return None
    if text.strip() == "/deny" or re.search(NO_WORDS, text, re.I):
        return False
    return True if EXPLICIT_YES.search(text) else None


# --- Questions about the consent ---------------------------------------------------------------

CONSENT_TOPICS = [  # what a patient asks before agreeing; the first that matches answers
    ("retention", r"\bhow long\b|\bkeep\b|\bdelete|\bretain|\bretention|\bstored for\b|"
                  r"\bcu[áa]nto tiempo\b|\bguard[ae]n\b|\bconserv|\bborr[ae]n|\belimin"),
    ("who", r"\bwho\b|\bshare|\bsee\b|\baccess|\bthird part|\bsell|\bsent to\b|"
            r"\bqui[ée]n(es)?\b|\bcompart|\bven\b|\bver\b|\bacceso|\bterceros|\bvend"),
    ("what", r"\bwhat (do you|will you|is|are|gets?)\b.*\b(store|save|keep|record)|\bwhat details\b|"
             r"\bwhat data\b|\bwhat information\b|\bqu[ée] (datos|informaci[óo]n|detalles)\b|"
             r"\bqu[ée] (van a )?(guardar|almacenar|registrar)"),
    ("why", r"\bwhy\b|\bwhat for\b|\bneed (that|this|it|my)\b|\bwhat does (that|this|it) mean\b|"
            r"\bmean\b|\bpurpose\b|\bdata\b|\bprivacy\b|\bdetails\b|"
            r"\bpor qu[ée]\b|\bpara qu[ée]\b|\bnecesit|\bsignifica|\bprop[óo]sito|\bdatos\b|\bprivacidad"),
]


# A question with nothing of its own to ask about ("why?", "what does that mean?", "do I
# have to?") is about what was just asked: the consent. One that names something else
# ("what are spider veins exactly?") is not.
BARE_QUESTION_WORDS = set(
    "what why how who when where which is are was does do did can could will would should must "
    "it its it's that that's this these those i me my you your we us the a an to for of about "
    "mean means meaning need needed necessary necessarily have has really exactly again so then "
    "huh eh sorry ok okay please sure just come like thing say said asking ask question "
    "qué que por para cómo como es eso esto lo la el me mi mis se tengo hay hace falta "
    "obligatorio necesario significa quiere decir de y pero a perdón perdon sí si".split()
)


def consent_question(text: str) -> Optional[str]:
    """retention | who | what | why for a question about the consent, else None."""
    if not is_question(text) and not re.search(
            r"\bwhy\b|\bwho\b|\bhow long\b|\bpor qu[ée]\b|\bpara qu[ée]\b|\bqui[ée]n\b|\bcu[áa]nto tiempo\b",
            text, re.I):
        return None
    topic = _first_match(text, CONSENT_TOPICS)
    if topic:
        return topic
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower().replace("’", "'"))
    about_data = PRIVACY_WORDS.search(text)  # "what will you do with my phone number?"
    return "why" if about_data or all(w in BARE_QUESTION_WORDS for w in words) else None


# At any other question, a question is about privacy only when it says so.
PRIVACY_WORDS = re.compile(
    r"\b(need|want|use|keep|store|do with) (my|that|this|it|them)\b|\bmy (details|data|number|"
    r"phone|email|name|information)\b|\bprivacy\b|\bpersonal\b|\bwho (will |can )?see\b|"
    r"\b(necesitan|quieren|usan|usar|guardan|hacen con) (mi|mis|eso|esto|esos|mis datos)\b|"
    r"\b(lo|los|la|las) (necesitan|quieren|usan|guardan)\b|\bmis (datos|detalles)\b|"
    r"\bmi (n[úu]mero|tel[ée]fono|correo|nombre|informaci[óo]n)\b|\bprivacidad\b|\bpersonales\b|"
    r"\bqui[ée]n (los |lo )?(va a |puede )?ver?\b",
    re.I,
)


def privacy_question(text: str) -> Optional[str]:
    """retention | who | what | why for "why do you need my number?" at any question, else None."""
    return consent_question(text) if is_question(text) and PRIVACY_WORDS.search(text) else None


# --- Changes and pauses ---------------------------------------------------------------------------

FIELD_PATTERNS = [
    ("email", r"\be-?mail|\bcorreo"),
    ("contact_method", r"\bcontact (method|me by|me via|by|via)|\bhow (you|to) contact|\bmethod\b|"
                       r"\b(forma|medio|m[ée]todo|manera) de contacto|\bc[óo]mo (me )?contact"),
    ("phone", r"\bphone|\bnumber\b|\bmobile|\bcell\b|\btelephone|\btel[ée]fono|\bn[úu]mero|\bcelular|"
              r"\bm[óo]vil"),
    ("name", r"\bname\b|\bspelled\b|\bspelt\b|\bnombre|\bapellidos?\b|\bse escribe\b"),
    ("time", r"\btimes?\b|\bdays?\b|\bdates?\b|\bwhen\b|\bslot\b|\bmorning|\bafternoon|\bevening|"
             r"\b(mon|tues|wednes|thurs|fri|satur|sun)day|"
             r"\bd[íi]as?\b|\bfechas?\b|\bhoras?\b|\bhorarios?\b|\bcu[áa]ndo\b|\bla ma[ñn]ana\b|\btarde\b|"
             r"\b(lunes|martes|mi[ée]rcoles|jueves|viernes|s[áa]bado|domingo)"),
    ("reason", r"\breason|\bvisit\b|\bpurpose|\bconsultation|\btreatment|\bfollow|\bmotivo|\braz[óo]n|"
               r"\bvisita|\bconsulta|\btratamiento|\bcontrol\b"),
]
NOTHING_TO_CHANGE = re.compile(
    r"\bnothing\b|\bno changes?\b|\ball (good|fine|correct)\b|\bnada\b|\bning[úu]n cambio\b|"
    r"\btodo (est[áa] )?(bien|correcto)\b|\best[áa] todo bien\b",
    re.I,
)
# "change my phone number", "actually my number is ...", "make it Friday instead",
# "my name is spelled ...": the patient corrects something already given.
CHANGE_REQUEST = re.compile(
    r"\b(change|correct|update|fix|edit)\s+(my|the|your|that|it)\b|"
    r"^\W*((no|oh|hmm|uh|um)\W+)?(actually|sorry|oops|wait)\b|"
    r"\b(make it|instead|rather|wrong|typo|mistake|spelled|spelt)\b|"
    # "en realidad mi número es ...", "mejor el viernes", "mi nombre se escribe ..."
    r"\b(cambi[ae]r?|corregir|corrija|actualizar|modificar)\s+(mi|mis|el|la|los|las|su|eso|esto)\b|"
    r"^\W*((no|ay|oh|mm+|eh)\W+)?(en realidad|perd[óo]n|disculpe|disculpa|ups|espere|mejor)\b|"
    r"\b(en vez de|en lugar de|mejor|me equivoqu[ée]|equivocad[oa]|error|se escribe|est[áa] mal)\b",
    re.I,
)
PAUSE = re.compile(
    r"^\W*(brb|be right back|one (sec|second|moment|minute)|just a (sec|second|moment|minute)|"
    r"hold on|hang on|give me a (sec|second|moment|minute)|wait a (sec|second|moment|minute)|"
    r"1 sec|sec|wait|"
    r"un (momento|momentito|segundo|minuto)|(d[ée]me|deme|dame) un (momento|segundo|minuto)|"
    r"espere un (momento|poco|segundo)|espera|espere|ya vuelvo|ahorita vuelvo|ahora vuelvo)\W*$",
    re.I,
)


def field_named(text: str) -> Optional[str]:
    """name | contact_method | phone | email | time | reason, as the text names it."""
    return _first_match(text, FIELD_PATTERNS)


def nothing_to_change(text: str) -> bool:
    return bool(NOTHING_TO_CHANGE.search(text))


def is_change_request(text: str) -> bool:
    return bool(CHANGE_REQUEST.search(text))


def is_pause(text: str) -> bool:
    """"brb", "one sec": the patient is still there and will answer."""
    return bool(PAUSE.search(text))


def new_value_text(text: str, field: str) -> str:
    """The new value in a correction: 'change my name to Jane Doe' -> 'Jane Doe'.

    Phone numbers, emails and days are found anywhere in the text; a name after
    "to", "is", "should be" or "spelled"."""
    if field in ("phone", "email", "contact_method"):
        return text
    if field == "time":
        return re.sub(r"\b(actually|sorry|make it|change (it|the (day|time|date)) to|instead|rather|"
                      r"en realidad|perd[óo]n|mejor|c[áa]mbielo a|cambiar(lo)? a|en vez de eso|m[áa]s bien)\b",
                      " ", text, flags=re.I)
    # The most specific first: "spelled", "to", "is", "as" and their Spanish.
    for marker in (r"spelled|spelt|se escribe|escrito", r"to|should be|deber[íi]a ser|(?:nombre|c[áa]mbielo|c[áa]mbialo|p[óo]ngalo)\s+(?:a|por)",
                   r"is|it's|es", r"as|como"):
        match = re.search(rf"\b(?:{marker})\s+(.+)$", text, re.I)
        if match:
            return match.group(1)
    return ""

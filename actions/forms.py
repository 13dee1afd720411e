"""Booking and call-back forms: the questions, how answers are read, and validation.

Both forms run in Rasa (booking_form, callback_form in domain/domain.yml); the
validation actions here decide, for every patient message while a form is
active, whether it answers the question that was asked:

* a valid answer fills its slot (a phone number as E.164, an email normalised,
  a free-text time as a period in the clinic's time zone, ...);
* an answer that is wrong gets the question again, with the reason; after three
  misses on the same question the patient is offered staff and the clinic phone;
* anything else (an FAQ question, "cancel", "are you a bot?") is left to the
  rules in data/rules/booking.yml, which answer it and then resume the form.

Slot extraction happens here and not through `from_text` mappings because the
intent classifier cannot be trusted on answers: a name may be classified as a
greeting and "sclerotherapy treatment" as an FAQ question. The requested slot
alone is filled, so free text only ever fills the question that was asked.

Patient texts are built here rather than in domain responses: rasa data validate
counts responses used only by actions as unused, and the clinic's details come
from the same environment through clinic.settings.
"""
from __future__ import annotations

import abc
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union
from zoneinfo import ZoneInfo

import dateparser
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT, FormValidationAction
from rasa_sdk.types import DomainDict

from clinic.settings import clinic_details

# --- Consent -----------------------------------------------------------------
# The exact words a patient agrees to. Any change to CONSENT_TEXT needs a new
# CONSENT_VERSION (tests/unit/test_forms.py pins the text of each version).
CONSENT_VERSION = "2026-11-v1"
CONSENT_TEXT = (
    "Do you agree that {clinic_name} may store the details you gave in this chat and use "
    "them to contact you about this request? They are used only for this request."
)

# --- Slots ---------------------------------------------------------------------
NAME = "patient_name"
METHOD = "contact_method"
PHONE = "patient_phone"
EMAIL = "patient_email"
TIME = "preferred_time"
START = "period_start"
END = "period_end"
REASON = "visit_reason"
CONSENT = "contact_consent"
CONSENT_VER = "consent_version"
CONFIRMED = "booking_confirmed"
FIELD = "field_to_change"
PENDING = "change_pending"
MISSES = "form_misses"

# Everything a request holds; cleared once stored, cancelled or declined.
REQUEST_SLOTS = [
    NAME, METHOD, PHONE, EMAIL, TIME, START, END, REASON,
    CONSENT, CONSENT_VER, CONFIRMED, FIELD, PENDING, MISSES,
]

# --- Answer options ----------------------------------------------------------------
CONTACT_METHODS = {"phone": "phone call", "sms": "text message", "email": "email"}
REASONS = {
    "spider_vein_consultation": "Spider vein consultation",
    "sclerotherapy_treatment": "Sclerotherapy treatment",
    "follow_up": "Follow-up visit",
    "other": "Something else",
}
# Fields a patient can change, the slots each one clears, and its label.
FIELDS: Dict[str, Tuple[List[str], str]] = {
    "name": ([NAME], "Name"),
    "contact_method": ([METHOD], "Contact method"),
    "phone": ([PHONE], "Phone"),
    "email": ([EMAIL], "Email"),
    "time": ([TIME, START, END], "Days and times"),
    "reason": ([REASON], "Reason"),
}
FIELD_SLOT = {"name": NAME, "contact_method": METHOD, "phone": PHONE, "email": EMAIL,
              "time": TIME, "reason": REASON}

# Intents that mean "this is not an answer" when the text does not parse as one:
# the form steps aside and data/rules/booking.yml handles them.
NOT_ANSWERS = {
    "faq", "out_of_scope", "bot_challenge", "greet", "goodbye", "thank", "ask_question",
    "book_appointment", "human_handoff", "cancel",
    "clinic_hours", "clinic_location", "clinic_languages", "clinic_contact", "follow_up",
}
# "cancel" ends the form before any parsing when the words say so; the classifier
# alone is not enough ("I don't mind" can look like "never mind").
CANCEL_WORDS = re.compile(
    r"\b(cancel\w*|never ?mind|forget (it|about it)|stop|abort|quit|scrap (it|that)|exit)\b", re.I
)

MAX_MISSES = 3
OPENING, CLOSING = time(9), time(17)
MAX_DAYS_AHEAD = 365

# --- Question texts -------------------------------------------------------------
EXAMPLES = '"next Tuesday afternoon", "any weekday morning" or "the 14th after 3"'
QUESTIONS = {
    NAME: "What is your full name?",
    METHOD: "How should the clinic contact you: by phone call, text message or email?",
    PHONE: "What phone number should the clinic use? Please include the area code.",
    EMAIL: "What is your email address?",
    TIME: f"Which days and times suit you? For example {EXAMPLES}.",
    REASON: "What is the visit for?",
    CONSENT: CONSENT_TEXT,
    FIELD: "What would you like to change?",
}
PHONE_FROM_SENDER = (
    "What phone number should the clinic use? You can use the number you're writing from "
    "({number}), or type another one."
)
SUMMARY_INTRO = "Please check your request:"
SUMMARY_QUESTION = "Is everything correct?"

Buttons = List[Dict[str, str]]
BUTTONS: Dict[str, Buttons] = {
    METHOD: [{"title": t.capitalize(), "payload": t.capitalize()} for t in CONTACT_METHODS.values()],
    REASON: [{"title": t, "payload": t} for t in REASONS.values()],
    CONSENT: [{"title": "Yes, I agree", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
    CONFIRMED: [
        {"title": "Confirm", "payload": "/affirm"},
        {"title": "Change something", "payload": "/change_field"},
        {"title": "Cancel", "payload": "/cancel"},
    ],
}

# --- Reading answers ---------------------------------------------------------------


@dataclass(frozen=True)
class Invalid:
    """Not a usable answer; `message` says why. `attempt`: the text clearly tried to
    answer (digits for a phone, an @ for an email, a date), so it is a miss even
    when the classifier took it for something else."""

    message: str
    attempt: bool = False


@dataclass(frozen=True)
class Period:
    """A requested period, in the clinic's time zone."""

    start: datetime
    end: datetime

    def human(self) -> str:
        """'Tue 1 Dec, 12:00-17:00' (or a range of days)."""
        s, e = self.start, self.end
        if s.date() == e.date():
            return f"{s:%a} {s.day} {s:%b}, {s:%H:%M}-{e:%H:%M}"
        return f"{s:%a} {s.day} {s:%b} {s:%H:%M} - {e:%a} {e.day} {e:%b} {e:%H:%M}"


Parsed = Union[Dict[str, Any], Invalid]

QUESTION_START = re.compile(
    r"^\s*(what|how|why|when|where|which|who|is|are|does|do|did|can|could|will|would|should)\b",
    re.I,
)
# Words that are never part of a name typed in answer to "What is your full name?".
NOT_NAME_WORDS = set(
    "what how why when where which is are does did can could would should it its it's my your "
    "you me i the this that to of for with about want need like book booking appointment cancel "
    "change help please thanks thank hi hello hey yes no ok okay not don't dont have has much "
    "many cost price hurt safe work phone email number call text stop quit exit never mind forget".split()
)
NAME_PREFIX = re.compile(
    r"^\s*(?:(?:hi|hello|hey)\b[,!. ]*)?(?:(?:my name is|my name's|name is|name:|i am|i'm|im|it's|"
    r"its|this is)\s+)?",
    re.I,
)
NAME_SHAPE = re.compile(r"^[^\W\d_]+(?:[ '’.\-]+[^\W\d_]+)*\.?$")


def is_question(text: str) -> bool:
    return text.strip().endswith("?") or bool(QUESTION_START.match(text))


def parse_name(text: str) -> Parsed:
    name = " ".join(NAME_PREFIX.sub("", text).split()).strip(" .,!")
    words = [w.lower().strip(".'’") for w in re.split(r"[ \-]+", name)]
    looks_right = (
        2 <= len(name) <= 80
        and len(words) <= 6
        and NAME_SHAPE.match(name) is not None
        and not any(w in NOT_NAME_WORDS for w in words)
    )
    if not looks_right:
        return Invalid("Sorry, that doesn't look like a name. Please type your full name, for example Jane Smith.")
    return {NAME: name}


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
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


USE_SENDER = re.compile(
    r"^\s*(use )?(this|that|the same|same|my)( one| number)?\b|^\s*(yes|yeah|yep|yup|ok|okay|sure|"
    r"correct|fine)\b",
    re.I,
)
_PHONE_PROBLEMS = {
    phonenumbers.ValidationResult.TOO_SHORT: "it is too short",
    phonenumbers.ValidationResult.TOO_LONG: "it is too long",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "the country code isn't valid",
    phonenumbers.ValidationResult.INVALID_LENGTH: "it has the wrong number of digits",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "it needs the area code",
}


def _phone_problem(text: str, region: str) -> str:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return "I couldn't find a phone number in it"
    reason = phonenumbers.is_possible_number_with_reason(number)
    return _PHONE_PROBLEMS.get(reason, "it isn't a number in use")


def parse_phone(text: str, region: str, own_number: Optional[str] = None) -> Parsed:
    """A valid number anywhere in the text, as E.164; region for numbers without +country."""
    if own_number and not re.search(r"\d", text) and USE_SENDER.search(text):
        return {PHONE: own_number}
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        return {PHONE: phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)}
    example = phonenumbers.format_number(
        phonenumbers.example_number(region) or phonenumbers.parse("+12015550123"),
        phonenumbers.PhoneNumberFormat.NATIONAL,
    )
    return Invalid(
        f"That doesn't look like a valid phone number: {_phone_problem(text, region)}. "
        f"Please send the full number with the area code, for example {example}.",
        attempt=len(re.findall(r"\d", text)) >= 3,
    )


def display_phone(e164: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL)


EMAIL_TOKEN = re.compile(r"[^\s<>(),;:\"']*@[^\s<>(),;:\"']*")


def parse_email(text: str) -> Parsed:
    token = EMAIL_TOKEN.search(text)
    if not token:
        return Invalid("That doesn't look like an email address. Please type it like name@example.com.")
    try:
        checked = validate_email(token.group(0).rstrip("."), check_deliverability=False)
    except EmailNotValidError as error:
        return Invalid(
            f"That doesn't look like a valid email address: {error} Please check it and type it again.",
            attempt=True,
        )
    return {EMAIL: checked.normalized}


def _first_match(text: str, options: Sequence[Tuple[str, str]]) -> Optional[str]:
    """The option whose pattern occurs first in the text."""
    found = [(m.start(), key) for key, pattern in options for m in [re.search(pattern, text, re.I)] if m]
    return min(found)[1] if found else None


METHOD_PATTERNS = [
    ("email", r"\be-?mail|\bmail\b"),
    ("sms", r"\b(text|texts|txt|sms|message|whatsapp)\b"),
    ("phone", r"\b(phone|call|ring|telephone)\b"),
]
REASON_PATTERNS = [
    ("follow_up", r"\bfollow[\s-]?up|\bcheck[\s-]?up|\breview\b|\bafter my (treatment|session)"),
    ("spider_vein_consultation", r"\bconsult"),
    ("sclerotherapy_treatment", r"\bsclero|\btreatment|\binjection|\bsession"),
    ("spider_vein_consultation", r"\bspider|\bveins?\b|\bassessment|\bfirst visit"),
    ("other", r"\bother\b|\bsomething else\b|\belse\b"),
]
NO_WORDS = r"\b(no|nope|nah|don'?t|do not|disagree|never|decline|refuse|not agree)\b"
YES_WORDS = (
    r"\b(yes|yeah|yep|yup|ya|sure|ok|okay|agree|agreed|i do|consent|fine|correct|confirm|"
    r"confirmed|absolutely|definitely|of course|alright|go ahead|right|looks good|perfect|y)\b"
)


def parse_method(text: str) -> Parsed:
    method = None if is_question(text) else _first_match(text, METHOD_PATTERNS)
    if method is None:
        return Invalid("Please choose how the clinic should contact you: phone call, text message or email.")
    return {METHOD: method}


def parse_reason(text: str) -> Parsed:
    reason = None if is_question(text) else _first_match(text, REASON_PATTERNS)
    if reason is None:
        options = ", ".join(label.lower() for label in REASONS.values())
        return Invalid(f"Please choose one of these: {options}.")
    return {REASON: reason}


def yes_or_no(text: str, intent: Optional[str]) -> Optional[bool]:
    """True/False for a yes/no answer (typed or a button), None when it is neither."""
    if intent == "affirm":
        return True
    if intent == "deny":
        return False
    if is_question(text):
        return None
    if re.search(r"\b(don'?t|do not) mind\b", text, re.I):
        return True
    if re.search(NO_WORDS, text, re.I):
        return False
    if re.search(YES_WORDS, text, re.I):
        return True
    return None


FIELD_PATTERNS = [
    ("email", r"\be-?mail"),
    ("contact_method", r"\bcontact (method|me by|me via|by|via)|\bhow (you|to) contact|\bmethod\b"),
    ("phone", r"\bphone|\bnumber\b|\bmobile|\bcell\b|\btelephone"),
    ("name", r"\bname\b"),
    ("time", r"\btimes?\b|\bdays?\b|\bdates?\b|\bwhen\b|\bslot\b|\bmorning|\bafternoon|\bevening|"
             r"\b(mon|tues|wednes|thurs|fri|satur|sun)day"),
    ("reason", r"\breason|\bvisit\b|\bpurpose|\bconsultation|\btreatment|\bfollow"),
]


NOTHING_TO_CHANGE = re.compile(r"\bnothing\b|\bno changes?\b|\ball (good|fine|correct)\b", re.I)


def field_named(text: str) -> Optional[str]:
    return _first_match(text, FIELD_PATTERNS)


# --- Days and times ------------------------------------------------------------------
WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
    "weds": 2, "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4,
    "saturday": 5, "sat": 5, "sunday": 6, "sun": 6,
}
WEEKDAY_RE = re.compile(
    r"\b(?:(next|this|coming|last)\s+)?(" + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + r")s?\b"
)
PARTS_OF_DAY = [  # longest phrases first
    ("early morning", (time(9), time(10, 30))),
    ("late morning", (time(10, 30), time(12))),
    ("early afternoon", (time(12), time(14, 30))),
    ("late afternoon", (time(14, 30), time(17))),
    ("after work", (time(17), time(20))),
    ("lunchtime", (time(12), time(13))),
    ("lunch", (time(12), time(13))),
    ("midday", (time(12), time(13))),
    ("noon", (time(12), time(13))),
    ("morning", (time(9), time(12))),
    ("afternoon", (time(12), time(17))),
    ("evening", (time(17), time(20))),
]
HOUR = r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?"
FLEXIBLE = re.compile(
    r"\b(any\s*(week)?day|any ?time|whenever|asap|as soon as possible|soonest|earliest|"
    r"first available|flexible|weekdays?)\b"
)
ORDINAL_DAY = re.compile(r"\b(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)\b")
MONTH = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b")
FILLER = set(
    "i i'm im am can could come on at the please prefer preferably would like be is are good "
    "best great fine works work for me free available maybe perhaps ideally how about it that a "
    "an time day sometime around ok okay sure and or any suits suit book booking appointment of "
    "to".split()
)


def _hour(hour: str, minute: Optional[str], meridiem: Optional[str]) -> Optional[time]:
    """A clock time; without am/pm, 1-7 are afternoon hours (the clinic is closed at night)."""
    h, m = int(hour), int(minute or 0)
    if meridiem == "pm" and h < 12:
        h += 12
    elif meridiem == "am" and h == 12:
        h = 0
    elif meridiem is None and 1 <= h <= 7:
        h += 12
    if h > 23 or m > 59:
        return None
    return time(h, m)


def _plus_hour(t: time, hours: int = 1) -> time:
    return time(min(t.hour + hours, 23), t.minute)


def _time_window(text: str) -> Tuple[Optional[Tuple[time, time]], str]:
    """The time of day asked for, and the text without it."""
    rules: List[Tuple[str, Callable[[re.Match], Optional[Tuple[time, time]]]]] = [
        (rf"\b(?:between|from)\s+{HOUR}\s*(?:and|to|-|until|till)\s*{HOUR}",
         lambda m: _range(m.groups())),
        # "2-4pm", "10:30 to 12": a bare "3-5" could be dates, so am/pm or minutes are needed.
        (rf"\b{HOUR}\s*(?:-|to|until|till)\s*{HOUR}\b",
         lambda m: _range(m.groups()) if any(m.group(i) for i in (2, 3, 5, 6)) else None),
        (rf"\b(?:after|from|not before)\s+{HOUR}",
         lambda m: _after(_hour(*m.groups()))),
        (rf"\b(?:before|by|until|no later than)\s+{HOUR}",
         lambda m: _before(_hour(*m.groups()))),
        (rf"\b(?:at|around|about)\s+{HOUR}(?!\s*(?:st|nd|rd|th)\b)",
         lambda m: _at(_hour(*m.groups()))),
        (r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm)\b", lambda m: _at(_hour(*m.groups()))),
        (r"\b(\d{1,2}):(\d{2})()\b", lambda m: _at(_hour(m.group(1), m.group(2), None))),
    ]
    for pattern, make in rules:
        match = re.search(pattern, text)
        window = make(match) if match else None
        if window:
            return window, text[: match.start()] + " " + text[match.end():]
    for phrase, window in PARTS_OF_DAY:
        match = re.search(rf"\b{phrase}s?\b", text)
        if match:
            return window, text[: match.start()] + " " + text[match.end():]
    return None, text


def _range(groups: Sequence[Optional[str]]) -> Optional[Tuple[time, time]]:
    h1, m1, p1, h2, m2, p2 = groups
    start, end = _hour(h1, m1, p1 or p2), _hour(h2, m2, p2)
    return (start, end) if start and end and start < end else None


def _after(t: Optional[time]) -> Optional[Tuple[time, time]]:
    return (t, max(CLOSING, _plus_hour(t))) if t else None


def _before(t: Optional[time]) -> Optional[Tuple[time, time]]:
    if not t:
        return None
    start = OPENING if t > OPENING else time(max(t.hour - 1, 0), t.minute)
    return start, t


def _at(t: Optional[time]) -> Optional[Tuple[time, time]]:
    return (t, _plus_hour(t)) if t else None


def _next_weekday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


@dataclass(frozen=True)
class _Days:
    first: date
    last: date


def _days(text: str, today: date, region: str) -> Union[_Days, Invalid, None]:
    """The day (or days) asked for; None when the text names none."""
    if re.search(r"\byesterday\b|\blast week\b", text):
        return _Days(today - timedelta(days=1), today - timedelta(days=1))
    if re.search(r"\bday after tomorrow\b", text):
        return _Days(today + timedelta(days=2), today + timedelta(days=2))
    if re.search(r"\b(tomorrow|tmrw|tmr|tomorow|tommorow|tommorrow)\b", text):
        return _Days(today + timedelta(days=1), today + timedelta(days=1))
    if re.search(r"\btoday\b", text):
        return _Days(today, today)
    weekday = WEEKDAY_RE.search(text)
    next_monday = today + timedelta(days=7 - today.weekday())
    if re.search(r"\bnext week\b", text):
        if weekday:  # "Tuesday next week"
            day = next_monday + timedelta(days=WEEKDAYS[weekday.group(2)])
            return _Days(day, day)
        return _Days(next_monday, next_monday + timedelta(days=4))
    if weekday:
        qualifier, name = weekday.groups()
        ahead = (WEEKDAYS[name] - today.weekday()) % 7
        if qualifier == "last":
            ahead -= 7
        elif qualifier == "next" and ahead == 0:
            ahead = 7
        return _Days(today + timedelta(days=ahead), today + timedelta(days=ahead))
    if FLEXIBLE.search(text):
        day = _next_weekday(today + timedelta(days=1))
        return _Days(day, day)
    text = re.sub(r"\bmay (i|we)\b", " ", text)
    ordinal = ORDINAL_DAY.search(text)
    if ordinal and not MONTH.search(text):
        return _day_of_month(int(ordinal.group(1)), today)
    return _explicit_date(text, today, region)


def _day_of_month(number: int, today: date) -> Union[_Days, Invalid]:
    """The next date with this day of the month, today included."""
    year, month = today.year, today.month
    for _ in range(3):
        try:
            day = date(year, month, number)
        except ValueError:
            day = None
        if day and day >= today:
            return _Days(day, day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return Invalid(f"There is no day {number} in the coming months. Please choose another day.", attempt=True)


def _explicit_date(text: str, today: date, region: str) -> Optional[_Days]:
    words = [w for w in text.split() if w not in FILLER]
    if not words:
        return None
    parsed = dateparser.parse(
        " ".join(words),
        languages=["en"],
        settings={
            "PREFER_DATES_FROM": "current_period",
            "RELATIVE_BASE": datetime.combine(today, time(12)),
            "DATE_ORDER": "MDY" if region in {"US", "CA", "PH"} else "DMY",
            "REQUIRE_PARTS": ["day"],
        },
    )
    if parsed is None:
        return None
    day = parsed.date()
    # "3 Mar" in November means next March; "20 Nov" on 25 Nov is a past date.
    if day < today and not re.search(r"\b20\d\d\b", text) and (today - day).days > 90:
        day = _next_year(day)
    return _Days(day, day)


def _next_year(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return date(day.year + 1, 3, 1)


def parse_period(text: str, now: datetime, region: str = "US") -> Union[Dict[str, Any], Invalid]:
    """Free text such as "next Tuesday afternoon" -> a requested period in now's time zone.

    A part of day maps to its hours (afternoon 12:00-17:00), a bare day to the
    opening hours (09:00-17:00); "any weekday morning" to the next weekday morning.
    """
    normal = text.lower().replace("’", "'").replace("a.m.", "am").replace("p.m.", "pm")
    normal = re.sub(r"\bthis (morning|afternoon|evening)\b", r"today \1", normal)
    normal = re.sub(r"\btonight\b", "today evening", normal)
    normal = " ".join(re.sub(r"[,!?;]|\.(\s|$)", " ", normal).split())
    window, rest = _time_window(normal)
    today = now.date()
    days = _days(rest, today, region)
    if isinstance(days, Invalid):
        return days  # an impossible day of the month
    if days is None:
        if window is None:
            return Invalid(
                "Sorry, I couldn't work out a day from that. Please give a day and, if you like, "
                f"a time of day, for example {EXAMPLES}."
            )
        first = _next_weekday(today + timedelta(days=1))
        days = _Days(first, first)
    opening, closing = window or (OPENING, CLOSING)
    period = Period(
        datetime.combine(days.first, opening, tzinfo=now.tzinfo),
        datetime.combine(days.last, closing, tzinfo=now.tzinfo),
    )
    if period.end <= now:
        return Invalid(f"{period.human()} is in the past. Please choose a day and time from now on.", attempt=True)
    if (days.first - today).days > MAX_DAYS_AHEAD:
        return Invalid("That is more than a year ahead. Please choose a day within the next 12 months.", attempt=True)
    return {TIME: text.strip(), START: period.start.isoformat(), END: period.end.isoformat()}


def clinic_now() -> datetime:
    return datetime.now(ZoneInfo(clinic_details().timezone))


def stored_period(slots: Dict[str, Any]) -> Optional[Period]:
    if not slots.get(START) or not slots.get(END):
        return None
    return Period(datetime.fromisoformat(slots[START]), datetime.fromisoformat(slots[END]))


# --- The forms -----------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What answer parsing needs besides the text."""

    intent: Optional[str]
    region: str
    now: datetime
    own_number: Optional[str]
    changeable: Sequence[str] = tuple(FIELDS)


def parse_answer(slot: str, text: str, ctx: Context) -> Parsed:
    """Read `text` as the answer to the question for `slot`."""
    if slot == NAME:
        return parse_name(text)
    if slot == METHOD:
        return parse_method(text)
    if slot == PHONE:
        return parse_phone(text, ctx.region, ctx.own_number)
    if slot == EMAIL:
        return parse_email(text)
    if slot == TIME:
        return parse_period(text, ctx.now, ctx.region)
    if slot == REASON:
        return parse_reason(text)
    if slot in (CONSENT, CONFIRMED):
        answer = yes_or_no(text, ctx.intent)
        if answer is None:
            return Invalid(
                "Please answer yes or no: do you agree to be contacted about this request?"
                if slot == CONSENT else "Please choose Confirm, Change something or Cancel."
            )
        if slot == CONSENT:
            return {CONSENT: answer, CONSENT_VER: CONSENT_VERSION if answer else None}
        # "No" to the summary means something needs changing.
        return {CONFIRMED: True} if answer else {PENDING: True}
    if slot == FIELD:
        field = field_named(text)
        if field is None and (yes_or_no(text, ctx.intent) is not None or NOTHING_TO_CHANGE.search(text)):
            return {PENDING: False}  # nothing to change after all: back to the summary
        if field is None:
            labels = ", ".join(FIELDS[f][1].lower() for f in ctx.changeable)
            return Invalid(f"Please choose what to change: {labels}.")
        return {FIELD: field}
    raise ValueError(f"no parser for slot {slot}")


def latest_intent(tracker: Tracker) -> Optional[str]:
    return (tracker.latest_message.get("intent") or {}).get("name")


def is_new_message(tracker: Tracker, form: str) -> bool:
    """True when the form runs right after a patient message (not on its way back
    after a rule answered that message, and not while being activated)."""
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            return True
        if kind == "action_execution_rejected":  # the form already stepped aside once
            return False
        if kind == "action" and event.get("name") not in (form, "action_listen"):
            return False
    return False


class RequestFormValidation(FormValidationAction, abc.ABC):
    """Shared by the booking and call-back forms; see the module docstring."""

    # Fields this form lets the patient change.
    changeable: Sequence[str] = ()

    @abc.abstractmethod
    def needed_slots(self, slots: Dict[str, Any]) -> List[str]:
        """The slots this form asks for, in order, given what is known so far."""

    def staff_offer(self) -> Tuple[str, Buttons]:
        details = clinic_details()
        return (
            "This seems to be getting stuck, sorry. If you prefer, our staff can call you back, "
            f"or you can call the clinic at {details.phone} ({details.hours}).",
            [{"title": "Talk to staff", "payload": "/human_handoff"},
             {"title": "Cancel", "payload": "/cancel"}],
        )

    def next_slot(self, slots: Dict[str, Any]) -> Optional[str]:
        if slots.get(CONSENT) is False:
            return None  # declined: the form ends and nothing is stored
        if slots.get(PENDING):
            return FIELD  # "change something": ask what, before anything else
        return next((s for s in self.needed_slots(slots) if slots.get(s) is None), None)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        slots = dict(tracker.slots)
        updates: Dict[str, Any] = {}
        if is_new_message(tracker, self.form_name()):
            handled = self.read_message(dispatcher, tracker, slots)
            if handled is None:
                return []  # not an answer: the form rejects, rules take the message
            updates = handled
            slots.update(updates)
        events: List[EventType] = [SlotSet(key, value) for key, value in updates.items()]
        return events + [SlotSet(REQUESTED_SLOT, self.next_slot(slots))]

    def context(self, tracker: Tracker) -> Context:
        details = clinic_details()
        return Context(
            intent=latest_intent(tracker),
            region=details.default_region,
            now=clinic_now(),
            own_number=sender_phone(tracker.get_latest_input_channel(), tracker.sender_id,
                                    details.default_region),
            changeable=self.changeable,
        )

    def read_message(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, slots: Dict[str, Any]
    ) -> Optional[Dict[str, Any]]:
        """Slot updates for the patient's latest message, or None if it answers nothing."""
        ctx = self.context(tracker)
        text = tracker.latest_message.get("text") or ""
        requested = slots.get(REQUESTED_SLOT)
        if requested not in (None, FIELD) and requested not in self.needed_slots(slots):
            # Rasa picked the slot itself (this action was unreachable): the patient
            # is answering the question this form would have asked.
            requested = self.next_slot(slots)
        if ctx.intent == "medical_emergency" or (ctx.intent == "cancel" and CANCEL_WORDS.search(text)):
            return None
        if requested == CONFIRMED and wants_change(text, ctx.intent) and field_named(text):
            return self.change(text, ctx)  # "no, change my phone number" at the summary
        parsed = parse_answer(requested, text, ctx) if requested else None
        if isinstance(parsed, dict):
            return self.accept(dispatcher, requested, parsed, slots, text, ctx)
        if requested != FIELD and wants_change(text, ctx.intent):
            return self.change(text, ctx)
        if parsed is None or (ctx.intent in NOT_ANSWERS and not parsed.attempt):
            return None
        return self.miss(dispatcher, requested, parsed, slots)

    def accept(
        self, dispatcher: CollectingDispatcher, requested: str, parsed: Dict[str, Any],
        slots: Dict[str, Any], text: str, ctx: Context,
    ) -> Dict[str, Any]:
        if requested == FIELD:
            if FIELD not in parsed:
                return {**parsed, MISSES: None}
            if parsed[FIELD] not in self.changeable:
                labels = ", ".join(FIELDS[f][1].lower() for f in self.changeable)
                return self.miss(dispatcher, FIELD, Invalid(f"I can change these: {labels}."), slots)
            return self.change(text, ctx, field=parsed[FIELD])
        if requested == CONFIRMED and parsed.get(PENDING):
            return {PENDING: True, FIELD: None, MISSES: None}
        editing = slots.get(FIELD)
        done_editing = {FIELD: None} if editing and FIELD_SLOT[editing] == requested else {}
        return {**parsed, **done_editing, MISSES: None}

    def change(self, text: str, ctx: Context, field: Optional[str] = None) -> Dict[str, Any]:
        """Clear the field to change, or take its new value from the same message."""
        field = field or field_named(text)
        if field not in self.changeable:
            return {PENDING: True, FIELD: None, CONFIRMED: None, MISSES: None}
        updates: Dict[str, Any] = {slot: None for slot in FIELDS[field][0]}
        updates.update({PENDING: False, CONFIRMED: None, MISSES: None, FIELD: field})
        new_value = parse_answer(FIELD_SLOT[field], _new_value_text(text, field), ctx)
        if isinstance(new_value, dict):
            updates.update({**new_value, FIELD: None})
        return updates

    def miss(
        self, dispatcher: CollectingDispatcher, slot: str, invalid: Invalid, slots: Dict[str, Any]
    ) -> Dict[str, Any]:
        """Say why the answer can't be used; after three misses offer staff as well."""
        previous = slots.get(MISSES) or {}
        count = previous.get("count", 0) + 1 if previous.get("slot") == slot else 1
        dispatcher.utter_message(text=invalid.message)
        if count >= MAX_MISSES:
            text, buttons = self.staff_offer()
            dispatcher.utter_message(text=text, buttons=buttons)
        return {slot: None, MISSES: {"slot": slot, "count": count}}


CHANGE_REQUEST = re.compile(r"\b(change|correct|update|fix|edit)\s+(my|the|your|that)\b", re.I)


def wants_change(text: str, intent: Optional[str]) -> bool:
    """"change my phone number" (the classifier's change_field, or the words themselves)."""
    return intent == "change_field" or bool(CHANGE_REQUEST.search(text) and field_named(text))


def _new_value_text(text: str, field: str) -> str:
    """'change my name to Jane Doe' -> 'Jane Doe'; phone numbers and emails are found anywhere."""
    if field in ("phone", "email"):
        return text
    match = re.search(r"\b(?:to|should be)\s+(.+)$", text, re.I)
    return match.group(1) if match else ""


class ValidateBookingForm(RequestFormValidation):
    changeable = tuple(FIELDS)

    def name(self) -> str:
        return "validate_booking_form"

    def needed_slots(self, slots: Dict[str, Any]) -> List[str]:
        method, editing = slots.get(METHOD), slots.get(FIELD)
        needed = [NAME, METHOD]
        if method in ("phone", "sms") or editing == "phone":
            needed.append(PHONE)
        if method == "email" or editing == "email":
            needed.append(EMAIL)
        return needed + [TIME, REASON, CONSENT, CONFIRMED]


class ValidateCallbackForm(RequestFormValidation):
    changeable = ("name", "phone")

    def name(self) -> str:
        return "validate_callback_form"

    def needed_slots(self, slots: Dict[str, Any]) -> List[str]:
        return [NAME, PHONE, CONSENT]

    def staff_offer(self) -> Tuple[str, Buttons]:
        details = clinic_details()
        return (
            "This seems to be getting stuck, sorry. You can call the clinic directly at "
            f"{details.phone} ({details.hours}), or type \"cancel request\" to stop.",
            [{"title": "Cancel", "payload": "/cancel"}],
        )


# --- Asking the questions ------------------------------------------------------------


def question_text(slot: str) -> str:
    return QUESTIONS[slot].format(**clinic_details().as_template_values())


class AskForSlot(Action, abc.ABC):
    """Asks one form question (the form calls action_ask_<slot>)."""

    @property
    @abc.abstractmethod
    def slot(self) -> str:
        """The slot this question fills."""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    def message(self, tracker: Tracker) -> Tuple[str, Optional[Buttons]]:
        return question_text(self.slot), BUTTONS.get(self.slot)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        text, buttons = self.message(tracker)
        dispatcher.utter_message(text=text, buttons=buttons or [])
        return []


# One ask action per question with a fixed text; the action server registers
# every concrete Action subclass, and this list keeps the classes alive.
FIXED_QUESTIONS = [
    type(f"ActionAsk_{slot}", (AskForSlot,), {"slot": slot, "__module__": __name__})
    for slot in (NAME, METHOD, EMAIL, TIME, REASON, CONSENT)
]


class ActionAskFieldToChange(AskForSlot):
    """Offers only the fields the active form has."""

    slot = FIELD

    def message(self, tracker: Tracker) -> Tuple[str, Optional[Buttons]]:
        fields = ValidateCallbackForm.changeable if tracker.active_loop_name == "callback_form" else FIELDS
        return question_text(FIELD), [
            {"title": FIELDS[f][1], "payload": f"Change {FIELDS[f][1].lower()}"} for f in fields
        ]


class ActionAskPatientPhone(AskForSlot):
    """On SMS/WhatsApp, offers the number the patient writes from."""

    slot = PHONE

    def message(self, tracker: Tracker) -> Tuple[str, Optional[Buttons]]:
        own = sender_phone(tracker.get_latest_input_channel(), tracker.sender_id,
                           clinic_details().default_region)
        if own is None:
            return question_text(PHONE), None
        return PHONE_FROM_SENDER.format(number=display_phone(own)), [
            {"title": "Use this number", "payload": own}
        ]


def summary_lines(slots: Dict[str, Any]) -> List[str]:
    lines = [f"Name: {slots.get(NAME)}"]
    if slots.get(METHOD):
        lines.append(f"Contact by: {CONTACT_METHODS[slots[METHOD]]}")
    if slots.get(PHONE):
        lines.append(f"Phone: {display_phone(slots[PHONE])}")
    if slots.get(EMAIL):
        lines.append(f"Email: {slots[EMAIL]}")
    period = stored_period(slots)
    if period:
        lines.append(f"When: {period.human()} (you said \"{slots.get(TIME)}\")")
    if slots.get(REASON):
        lines.append(f"Reason: {REASONS[slots[REASON]]}")
    return lines


class ActionAskBookingConfirmed(AskForSlot):
    """The summary of the booking request, to confirm, change or cancel."""

    slot = CONFIRMED

    def message(self, tracker: Tracker) -> Tuple[str, Optional[Buttons]]:
        lines = "\n".join(f"- {line}" for line in summary_lines(tracker.slots))
        return f"{SUMMARY_INTRO}\n{lines}\n{SUMMARY_QUESTION}", BUTTONS[CONFIRMED]

"""Days and times as patients say them -> a requested period in the clinic's time zone.

How words are read (one documented way each):

* a part of day maps to hours: morning 09:00-12:00, afternoon 12:00-17:00, ...;
  a bare day to the opening hours;
* a weekday is the next one after today ("Wednesday" and "next Wednesday" on a
  Monday are both the coming Wednesday; on a Wednesday, "next Wednesday" is in
  7 days); "Thursday next week" is the Thursday of next week; a day of the month
  alone ("the 14th") is the next such date; a date earlier in the year than
  today (by over 90 days) means next year;
* no day at all ("whenever", "mornings", "any weekday morning", "asap", "Mondays")
  is a flexible preference: the days and hours that suit, over the next
  FLEXIBLE_WEEKS weeks from the next opening day; never "today";
* impossible dates (31 April), the past, closed days and hours outside
  OPENING_HOURS are refused with the reason.

English and Spanish are read in every conversation (patients mix them: "el friday
a las 3"): each rule lists both languages' words, read without accents ("miercoles",
"sabado", "manana" as often typed on phones). Spanish reads "mañana" as tomorrow
unless it follows an article ("por la mañana", "las mañanas"), "de la tarde" after
an hour as pm, and "los martes" as a preference. The conversation's language
(`language`, en | es) decides only how dates are shown back (Babel's month and day
names) and, for Spanish, that 3/12 is day/month whatever the region.

No Rasa here; actions/forms.py stores a TimeRequest in slots.
"""
from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import dateparser
from babel.dates import format_date, get_day_names, get_month_names
from babel.lists import format_list

from actions.parsers import Invalid
from clinic.settings import clinic_details



def _opening_hours() -> Dict[int, Tuple[time, time]]:
    """The clinic's opening hours by weekday (Monday = 0), from CLINIC_OPENING_HOURS:
    first opening to last closing of each day (a lunch break is not a reason to refuse a
    preferred time; staff confirm the exact slot)."""
    weekly = clinic_details().opening_hours.weekly
    return {day: (spans[0][0], spans[-1][1]) for day, spans in weekly.items()}


OPENING_HOURS: Dict[int, Tuple[time, time]] = _opening_hours()
MAX_DAYS_AHEAD = 365
FLEXIBLE_WEEKS = 2  # how far ahead a flexible preference reaches

Window = Tuple[time, time]

# The `time_flexible` slot's weekday keys: storage, the same whatever the process locale.
WEEKDAY_KEYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# --- Showing dates in the conversation's language (Babel's CLDR names, never strftime) ----------

# A day as the patient reads it back: "Tue 1 Dec" / "martes 1 de diciembre".
DAY_PATTERNS = {"en": "EEE d MMM", "es": "EEEE d 'de' MMMM"}
# Weekdays of a flexible preference: "Mon-Fri" / "lunes-viernes".
WEEKDAY_WIDTHS = {"en": "abbreviated", "es": "wide"}


def locale_of(language: Optional[str]) -> str:
    """The Babel locale for the conversation's `language` slot (English when unset)."""
    return language if language in DAY_PATTERNS else "en"


def day_label(day: date, language: Optional[str] = "en") -> str:
    locale = locale_of(language)
    return format_date(day, DAY_PATTERNS[locale], locale=locale)


def weekday_label(weekday: int, language: Optional[str] = "en", width: Optional[str] = None) -> str:
    locale = locale_of(language)
    return get_day_names(width or WEEKDAY_WIDTHS[locale], locale=locale)[weekday]


def month_label(month: int, language: Optional[str] = "en") -> str:
    return get_month_names("wide", locale=locale_of(language))[month]


def clock_span(start: time, end: time) -> str:
    """'09:00-12:00': 24-hour clock, read the same in both languages."""
    return f"{start:%H:%M}-{end:%H:%M}"


@dataclass(frozen=True)
class Flexible:
    """A recurring preference: these weekdays, between these hours."""

    weekdays: Tuple[int, ...]
    start: time
    end: time

    def as_slot(self) -> Dict[str, object]:
        """JSON for the `time_flexible` slot (and the FHIR comment or requestedPeriod spans)."""
        return {"weekdays": [WEEKDAY_KEYS[d] for d in self.weekdays],
                "from": f"{self.start:%H:%M}", "to": f"{self.end:%H:%M}"}

    @classmethod
    def from_slot(cls, value: Dict[str, object]) -> "Flexible":
        return cls(tuple(WEEKDAY_KEYS.index(str(d)) for d in value["weekdays"]),  # type: ignore[union-attr]
                   time.fromisoformat(str(value["from"])), time.fromisoformat(str(value["to"])))

    def human(self, language: Optional[str] = "en") -> str:
        """'Mon-Fri 09:00-12:00' or 'Mon, Wed 09:00-17:00' ('lunes-viernes 09:00-12:00')."""
        days = list(self.weekdays)
        if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
            named = f"{weekday_label(days[0], language)}-{weekday_label(days[-1], language)}"
        else:
            named = ", ".join(weekday_label(d, language) for d in days)
        return f"{named} {clock_span(self.start, self.end)}"


@dataclass(frozen=True)
class TimeRequest:
    """What the patient asked for: a period (and, if flexible, the recurring preference)."""

    text: str
    start: datetime
    end: datetime
    flexible: Optional[Flexible] = None

    def human(self, language: Optional[str] = "en") -> str:
        """'Tue 1 Dec, 12:00-17:00' ('martes 1 de diciembre, 12:00-17:00'), a range of days,
        or the flexible preference and its span, in the conversation's language."""
        s, e = self.start, self.end
        first, last = day_label(s.date(), language), day_label(e.date(), language)
        if self.flexible:
            return f"{self.flexible.human(language)}, {first} - {last}"
        if s.date() == e.date():
            return f"{first}, {clock_span(s.time(), e.time())}"
        return f"{first} {s:%H:%M} - {last} {e:%H:%M}"


def _plain(text: str) -> str:
    """Without accents: "miércoles" -> "miercoles", "mañana" -> "manana"."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


# --- Reading the words -----------------------------------------------------------------------
# Every pattern below is matched against normalise()d text: lower case, without accents.

WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
    "weds": 2, "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4,
    "saturday": 5, "sat": 5, "sunday": 6, "sun": 6,
    "lunes": 0, "martes": 1, "miercoles": 2, "jueves": 3, "viernes": 4, "sabado": 5, "domingo": 6,
}
# "next Tuesday", "Mondays", "el próximo martes", "el martes que viene", "los martes".
WEEKDAY_RE = re.compile(
    r"\b(?:(next|this|coming|last|proximo|este|todos los|los|cada)\s+)?("
    + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + r")(s?)(?:\s+(que viene|proximo|pasado)\b)?\b"
)
NEXT_QUALIFIERS = {"next", "coming", "proximo", "que viene"}
LAST_QUALIFIERS = {"last", "pasado"}
EVERY_QUALIFIERS = {"todos los", "los", "cada"}  # Spanish plurals of lunes-viernes look singular
NEXT_WEEK = re.compile(r"\bnext week\b|\b(semana que viene|proxima semana|semana proxima)\b")

# Spanish parts of the day take an article ("por la mañana", "en la tarde", "las mañanas"):
# "mañana" alone is tomorrow.
ES_PART = r"(?:(?:por|en|de|a|durante|para)\s+)?las?\s+"
PARTS_OF_DAY: List[Tuple[str, Window]] = [  # longest phrases first, in each language
    # Named times when the clinic is closed: read as what they say, so they are refused
    # with the opening hours rather than dropped (and the day's hours stored).
    ("middle of the night", (time(0), time(5))),
    ("small hours", (time(1), time(5))),
    ("early hours", (time(1), time(5))),
    ("late at night", (time(22), time(23, 59))),
    ("late night", (time(22), time(23, 59))),
    ("overnight", (time(0), time(6))),
    ("midnight", (time(0), time(1))),
    ("dawn", (time(5), time(7))),
    ("sunrise", (time(5), time(7))),
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
    ("night", (time(18), time(22))),
    # Spanish
    (r"(?:a\s+)?(?:la\s+)?medianoche", (time(0), time(1))),
    (rf"{ES_PART}madrugada|de madrugada", (time(1), time(5))),
    (r"(?:muy\s+)?tarde\s+(?:en|por)\s+la\s+noche", (time(22), time(23, 59))),
    (r"(?:al\s+)?amanecer", (time(5), time(7))),
    (r"(?:a\s+)?primera\s+hora\s+de\s+la\s+tarde|temprano\s+(?:en|por)\s+la\s+tarde", (time(12), time(14, 30))),
    (r"(?:a\s+)?ultima\s+hora\s+de\s+la\s+tarde|(?:al\s+)?final\s+de\s+la\s+tarde", (time(14, 30), time(17))),
    (rf"(?:a\s+)?primera\s+hora(?:\s+de\s+la\s+manana)?|temprano\s+(?:en|por)\s+la\s+manana|"
     rf"{ES_PART}manana\s+temprano|temprano", (time(9), time(10, 30))),
    (r"(?:a\s+)?media\s+manana|(?:al\s+)?final\s+de\s+la\s+manana", (time(10, 30), time(12))),
    (r"(?:despues|saliendo|al\s+salir)\s+del\s+trabajo", (time(17), time(20))),
    (r"(?:a\s+)?(?:la\s+)?hora\s+(?:del|de\s+la|de)\s+(?:almuerzo|comida)|(?:al\s+|a\s+)?mediodia",
     (time(12), time(13))),
    (r"despues\s+(?:del\s+almuerzo|de\s+(?:la\s+)?comida|de\s+comer)", (time(13), time(17))),
    (rf"{ES_PART}manana|mananas", (time(9), time(12))),
    (rf"{ES_PART}tarde|tardes", (time(12), time(17))),
    (rf"{ES_PART}noche|de noche|noches", (time(18), time(22))),
]
HOUR = r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?"
ES_ART = r"(?:las?\s+)?"  # "a las 3", "a la 1"
FLEXIBLE = re.compile(
    r"\b(any\s*(week)?day|any ?time|whenever|asap|as soon as possible|soonest|earliest|"
    r"first available|flexible|weekdays?|don'?t mind|no preference|whatever suits|"
    r"cualquier (dia|hora|momento)|cuando sea|cuando (quieran|puedan|pueda|gusten|tengan|haya)|"
    r"lo (antes|mas pronto) posible|cuanto antes|lo que sea|me da igual|no me importa|"
    r"sin preferencia|entre semana|dias (de semana|habiles|laborables)|la primera (cita )?disponible|"
    r"lo primero (que haya|disponible))\b"
)
WEEKEND = re.compile(r"\b(weekends?|saturdays?|sundays?|fin(es)? de semana|sabados?|domingos?)\b")
ORDINAL_DAY = re.compile(
    r"\b(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)\b|"
    # "el 14", "el día 8", "martes 8": a day of the month (not "el 14 de ...", a time or a count).
    # (In English "Monday 10" may be a time: only "Monday the 10th" is a date.)
    r"\b(?:el\s+(?:dia\s+)?|dia\s+|(?:lunes|martes|miercoles|jueves|viernes|sabado|domingo)\s+)(\d{1,2})\b"
    r"(?!\s*(?:[:/.]\d|am\b|pm\b|de\b|semanas?\b|dias?\b))"
)
# Month names in English (wide and abbreviated) and Spanish (wide, and the abbreviations
# that are not English words or Spanish days: not "ago", "mar").
MONTHS = {_plain(name.lower()): number for locale, width in (("en", "wide"), ("en", "abbreviated"),
                                                                ("es", "wide"))
          for number, name in get_month_names(width, locale=locale).items()}
MONTHS.update({"sept": 9, "setiembre": 9, "ene": 1, "abr": 4, "dic": 12})
MONTH_NAME = r"(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
MONTH = re.compile(rf"\b{MONTH_NAME}\b")
DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+|de\s+)?{MONTH_NAME}\b")
MONTH_DAY = re.compile(rf"\b{MONTH_NAME}\s+(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\b")
NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2,4}))?\b")
MONTH_FIRST_REGIONS = {"US", "CA", "PH"}
FILLER = set(
    "i i'm im am can could come on at the please prefer preferably would like be is are good "
    "best great fine works work for me free available maybe perhaps ideally how about it that a "
    "an time day sometime around ok okay sure and or any suits suit book booking appointment of "
    "to "
    "el la los las puedo podria quiero quisiera me gustaria mejor prefiero por favor que sea para "
    "mi cita va viene bien conviene seria ir venir si claro bueno pues y o".split()
)
NUMBER_WORDS = {"un": "1", "una": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5",
                "seis": "6", "siete": "7", "ocho": "8", "nueve": "9", "diez": "10"}


def normalise(text: str) -> str:
    normal = _plain(text.lower()).replace("’", "'")
    normal = re.sub(r"\b([ap])\.\s?m\.", r"\1m", normal)  # "a.m.", "p. m." (Spanish spacing)
    # Spanish clock phrases: "3 y media" -> 3:30, "a las 3 de la tarde" -> 3 pm.
    normal = re.sub(r"\b(\d{1,2})\s+y\s+media\b", r"\1:30", normal)
    normal = re.sub(r"\b(\d{1,2})\s+y\s+cuarto\b", r"\1:15", normal)
    normal = re.sub(r"(\d)\s*de\s+la\s+(?:manana|madrugada)\b", r"\1 am", normal)
    normal = re.sub(r"(\d)\s*de\s+la\s+(?:tarde|noche)\b", r"\1 pm", normal)
    normal = re.sub(r"\bthis (morning|afternoon|evening)\b", r"today \1", normal)
    normal = re.sub(r"\btonight\b", "today evening", normal)
    normal = re.sub(r"\besta (manana|tarde|noche)\b", r"hoy por la \1", normal)
    normal = re.sub(r"\b(" + "|".join(NUMBER_WORDS) + r")\s+(semanas?|dias?|meses)\b",
                    lambda m: f"{NUMBER_WORDS[m.group(1)]} {m.group(2)}", normal)
    return " ".join(re.sub(r"[,!?;¿¡]|\.(\s|$)", " ", normal).split())


def _hour(hour: str, minute: Optional[str], meridiem: Optional[str]) -> Optional[time]:
    """A clock time; without am/pm, 1-7 are afternoon hours (nobody books at 3 am)."""
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


def _range(groups: Sequence[Optional[str]]) -> Optional[Window]:
    h1, m1, p1, h2, m2, p2 = groups
    start, end = _hour(h1, m1, p1 or p2), _hour(h2, m2, p2)
    return (start, end) if start and end and start < end else None


def _after(t: Optional[time]) -> Optional[Window]:
    return (t, max(time(17), _plus_hour(t))) if t else None


def _before(t: Optional[time]) -> Optional[Window]:
    if not t:
        return None
    start = time(9) if t > time(9) else time(max(t.hour - 1, 0), t.minute)
    return start, t


def _at(t: Optional[time]) -> Optional[Window]:
    return (t, _plus_hour(t)) if t else None


NOT_A_CLOCK = r"(?!\s*(?:semanas?|dias?|meses)\b)"  # "en las 2 semanas" is not 2 o'clock
WINDOW_RULES: List[Tuple[str, Callable[[re.Match], Optional[Window]]]] = [
    (rf"\b(?:between|from|entre|de|desde)\s+{ES_ART}{HOUR}\s*(?:and|to|-|until|till|y|a|hasta)\s*{ES_ART}{HOUR}",
     lambda m: _range(m.groups())),
    # "2-4pm", "10:30 to 12": a bare "3-5" could be dates, so am/pm or minutes are needed.
    (rf"\b{HOUR}\s*(?:-|to|until|till|a|hasta)\s*{ES_ART}{HOUR}\b",
     lambda m: _range(m.groups()) if any(m.group(i) for i in (2, 3, 5, 6)) else None),
    (rf"\b(?:after|from|not before|despues de|a partir de|desde|no antes de)\s+{ES_ART}{HOUR}",
     lambda m: _after(_hour(*m.groups()))),
    (rf"\b(?:before|by|until|no later than|antes de|hasta|a mas tardar a)\s+{ES_ART}{HOUR}",
     lambda m: _before(_hour(*m.groups()))),
    (rf"\b(?:at|around|about)\s+{HOUR}(?!\s*(?:st|nd|rd|th)\b)", lambda m: _at(_hour(*m.groups()))),
    (rf"\b(?:(?:a|sobre|hacia|como a|alrededor de|a eso de|tipo)\s+)?las?\s+{HOUR}{NOT_A_CLOCK}",
     lambda m: _at(_hour(*m.groups()))),
    (r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm)\b", lambda m: _at(_hour(*m.groups()))),
    (r"\b(\d{1,2}):(\d{2})()\b", lambda m: _at(_hour(m.group(1), m.group(2), None))),
]


def time_window(text: str) -> Tuple[Optional[Window], str]:
    """The time of day asked for, and the text without it."""
    for pattern, make in WINDOW_RULES:
        match = re.search(pattern, text)
        window = make(match) if match else None
        if window:
            return window, text[: match.start()] + " " + text[match.end():]
    for phrase, window in PARTS_OF_DAY:
        match = re.search(rf"\b(?:{phrase})s?\b", text)
        if match:
            return window, text[: match.start()] + " " + text[match.end():]
    return None, text


@dataclass(frozen=True)
class Days:
    first: date
    last: date


def _day_first(region: str, language: Optional[str]) -> bool:
    """3/12 is 3 December in Spanish, and outside the regions that write the month first."""
    return language == "es" or region not in MONTH_FIRST_REGIONS


def impossible_date(text: str, region: str, language: Optional[str] = "en") -> Optional[Invalid]:
    """"February 31st", "31 April", "31/4", "el 31 de febrero": a date no calendar has, with the reason."""
    candidates: List[Tuple[int, int]] = []
    for match in DAY_MONTH.finditer(text):
        candidates.append((int(match.group(1)), MONTHS[match.group(2)]))
    for match in MONTH_DAY.finditer(text):
        candidates.append((int(match.group(2)), MONTHS[match.group(1)]))
    for match in NUMERIC_DATE.finditer(text):
        a, b = int(match.group(1)), int(match.group(2))
        candidates.append((a, b) if _day_first(region, language) else (b, a))
    for day, month in candidates:
        if not 1 <= month <= 12:
            continue
        longest = calendar.monthrange(2024, month)[1]  # 2024: a leap year, so 29 February exists
        if day < 1 or day > longest:
            return Invalid("date_impossible", {"day": str(day), "month": month_label(month, language),
                                               "days_in_month": str(longest)}, attempt=True)
    return None


def is_preference(match: re.Match) -> bool:
    """"Mondays", "los martes", "cada jueves": a recurring day rather than one date."""
    qualifier, _, plural, _ = match.groups()
    return qualifier in EVERY_QUALIFIERS or bool(plural and not qualifier)


def _weekday_days(match: re.Match, text: str, today: date) -> Days:
    qualifier = match.group(1) or match.group(4)
    weekday = WEEKDAYS[match.group(2)]
    next_monday = today + timedelta(days=7 - today.weekday())
    if NEXT_WEEK.search(text):  # "Tuesday next week", "el martes de la semana que viene"
        day = next_monday + timedelta(days=weekday)
        return Days(day, day)
    ahead = (weekday - today.weekday()) % 7
    if qualifier in LAST_QUALIFIERS:
        ahead -= 7
    elif ahead == 0 and qualifier in NEXT_QUALIFIERS:
        ahead = 7
    return Days(today + timedelta(days=ahead), today + timedelta(days=ahead))


def _one_day(day: date) -> Days:
    return Days(day, day)


def named_days(text: str, today: date, region: str, language: Optional[str] = "en"
               ) -> Union[Days, Invalid, None]:
    """The day (or days) asked for; None when the text names none."""
    if re.search(r"\b(yesterday|ayer)\b|\blast week\b|\bsemana pasada\b", text):
        return _one_day(today - timedelta(days=1))
    if re.search(r"\b(anteayer|antier)\b", text):
        return _one_day(today - timedelta(days=2))
    if re.search(r"\bday after tomorrow\b|\bpasado manana\b", text):
        return _one_day(today + timedelta(days=2))
    if re.search(r"\b(tomorrow|tmrw|tmr|tomorow|tommorow|tommorrow|manana)\b", text):
        return _one_day(today + timedelta(days=1))
    if re.search(r"\b(today|hoy)\b", text):
        return _one_day(today)
    weekday = WEEKDAY_RE.search(text)
    if weekday and not is_preference(weekday):
        # "Tuesday the 8th", "el viernes 14 de diciembre": the date decides, and the echo
        # shows its weekday, so a mismatch is seen.
        dated = _dated(text, today, region, language) if re.search(r"\d", text) else None
        return dated or _weekday_days(weekday, text, today)
    if NEXT_WEEK.search(text):
        next_monday = today + timedelta(days=7 - today.weekday())
        return Days(next_monday, next_monday + timedelta(days=4))
    if weekday or FLEXIBLE.search(text):
        return None
    return _dated(text, today, region, language)


def _dated(text: str, today: date, region: str, language: Optional[str]) -> Union[Days, Invalid, None]:
    """A date written out: "the 14th", "31 April", "12/3", "el 14 de diciembre"."""
    impossible = impossible_date(text, region, language)
    if impossible:
        return impossible
    text = re.sub(r"\bmay (i|we)\b", " ", text)
    ordinal = ORDINAL_DAY.search(text)
    if ordinal and not MONTH.search(text):
        return _day_of_month(int(ordinal.group(1) or ordinal.group(2)), today)
    return _explicit_date(text, today, region, language)


def _day_of_month(number: int, today: date) -> Union[Days, Invalid]:
    """The next date with this day of the month, today included."""
    year, month = today.year, today.month
    for _ in range(3):
        try:
            day = date(year, month, number)
        except ValueError:
            day = None
        if day and day >= today:
            return Days(day, day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return Invalid("day_of_month_impossible", {"day": str(number)}, attempt=True)


def _explicit_date(text: str, today: date, region: str, language: Optional[str] = "en") -> Optional[Days]:
    words = [w for w in text.split() if w not in FILLER]
    if not words:
        return None
    parsed = dateparser.parse(
        " ".join(words),
        languages=["es", "en"] if language == "es" else ["en", "es"],
        settings={
            "PREFER_DATES_FROM": "current_period",
            "RELATIVE_BASE": datetime.combine(today, time(12)),
            "DATE_ORDER": "DMY" if _day_first(region, language) else "MDY",
            "REQUIRE_PARTS": ["day"],
        },
    )
    if parsed is None:
        return None
    day = parsed.date()
    # "3 Mar" in November means next March; "20 Nov" on 25 Nov is a past date.
    if day < today and not re.search(r"\b20\d\d\b", text) and (today - day).days > 90:
        day = _next_year(day)
    return Days(day, day)


def _next_year(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return date(day.year + 1, 3, 1)


def next_opening_day(after: date) -> date:
    day = after + timedelta(days=1)
    while day.weekday() not in OPENING_HOURS:
        day += timedelta(days=1)
    return day


# --- The period ----------------------------------------------------------------------------------


def _closed_days(weekdays: Sequence[int], language: Optional[str]) -> Invalid:
    names = [weekday_label(d, language, "wide") for d in weekdays]
    # "Saturday, Sunday" in English; Babel's list words elsewhere ("sábado y domingo").
    listed = ", ".join(names) if locale_of(language) == "en" else format_list(names, locale=locale_of(language))
    return Invalid("closed_day", {"day": listed}, attempt=True)


def _flexible(weekdays: Sequence[int], window: Optional[Window], today: date, now: datetime, text: str,
              language: Optional[str]) -> Union[TimeRequest, Invalid]:
    """No day named: the days and hours that suit, over the next FLEXIBLE_WEEKS weeks."""
    weekdays = sorted(weekdays) or sorted(OPENING_HOURS)
    closed = [d for d in weekdays if d not in OPENING_HOURS]
    if closed and len(closed) == len(weekdays):
        return _closed_days(closed, language)
    weekdays = [d for d in weekdays if d in OPENING_HOURS]
    opening = min(OPENING_HOURS[d][0] for d in weekdays)
    closing = max(OPENING_HOURS[d][1] for d in weekdays)
    start, end = window or (opening, closing)
    if start < opening or end > closing:
        return Invalid("outside_hours", {"asked": clock_span(start, end)}, attempt=True)
    first = next_opening_day(today)
    while first.weekday() not in weekdays:
        first += timedelta(days=1)
    last = first + timedelta(weeks=FLEXIBLE_WEEKS) - timedelta(days=1)
    while last.weekday() not in weekdays:
        last -= timedelta(days=1)
    return TimeRequest(
        text.strip(),
        datetime.combine(first, start, tzinfo=now.tzinfo),
        datetime.combine(last, end, tzinfo=now.tzinfo),
        Flexible(tuple(weekdays), start, end),
    )


def _check_opening(days: Days, window: Window, language: Optional[str]) -> Optional[Invalid]:
    """A closed day or hours outside the opening hours, with what was asked."""
    day = days.first
    while day <= days.last:
        if day.weekday() not in OPENING_HOURS:
            if days.first == days.last:
                return Invalid("closed_day", {"day": day_label(day, language)}, attempt=True)
        else:
            opening, closing = OPENING_HOURS[day.weekday()]
            if window[0] < opening or window[1] > closing:
                return Invalid("outside_hours", {"asked": clock_span(*window)}, attempt=True)
        day += timedelta(days=1)
    return None


def names_time_of_day(text: str) -> bool:
    """True when the text names a clock time or part of day ("after 3", "mornings", "por la tarde")."""
    return time_window(normalise(text))[0] is not None


def retime(text: str, previous: TimeRequest, now: datetime, region: str = "US",
           language: Optional[str] = "en") -> Union[TimeRequest, Invalid, None]:
    """A change that names a time of day and no day ("can we do the morning instead?",
    "after 3 would be better", "mejor por la tarde"): the same day(s) as `previous` at that
    time. None when the text names a day, no time, or `previous` is a flexible preference
    (read it afresh)."""
    if previous.flexible:
        return None
    normal = normalise(text)
    window, rest = time_window(normal)
    if window is None:
        return None
    today = now.date()
    if (named_days(rest, today, region, language) is not None or FLEXIBLE.search(rest)
            or WEEKDAY_RE.search(rest) or WEEKEND.search(rest)):
        return None
    days = Days(previous.start.date(), previous.end.date())
    start = datetime.combine(days.first, window[0], tzinfo=previous.start.tzinfo)
    end = datetime.combine(days.last, window[1], tzinfo=previous.start.tzinfo)
    request = TimeRequest(text.strip(), start, end)
    if end <= now:
        return Invalid("time_past", {"asked": request.human(language)}, attempt=True)
    return _check_opening(days, window, language) or request


def parse_period(text: str, now: datetime, region: str = "US", language: Optional[str] = "en"
                 ) -> Union[TimeRequest, Invalid]:
    """Free text such as "next Tuesday afternoon" or "el martes por la tarde" -> a requested
    period in now's time zone; `language` is the conversation's, for the dates shown back."""
    normal = normalise(text)
    window, rest = time_window(normal)
    today = now.date()
    days = named_days(rest, today, region, language)
    if isinstance(days, Invalid):
        return days
    if days is None:
        named = sorted({WEEKDAYS[m.group(2)] for m in WEEKDAY_RE.finditer(rest)})
        if WEEKEND.search(rest) and not named:
            return _closed_days([5, 6], language) if not set(OPENING_HOURS) & {5, 6} else _flexible(
                [5, 6], window, today, now, text, language)
        if window is None and not FLEXIBLE.search(rest) and not named:
            return Invalid("time")
        return _flexible(named, window, today, now, text, language)
    opening, closing = OPENING_HOURS.get(days.first.weekday(), (time(9), time(17)))
    window = window or (opening, closing)
    start = datetime.combine(days.first, window[0], tzinfo=now.tzinfo)
    end = datetime.combine(days.last, window[1], tzinfo=now.tzinfo)
    request = TimeRequest(text.strip(), start, end)
    if end <= now:
        return Invalid("time_past", {"asked": request.human(language)}, attempt=True)
    if (days.first - today).days > MAX_DAYS_AHEAD:
        return Invalid("time_too_far", attempt=True)
    return _check_opening(days, window, language) or request

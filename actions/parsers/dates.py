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

No Rasa here; actions/forms.py stores a TimeRequest in slots.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import dateparser

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


@dataclass(frozen=True)
class Flexible:
    """A recurring preference: these weekdays, between these hours."""

    weekdays: Tuple[int, ...]
    start: time
    end: time

    def as_slot(self) -> Dict[str, object]:
        """JSON for the `time_flexible` slot (and the FHIR comment or requestedPeriod spans)."""
        return {"weekdays": [calendar.day_abbr[d] for d in self.weekdays],
                "from": f"{self.start:%H:%M}", "to": f"{self.end:%H:%M}"}

    @classmethod
    def from_slot(cls, value: Dict[str, object]) -> "Flexible":
        days = {name: number for number, name in enumerate(calendar.day_abbr)}
        return cls(tuple(days[str(d)] for d in value["weekdays"]),  # type: ignore[union-attr]
                   datetime.strptime(str(value["from"]), "%H:%M").time(),
                   datetime.strptime(str(value["to"]), "%H:%M").time())

    def human(self) -> str:
        """'Mon-Fri 09:00-12:00' or 'Mon, Wed 09:00-17:00'."""
        days = list(self.weekdays)
        if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
            named = f"{calendar.day_abbr[days[0]]}-{calendar.day_abbr[days[-1]]}"
        else:
            named = ", ".join(calendar.day_abbr[d] for d in days)
        return f"{named} {self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class TimeRequest:
    """What the patient asked for: a period (and, if flexible, the recurring preference)."""

    text: str
    start: datetime
    end: datetime
    flexible: Optional[Flexible] = None

    def human(self) -> str:
        """'Tue 1 Dec, 12:00-17:00', a range of days, or the flexible preference and its span."""
        s, e = self.start, self.end
        if self.flexible:
            return f"{self.flexible.human()}, {s:%a} {s.day} {s:%b} - {e:%a} {e.day} {e:%b}"
        if s.date() == e.date():
            return f"{s:%a} {s.day} {s:%b}, {s:%H:%M}-{e:%H:%M}"
        return f"{s:%a} {s.day} {s:%b} {s:%H:%M} - {e:%a} {e.day} {e:%b} {e:%H:%M}"


# --- Reading the words -----------------------------------------------------------------------

WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
    "weds": 2, "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4,
    "saturday": 5, "sat": 5, "sunday": 6, "sun": 6,
}
WEEKDAY_RE = re.compile(
    r"\b(?:(next|this|coming|last)\s+)?(" + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + r")(s?)\b"
)
PARTS_OF_DAY: List[Tuple[str, Window]] = [  # longest phrases first
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
]
HOUR = r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?"
FLEXIBLE = re.compile(
    r"\b(any\s*(week)?day|any ?time|whenever|asap|as soon as possible|soonest|earliest|"
    r"first available|flexible|weekdays?|don'?t mind|no preference|whatever suits)\b"
)
WEEKEND = re.compile(r"\b(weekends?|saturdays?|sundays?)\b")
ORDINAL_DAY = re.compile(r"\b(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)\b")
MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): number for number, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
MONTH_NAME = r"(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
MONTH = re.compile(rf"\b{MONTH_NAME}\b")
DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH_NAME}\b")
MONTH_DAY = re.compile(rf"\b{MONTH_NAME}\s+(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\b")
NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2,4}))?\b")
FILLER = set(
    "i i'm im am can could come on at the please prefer preferably would like be is are good "
    "best great fine works work for me free available maybe perhaps ideally how about it that a "
    "an time day sometime around ok okay sure and or any suits suit book booking appointment of "
    "to".split()
)


def normalise(text: str) -> str:
    normal = text.lower().replace("’", "'").replace("a.m.", "am").replace("p.m.", "pm")
    normal = re.sub(r"\bthis (morning|afternoon|evening)\b", r"today \1", normal)
    normal = re.sub(r"\btonight\b", "today evening", normal)
    return " ".join(re.sub(r"[,!?;]|\.(\s|$)", " ", normal).split())


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


WINDOW_RULES: List[Tuple[str, Callable[[re.Match], Optional[Window]]]] = [
    (rf"\b(?:between|from)\s+{HOUR}\s*(?:and|to|-|until|till)\s*{HOUR}", lambda m: _range(m.groups())),
    # "2-4pm", "10:30 to 12": a bare "3-5" could be dates, so am/pm or minutes are needed.
    (rf"\b{HOUR}\s*(?:-|to|until|till)\s*{HOUR}\b",
     lambda m: _range(m.groups()) if any(m.group(i) for i in (2, 3, 5, 6)) else None),
    (rf"\b(?:after|from|not before)\s+{HOUR}", lambda m: _after(_hour(*m.groups()))),
    (rf"\b(?:before|by|until|no later than)\s+{HOUR}", lambda m: _before(_hour(*m.groups()))),
    (rf"\b(?:at|around|about)\s+{HOUR}(?!\s*(?:st|nd|rd|th)\b)", lambda m: _at(_hour(*m.groups()))),
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
        match = re.search(rf"\b{phrase}s?\b", text)
        if match:
            return window, text[: match.start()] + " " + text[match.end():]
    return None, text


@dataclass(frozen=True)
class Days:
    first: date
    last: date


def impossible_date(text: str, region: str) -> Optional[Invalid]:
    """"February 31st", "31 April", "31/4": a date no calendar has, with the reason."""
    candidates: List[Tuple[int, int]] = []
    for match in DAY_MONTH.finditer(text):
        candidates.append((int(match.group(1)), MONTHS[match.group(2)]))
    for match in MONTH_DAY.finditer(text):
        candidates.append((int(match.group(2)), MONTHS[match.group(1)]))
    for match in NUMERIC_DATE.finditer(text):
        a, b = int(match.group(1)), int(match.group(2))
        day, month = (b, a) if region in {"US", "CA", "PH"} else (a, b)
        candidates.append((day, month))
    for day, month in candidates:
        if not 1 <= month <= 12:
            continue
        longest = calendar.monthrange(2024, month)[1]  # 2024: a leap year, so 29 February exists
        if day < 1 or day > longest:
            return Invalid("date_impossible", {"day": str(day), "month": calendar.month_name[month],
                                               "days_in_month": str(longest)}, attempt=True)
    return None


def _weekday_days(match: re.Match, text: str, today: date) -> Days:
    qualifier, name, _ = match.groups()
    next_monday = today + timedelta(days=7 - today.weekday())
    if re.search(r"\bnext week\b", text):  # "Tuesday next week"
        day = next_monday + timedelta(days=WEEKDAYS[name])
        return Days(day, day)
    ahead = (WEEKDAYS[name] - today.weekday()) % 7
    if qualifier == "last":
        ahead -= 7
    elif ahead == 0 and qualifier in ("next", "coming"):
        ahead = 7
    return Days(today + timedelta(days=ahead), today + timedelta(days=ahead))


def named_days(text: str, today: date, region: str) -> Union[Days, Invalid, None]:
    """The day (or days) asked for; None when the text names none."""
    if re.search(r"\byesterday\b|\blast week\b", text):
        return Days(today - timedelta(days=1), today - timedelta(days=1))
    if re.search(r"\bday after tomorrow\b", text):
        return Days(today + timedelta(days=2), today + timedelta(days=2))
    if re.search(r"\b(tomorrow|tmrw|tmr|tomorow|tommorow|tommorrow)\b", text):
        return Days(today + timedelta(days=1), today + timedelta(days=1))
    if re.search(r"\btoday\b", text):
        return Days(today, today)
    weekday = WEEKDAY_RE.search(text)
    if weekday and not (weekday.group(3) and not weekday.group(1)):  # "Mondays" is a preference
        return _weekday_days(weekday, text, today)
    if re.search(r"\bnext week\b", text):
        next_monday = today + timedelta(days=7 - today.weekday())
        return Days(next_monday, next_monday + timedelta(days=4))
    if weekday or FLEXIBLE.search(text):
        return None
    impossible = impossible_date(text, region)
    if impossible:
        return impossible
    text = re.sub(r"\bmay (i|we)\b", " ", text)
    ordinal = ORDINAL_DAY.search(text)
    if ordinal and not MONTH.search(text):
        return _day_of_month(int(ordinal.group(1)), today)
    return _explicit_date(text, today, region)


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


def _explicit_date(text: str, today: date, region: str) -> Optional[Days]:
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


def _fmt_day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


# --- The period ----------------------------------------------------------------------------------


def _flexible(normal: str, window: Optional[Window], today: date, now: datetime, text: str
              ) -> Union[TimeRequest, Invalid]:
    """No day named: the days and hours that suit, over the next FLEXIBLE_WEEKS weeks."""
    weekdays = sorted({WEEKDAYS[m.group(2)] for m in WEEKDAY_RE.finditer(normal)}) or sorted(OPENING_HOURS)
    closed = [d for d in weekdays if d not in OPENING_HOURS]
    if closed and len(closed) == len(weekdays):
        return Invalid("closed_day", {"day": ", ".join(calendar.day_name[d] for d in closed)}, attempt=True)
    weekdays = [d for d in weekdays if d in OPENING_HOURS]
    opening = min(OPENING_HOURS[d][0] for d in weekdays)
    closing = max(OPENING_HOURS[d][1] for d in weekdays)
    start, end = window or (opening, closing)
    if start < opening or end > closing:
        return Invalid("outside_hours", {"asked": f"{start:%H:%M}-{end:%H:%M}"}, attempt=True)
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


def _check_opening(days: Days, window: Window) -> Optional[Invalid]:
    """A closed day or hours outside the opening hours, with what was asked."""
    day = days.first
    while day <= days.last:
        if day.weekday() not in OPENING_HOURS:
            if days.first == days.last:
                return Invalid("closed_day", {"day": _fmt_day(day)}, attempt=True)
        else:
            opening, closing = OPENING_HOURS[day.weekday()]
            if window[0] < opening or window[1] > closing:
                return Invalid("outside_hours", {"asked": f"{window[0]:%H:%M}-{window[1]:%H:%M}"},
                               attempt=True)
        day += timedelta(days=1)
    return None


def names_time_of_day(text: str) -> bool:
    """True when the text names a clock time or part of day ("after 3", "mornings")."""
    return time_window(normalise(text))[0] is not None


def retime(text: str, previous: TimeRequest, now: datetime, region: str = "US"
           ) -> Union[TimeRequest, Invalid, None]:
    """A change that names a time of day and no day ("can we do the morning instead?",
    "after 3 would be better"): the same day(s) as `previous` at that time. None when the
    text names a day, no time, or `previous` is a flexible preference (read it afresh)."""
    if previous.flexible:
        return None
    normal = normalise(text)
    window, rest = time_window(normal)
    if window is None:
        return None
    today = now.date()
    if (named_days(rest, today, region) is not None or FLEXIBLE.search(rest) or WEEKDAY_RE.search(rest)
            or WEEKEND.search(rest)):
        return None
    days = Days(previous.start.date(), previous.end.date())
    start = datetime.combine(days.first, window[0], tzinfo=previous.start.tzinfo)
    end = datetime.combine(days.last, window[1], tzinfo=previous.start.tzinfo)
    request = TimeRequest(text.strip(), start, end)
    if end <= now:
        return Invalid("time_past", {"asked": request.human()}, attempt=True)
    return _check_opening(days, window) or request


def parse_period(text: str, now: datetime, region: str = "US") -> Union[TimeRequest, Invalid]:
    """Free text such as "next Tuesday afternoon" -> a requested period in now's time zone."""
    normal = normalise(text)
    window, rest = time_window(normal)
    today = now.date()
    days = named_days(rest, today, region)
    if isinstance(days, Invalid):
        return days
    if days is None:
        if WEEKEND.search(rest) and not WEEKDAY_RE.search(rest):
            return Invalid("closed_day", {"day": "Saturday, Sunday"}, attempt=True)
        if window is None and not FLEXIBLE.search(rest) and not WEEKDAY_RE.search(rest):
            return Invalid("time")
        return _flexible(normal, window, today, now, text)
    opening, closing = OPENING_HOURS.get(days.first.weekday(), (time(9), time(17)))
    window = window or (opening, closing)
    start = datetime.combine(days.first, window[0], tzinfo=now.tzinfo)
    end = datetime.combine(days.last, window[1], tzinfo=now.tzinfo)
    request = TimeRequest(text.strip(), start, end)
    if end <= now:
        return Invalid("time_past", {"asked": request.human()}, attempt=True)
    if (days.first - today).days > MAX_DAYS_AHEAD:
        return Invalid("time_too_far", attempt=True)
    return _check_opening(days, window) or request

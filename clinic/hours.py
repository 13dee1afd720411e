"""The clinic's opening hours: per weekday, with closed days, read from one setting.

CLINIC_OPENING_HOURS is written the way a front desk writes it, one group of days per
part, parts separated by ";":

    Mon-Fri 09:00-17:00; Sat 09:00-12:00

Days are English three-letter abbreviations (or ranges of them), times 24-hour. Days not
named are closed. CLINIC_CLOSED_DAYS lists dates the clinic is shut (holidays), as ISO
dates separated by commas. Names of days and times shown to patients come from Babel's
locale data, so no wording of ours is involved and Spanish gets Spanish names.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Dict, FrozenSet, List, Optional, Tuple

from babel.dates import format_interval, get_day_names

DAY_KEYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]  # weekday() order
Span = Tuple[time, time]


class HoursError(ValueError):
    """CLINIC_OPENING_HOURS or CLINIC_CLOSED_DAYS written in a way we cannot read."""


@dataclass(frozen=True)
class OpeningHours:
    weekly: Dict[int, Tuple[Span, ...]]  # weekday (0 = Monday) -> opening spans, in order
    closed_days: FrozenSet[date] = frozenset()

    def spans_on(self, day: date) -> Tuple[Span, ...]:
        """When the clinic is open on a calendar day (nothing on a closed day)."""
        return () if day in self.closed_days else self.weekly.get(day.weekday(), ())

    def is_open_at(self, moment: datetime) -> bool:
        return any(start <= moment.time() < end for start, end in self.spans_on(moment.date()))

    def is_open_on(self, weekday: int) -> bool:
        return bool(self.weekly.get(weekday))

    def open_weekdays(self) -> List[int]:
        return [day for day in range(7) if self.is_open_on(day)]

    def describe(self, locale: str = "en") -> str:
        """e.g. "Monday–Friday 9 AM – 5 PM; Saturday 9 AM – 12 PM" (Babel's words)."""
        names = get_day_names("wide", locale=locale)
        parts = []
        for first, last, spans in _runs(self.weekly):
            days = names[first] if first == last else f"{names[first]}–{names[last]}"
            times = ", ".join(_interval(start, end, locale) for start, end in spans)
            parts.append(f"{days} {times}")
        return "; ".join(parts)

    def describe_day(self, weekday: int, locale: str = "en") -> str:
        """The hours of one weekday, e.g. "9 AM – 12 PM" (empty when closed)."""
        return ", ".join(_interval(start, end, locale) for start, end in self.weekly.get(weekday, ()))


def parse_opening_hours(text: str, closed: str = "") -> OpeningHours:
    weekly: Dict[int, Tuple[Span, ...]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        days_text, _, spans_text = part.partition(" ")
        spans = tuple(_span(s) for s in spans_text.replace(" ", "").split(",") if s)
        if not spans:
            raise HoursError(f"no hours after {days_text!r} (write e.g. 'Mon-Fri 09:00-17:00')")
        for day in _days(days_text):
            if day in weekly:
                raise HoursError(f"{DAY_KEYS[day].title()} is named twice")
            weekly[day] = spans
    if not weekly:
        raise HoursError("no opening hours given (write e.g. 'Mon-Fri 09:00-17:00')")
    return OpeningHours(weekly=weekly, closed_days=_closed_days(closed))


def _days(text: str) -> List[int]:
    days: List[int] = []
    for piece in text.lower().split(","):
        first, _, last = piece.partition("-")
        start, end = _day(first), _day(last or first)
        if end < start:
            raise HoursError(f"{piece!r}: a range of days runs from Monday towards Sunday")
        days.extend(range(start, end + 1))
    return days


def _day(text: str) -> int:
    key = text.strip()[:3]
    if key not in DAY_KEYS:
        raise HoursError(f"{text.strip()!r} is not a day (use Mon, Tue, Wed, Thu, Fri, Sat, Sun)")
    return DAY_KEYS.index(key)


def _span(text: str) -> Span:
    start_text, _, end_text = text.partition("-")
    start, end = _clock(start_text), _clock(end_text)
    if end <= start:
        raise HoursError(f"{text!r}: closing time must be after opening time")
    return start, end


def _clock(text: str) -> time:
    try:
        return time.fromisoformat(text.strip().zfill(5))
    except ValueError:
        raise HoursError(f"{text.strip()!r} is not a 24-hour time such as 09:00 or 17:30") from None


def _closed_days(text: str) -> FrozenSet[date]:
    days = set()
    for piece in filter(None, (p.strip() for p in text.split(","))):
        try:
            days.add(date.fromisoformat(piece))
        except ValueError:
            raise HoursError(f"closed day {piece!r} is not a date such as 2026-12-25") from None
    return frozenset(days)


def _runs(weekly: Dict[int, Tuple[Span, ...]]) -> List[Tuple[int, int, Tuple[Span, ...]]]:
    """Consecutive weekdays with the same hours, grouped: Mon-Fri rather than five lines."""
    runs: List[Tuple[int, int, Tuple[Span, ...]]] = []
    for day in sorted(weekly):
        if runs and runs[-1][1] == day - 1 and runs[-1][2] == weekly[day]:
            runs[-1] = (runs[-1][0], day, weekly[day])
        else:
            runs.append((day, day, weekly[day]))
    return runs


def _interval(start: time, end: time, locale: str) -> str:
    if locale.startswith("en"):
        text = format_interval(start, end, "hm" if start.minute or end.minute else "h", locale=locale)
    else:
        text = format_interval(start, end, "Hm", locale=locale)  # 24-hour clocks: 9:00–17:00
    # Babel's narrow and thin spaces cost an SMS its 7-bit alphabet; plain spaces read the same.
    return text.replace("\u202f", " ").replace("\u2009", " ")


def weekday_named(text: str, locales: Tuple[str, ...] = ("en", "es")) -> Optional[int]:
    """The weekday a message names ("are you open on saturday?", "¿abren el sábado?")."""
    words = {w.strip("¿?¡!.,;:'\"").lower() for w in text.split()}
    for locale in locales:
        for form in ("wide", "abbreviated"):
            for day, name in get_day_names(form, locale=locale).items():
                name = name.lower().rstrip(".")
                if name in words or name + "s" in words:
                    return day
    return None

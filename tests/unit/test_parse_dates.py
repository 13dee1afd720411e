"""Days and times as patients say them (actions/parsers/dates.py), with real dateparser.

"Now" is Wednesday 25 November 2026, 10:00 at a clinic in New York, open
Monday to Friday, 9 am to 5 pm (dates.OPENING_HOURS).
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from actions.parsers import Invalid
from actions.parsers.dates import OPENING_HOURS, Flexible, TimeRequest, parse_period, retime

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=NEW_YORK)


def period(text: str, now: datetime = NOW, region: str = "US") -> TimeRequest:
    result = parse_period(text, now, region)
    assert isinstance(result, TimeRequest), result
    assert result.text == text
    return result


def refused(text: str, now: datetime = NOW, region: str = "US") -> Invalid:
    result = parse_period(text, now, region)
    assert isinstance(result, Invalid), result
    return result


# --- A day asked for ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, expected",
    [
        ("next Tuesday afternoon", "Tue 1 Dec, 12:00-17:00"),
        ("the 14th after 3", "Mon 14 Dec, 15:00-17:00"),
        ("tomorrow at 10", "Thu 26 Nov, 10:00-11:00"),
        ("Friday", "Fri 27 Nov, 09:00-17:00"),
        ("friday 2-4pm", "Fri 27 Nov, 14:00-16:00"),
        ("between 10 and 12 on Monday", "Mon 30 Nov, 10:00-12:00"),
        ("December 14th at 11am", "Mon 14 Dec, 11:00-12:00"),
        ("12/3", "Thu 3 Dec, 09:00-17:00"),
        ("this afternoon", "Wed 25 Nov, 12:00-17:00"),
        ("can I come on thursday morning?", "Thu 26 Nov, 09:00-12:00"),
        ("in two weeks", "Wed 9 Dec, 09:00-17:00"),
        ("3 March", "Wed 3 Mar, 09:00-17:00"),
        ("next week", "Mon 30 Nov 09:00 - Fri 4 Dec 17:00"),
        ("Thursday next week before 11", "Thu 3 Dec, 09:00-11:00"),
        ("the day after tomorrow at 2:30pm", "Fri 27 Nov, 14:30-15:30"),
    ],
)
def test_free_text_becomes_a_period_in_the_clinic_time_zone(text: str, expected: str) -> None:
    parsed = period(text)
    assert parsed.human() == expected and parsed.flexible is None
    assert parsed.start.utcoffset().total_seconds() == -5 * 3600  # EST, the clinic's zone


def test_next_wednesday_is_the_coming_wednesday_and_on_a_wednesday_the_one_in_seven_days() -> None:
    monday = datetime(2026, 11, 23, 10, 0, tzinfo=NEW_YORK)
    assert period("next Wednesday", now=monday).human() == "Wed 25 Nov, 09:00-17:00"
    assert period("Wednesday", now=monday).human() == "Wed 25 Nov, 09:00-17:00"
    assert period("next Wednesday").human() == "Wed 2 Dec, 09:00-17:00"  # today is a Wednesday


def test_a_date_earlier_in_the_year_means_next_year() -> None:
    assert period("3 March").start.date().isoformat() == "2027-03-03"


def test_the_14th_is_this_month_when_it_is_still_ahead() -> None:
    tenth = datetime(2026, 12, 10, 9, 0, tzinfo=NEW_YORK)
    assert period("the 14th after 3", now=tenth).human() == "Mon 14 Dec, 15:00-17:00"


def test_the_period_follows_daylight_saving_time() -> None:
    london = datetime(2027, 3, 24, 12, 0, tzinfo=ZoneInfo("Europe/London"))
    parsed = period("next Tuesday afternoon", now=london, region="GB")
    assert parsed.start.isoformat() == "2027-03-30T12:00:00+01:00"


def test_day_month_order_follows_the_region() -> None:
    assert period("3/12", region="GB").start.date().isoformat() == "2026-12-03"
    assert period("12/3", region="US").start.date().isoformat() == "2026-12-03"


# --- Vague answers: a flexible preference, never "today" ---------------------------------------

@pytest.mark.parametrize(
    "text, days, hours",
    [
        ("whenever", (0, 1, 2, 3, 4), ("09:00", "17:00")),
        ("mornings", (0, 1, 2, 3, 4), ("09:00", "12:00")),
        ("any weekday morning", (0, 1, 2, 3, 4), ("09:00", "12:00")),
        ("afternoons are best", (0, 1, 2, 3, 4), ("12:00", "17:00")),
        ("asap", (0, 1, 2, 3, 4), ("09:00", "17:00")),
        ("Mondays", (0,), ("09:00", "17:00")),
        ("tuesdays or thursdays after 2", (1, 3), ("14:00", "17:00")),
    ],
)
def test_a_vague_answer_is_kept_as_a_flexible_preference(text: str, days: tuple, hours: tuple) -> None:
    parsed = period(text)
    assert parsed.flexible is not None
    assert parsed.flexible.weekdays == days
    assert (f"{parsed.flexible.start:%H:%M}", f"{parsed.flexible.end:%H:%M}") == hours
    assert parsed.start.date() > NOW.date()  # not today


def test_a_flexible_preference_spans_two_weeks_from_the_next_opening_day() -> None:
    parsed = period("any weekday morning")
    assert parsed.human() == "Mon-Fri 09:00-12:00, Thu 26 Nov - Wed 9 Dec"
    friday = datetime(2026, 11, 27, 16, 0, tzinfo=NEW_YORK)
    assert period("any weekday morning", now=friday).start.date().isoformat() == "2026-11-30"


def test_a_flexible_preference_is_stored_as_days_and_hours() -> None:
    parsed = period("mornings")
    assert parsed.flexible.as_slot() == {
        "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri"], "from": "09:00", "to": "12:00"}
    assert Flexible.from_slot(parsed.flexible.as_slot()) == parsed.flexible


# --- Refused, with the reason ---------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, day, month, longest",
    [("February 31st", "31", "February", "29"), ("31 April", "31", "April", "30"),
     ("april 31", "31", "April", "30"), ("4/31", "31", "April", "30"), ("the 30th of Feb", "30", "February", "29")],
)
def test_february_31st_is_refused_with_the_reason(text: str, day: str, month: str, longest: str) -> None:
    result = refused(text)
    assert result.reason == "date_impossible" and result.attempt
    assert dict(result.values) == {"day": day, "month": month, "days_in_month": longest}


def test_31_4_is_impossible_where_the_day_comes_first() -> None:
    assert refused("31/4", region="GB").reason == "date_impossible"


@pytest.mark.parametrize(
    "text, shown",
    [
        ("yesterday", "Tue 24 Nov, 09:00-17:00"),
        ("last Tuesday", "Tue 24 Nov, 09:00-17:00"),
        ("20 November", "Fri 20 Nov, 09:00-17:00"),
        ("1 Nov 2025", "Sat 1 Nov, 09:00-17:00"),
        ("this morning at 8", "Wed 25 Nov, 08:00-09:00"),
    ],
)
def test_past_dates_are_refused_with_the_reason(text: str, shown: str) -> None:
    result = refused(text)
    assert result.reason == "time_past" and result.values == {"asked": shown}


@pytest.mark.parametrize(
    "text, asked",
    [("tomorrow at 8am", "08:00-09:00"), ("friday evening", "17:00-20:00"),
     ("Monday after 6pm", "18:00-19:00"), ("evenings", "17:00-20:00"),
     ("Thursday at midnight", "00:00-01:00"), ("midnight", "00:00-01:00"),
     ("Friday in the middle of the night", "00:00-05:00"), ("tomorrow at dawn", "05:00-07:00"),
     ("late at night on Monday", "22:00-23:59")],
)
def test_times_outside_the_opening_hours_are_refused_with_what_was_asked(text: str, asked: str) -> None:
    result = refused(text)
    assert result.reason == "outside_hours" and result.values == {"asked": asked}


@pytest.mark.parametrize("text, day", [("saturday", "Sat 28 Nov"), ("Sunday morning", "Sun 29 Nov"),
                                       ("at the weekend", "Saturday, Sunday")])
def test_days_the_clinic_is_closed_are_refused(text: str, day: str) -> None:
    result = refused(text)
    assert result.reason == "closed_day" and result.values == {"day": day}


def test_the_structured_opening_hours_default_to_weekdays_nine_to_five() -> None:
    assert sorted(OPENING_HOURS) == [0, 1, 2, 3, 4]
    assert {(f"{a:%H:%M}", f"{b:%H:%M}") for a, b in OPENING_HOURS.values()} == {("09:00", "17:00")}


@pytest.mark.parametrize("text", ["is it safe?", "how long does it take", "december", "purple"])
def test_text_without_a_day_or_a_time_is_not_a_time(text: str) -> None:
    result = refused(text)
    assert result.reason == "time" and not result.attempt


@pytest.mark.parametrize("text, hours", [("can we do the morning instead?", "Tue 1 Dec, 09:00-12:00"),
                                         ("after 3 would be better", "Tue 1 Dec, 15:00-17:00")])
def test_a_time_of_day_alone_keeps_the_day_already_chosen(text: str, hours: str) -> None:
    result = retime(text, period("next Tuesday afternoon"), NOW)
    assert isinstance(result, TimeRequest) and result.human() == hours and result.flexible is None


def test_retime_leaves_a_new_day_a_flexible_preference_and_closed_hours_to_the_others() -> None:
    chosen = period("next Tuesday afternoon")
    assert retime("make it Friday morning", chosen, NOW) is None
    assert retime("any weekday morning", chosen, NOW) is None
    assert retime("the morning", period("any weekday afternoon"), NOW) is None
    refusal = retime("the evening instead", chosen, NOW)
    assert isinstance(refusal, Invalid) and refusal.reason == "outside_hours"

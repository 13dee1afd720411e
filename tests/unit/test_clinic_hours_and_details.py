"""The clinic's practical details come from its settings: opening hours per weekday with
closed days, address, directions, languages, phone. What is not configured is declined
honestly with the phone, never guessed."""
from __future__ import annotations

from datetime import date, datetime, time

import pytest

from actions.clinic_info import answer
from clinic import settings
from clinic.hours import HoursError, parse_opening_hours, weekday_named

MONDAY, SATURDAY, SUNDAY = 0, 5, 6


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch):
    for name in ("CLINIC_OPENING_HOURS", "CLINIC_CLOSED_DAYS", "CLINIC_ADDRESS", "CLINIC_DIRECTIONS",
                 "CLINIC_LANGUAGES", "CLINIC_HOURS"):
        monkeypatch.delenv(name, raising=False)
    settings.reset()
    yield
    settings.reset()


def test_hours_are_written_as_a_front_desk_writes_them() -> None:
    hours = parse_opening_hours("Mon-Fri 09:00-17:00; Sat 09:00-12:30", "2026-12-25")
    assert hours.describe() == "Monday–Friday 9 AM – 5 PM; Saturday 9:00 AM – 12:30 PM"
    assert hours.describe("es") == "lunes–viernes 9:00–17:00; sábado 9:00–12:30"
    assert hours.open_weekdays() == [0, 1, 2, 3, 4, 5]


def test_a_closed_day_and_the_hours_around_opening_time() -> None:
    hours = parse_opening_hours("Mon-Fri 09:00-17:00", "2026-12-25")
    assert hours.is_open_at(datetime(2026, 12, 2, 9, 0))          # a Wednesday, at opening
    assert not hours.is_open_at(datetime(2026, 12, 2, 17, 0))     # closing time is closed
    assert not hours.is_open_at(datetime(2026, 12, 25, 10, 0))    # Christmas, a Friday
    assert not hours.is_open_at(datetime(2026, 12, 6, 10, 0))     # a Sunday


def test_split_days_with_a_lunch_break() -> None:
    hours = parse_opening_hours("Mon,Wed 08:00-12:00,13:00-18:00")
    assert hours.weekly[2] == ((time(8), time(12)), (time(13), time(18)))
    assert not hours.is_open_on(1)


@pytest.mark.parametrize("text, reason", [
    ("Mon-Fri", "no hours after"),
    ("Fri-Mon 09:00-17:00", "runs from Monday towards Sunday"),
    ("Mon-Fri 17:00-09:00", "closing time must be after opening time"),
    ("Mon-Fri 9am-5pm", "is not a 24-hour time"),
    ("Moonday 09:00-17:00", "is not a day"),
    ("Mon 09:00-12:00; Mon 13:00-17:00", "named twice"),
    ("", "no opening hours given"),
])
def test_hours_we_cannot_read_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(HoursError, match=reason):
        parse_opening_hours(text)


def test_the_old_single_text_setting_is_refused_with_what_replaces_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_HOURS", "Monday to Friday, 9 am to 5 pm")
    assert any("CLINIC_HOURS is replaced by CLINIC_OPENING_HOURS" in p for p in settings.problems())


@pytest.mark.parametrize("text, weekday", [
    ("are you open on saturdays?", SATURDAY), ("open sun?", SUNDAY), ("what about Monday", MONDAY),
    ("¿abren el sábado?", SATURDAY), ("what are your hours", None), ("I'm open to ideas", None),
])
def test_the_weekday_a_question_names(text: str, weekday) -> None:
    assert weekday_named(text) == weekday


def test_a_question_about_a_closed_weekday_says_so_with_the_hours() -> None:
    details = settings.clinic_details()
    assert answer("clinic_hours", "are you open on saturday?", details, date(2026, 12, 2)) == [
        ("utter_clinic_closed_on_day", {"day": "Saturday"})]
    assert answer("clinic_hours", "are you open monday", details, date(2026, 12, 2)) == [
        ("utter_clinic_open_on_day", {"day": "Monday", "day_hours": "9 AM – 5 PM"})]


def test_holidays_within_two_months_are_mentioned_with_the_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_CLOSED_DAYS", "2026-12-25, 2027-07-04")
    replies = answer("clinic_hours", "what are your hours", settings.clinic_details(), date(2026, 12, 2))
    assert replies == [("utter_clinic_hours", {}), ("utter_clinic_closed_days", {"closed_days": "December 25, 2026"})]


def test_location_and_languages_come_from_settings_or_an_honest_decline(monkeypatch: pytest.MonkeyPatch) -> None:
    today = date(2026, 12, 2)
    assert answer("clinic_location", "where are you", settings.clinic_details(), today) == [
        ("utter_clinic_location_unknown", {})]
    assert answer("clinic_languages", "do you speak spanish", settings.clinic_details(), today) == [
        ("utter_clinic_languages_unknown", {})]
    monkeypatch.setenv("CLINIC_ADDRESS", "12 Elm Street, Springfield")
    monkeypatch.setenv("CLINIC_DIRECTIONS", "Free parking behind the building.")
    monkeypatch.setenv("CLINIC_LANGUAGES", "English and Spanish")
    settings.reset()
    details = settings.clinic_details()
    assert details.as_template_values()["clinic_address"] == "12 Elm Street, Springfield"
    assert answer("clinic_location", "where do i park", details, today) == [
        ("utter_clinic_address", {}), ("utter_clinic_directions", {})]
    assert answer("clinic_languages", "do you speak spanish", details, today) == [("utter_clinic_languages", {})]

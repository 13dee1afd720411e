"""Days and times as Spanish-speaking patients say them (actions/parsers/dates.py), with
real dateparser and Babel, and how dates are shown back in the conversation's language.

"Now" is Wednesday 25 November 2026, 10:00 at a clinic in New York, open Monday to
Friday, 9 am to 5 pm (dates.OPENING_HOURS), as in test_parse_dates.py.
"""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from actions.parsers import Invalid
from actions.parsers.dates import Flexible, TimeRequest, day_label, parse_period, retime

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=NEW_YORK)


def period(text: str, now: datetime = NOW, region: str = "US") -> TimeRequest:
    result = parse_period(text, now, region, "es")
    assert isinstance(result, TimeRequest), result
    assert result.text == text
    return result


def refused(text: str, now: datetime = NOW, region: str = "US") -> Invalid:
    result = parse_period(text, now, region, "es")
    assert isinstance(result, Invalid), result
    return result


# --- A day asked for -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, expected",
    [
        ("el martes por la tarde", "martes 1 de diciembre, 12:00-17:00"),
        ("mañana a las 10", "jueves 26 de noviembre, 10:00-11:00"),
        ("manana a las 10", "jueves 26 de noviembre, 10:00-11:00"),
        ("pasado mañana", "viernes 27 de noviembre, 09:00-17:00"),
        ("pasado manana por la tarde", "viernes 27 de noviembre, 12:00-17:00"),
        ("mañana por la mañana", "jueves 26 de noviembre, 09:00-12:00"),
        ("mañana en la mañana", "jueves 26 de noviembre, 09:00-12:00"),
        ("mañana temprano", "jueves 26 de noviembre, 09:00-10:30"),
        ("el viernes a las 3 de la tarde", "viernes 27 de noviembre, 15:00-16:00"),
        ("el viernes a las 3", "viernes 27 de noviembre, 15:00-16:00"),  # 1-7 without am/pm: afternoon
        ("mañana a la 1", "jueves 26 de noviembre, 13:00-14:00"),
        ("el jueves al mediodía", "jueves 26 de noviembre, 12:00-13:00"),
        ("el jueves a mediodia", "jueves 26 de noviembre, 12:00-13:00"),
        ("el jueves a las 10 y media", "jueves 26 de noviembre, 10:30-11:30"),
        ("el lunes a las 11 de la mañana", "lunes 30 de noviembre, 11:00-12:00"),
        ("el miercoles", "miércoles 25 de noviembre, 09:00-17:00"),  # today is a Wednesday
        ("el próximo miércoles", "miércoles 2 de diciembre, 09:00-17:00"),
        ("el proximo miercoles", "miércoles 2 de diciembre, 09:00-17:00"),
        ("el miércoles que viene", "miércoles 2 de diciembre, 09:00-17:00"),
        ("el martes de la semana que viene", "martes 1 de diciembre, 09:00-17:00"),
        ("el jueves de la próxima semana", "jueves 3 de diciembre, 09:00-17:00"),
        ("la semana que viene", "lunes 30 de noviembre 09:00 - viernes 4 de diciembre 17:00"),
        ("el lunes entre las 10 y las 12", "lunes 30 de noviembre, 10:00-12:00"),
        ("el lunes de 2 a 4", "lunes 30 de noviembre, 14:00-16:00"),
        ("el viernes antes de las 11", "viernes 27 de noviembre, 09:00-11:00"),
        ("el viernes después de las 3", "viernes 27 de noviembre, 15:00-17:00"),
        ("el viernes a partir de las 2", "viernes 27 de noviembre, 14:00-17:00"),
        ("el lunes a primera hora", "lunes 30 de noviembre, 09:00-10:30"),
        ("el 14 de diciembre a las 11", "lunes 14 de diciembre, 11:00-12:00"),
        ("el 14", "lunes 14 de diciembre, 09:00-17:00"),
        ("el día 8 por la tarde", "martes 8 de diciembre, 12:00-17:00"),
        ("el martes 8", "martes 8 de diciembre, 09:00-17:00"),
        ("el viernes 4 de diciembre", "viernes 4 de diciembre, 09:00-17:00"),
        ("14/12", "lunes 14 de diciembre, 09:00-17:00"),
        ("3/12", "jueves 3 de diciembre, 09:00-17:00"),  # day first in Spanish, even in the US
        ("en dos semanas", "miércoles 9 de diciembre, 09:00-17:00"),
        ("dentro de 2 semanas", "miércoles 9 de diciembre, 09:00-17:00"),
        ("esta tarde", "miércoles 25 de noviembre, 12:00-17:00"),
        ("hoy por la tarde", "miércoles 25 de noviembre, 12:00-17:00"),
        ("el 3 de marzo", "miércoles 3 de marzo, 09:00-17:00"),
        ("¿puedo ir el jueves por la mañana?", "jueves 26 de noviembre, 09:00-12:00"),
        ("me gustaría el viernes en la tarde", "viernes 27 de noviembre, 12:00-17:00"),
        ("el lunes 7 de diciembre a las 3 y media de la tarde", "lunes 7 de diciembre, 15:30-16:30"),
        ("de 9 a 11 de la mañana el lunes", "lunes 30 de noviembre, 09:00-11:00"),
        ("entre las 2 y las 4 de la tarde el lunes", "lunes 30 de noviembre, 14:00-16:00"),
        ("a las 15:00 el jueves", "jueves 26 de noviembre, 15:00-16:00"),
        ("el martes a las 10 a. m.", "martes 1 de diciembre, 10:00-11:00"),
        ("el jueves 10", "jueves 10 de diciembre, 09:00-17:00"),
        ("14 dic", "lunes 14 de diciembre, 09:00-17:00"),
        ("diciembre 14", "lunes 14 de diciembre, 09:00-17:00"),
    ],
)
def test_spanish_days_and_times_become_a_period_shown_in_spanish(text: str, expected: str) -> None:
    parsed = period(text)
    assert parsed.human("es") == expected and parsed.flexible is None
    assert parsed.start.utcoffset().total_seconds() == -5 * 3600  # EST, the clinic's zone


def test_the_same_period_is_shown_in_the_conversations_language() -> None:
    parsed = period("el martes por la tarde")
    assert parsed.human("en") == "Tue 1 Dec, 12:00-17:00"
    assert parsed.human("es") == "martes 1 de diciembre, 12:00-17:00"


def test_a_spanish_date_earlier_in_the_year_means_next_year() -> None:
    assert period("el 3 de marzo").start.date() == date(2027, 3, 3)


def test_a_weekday_with_a_date_takes_the_date_and_shows_its_weekday() -> None:
    # "el viernes 14 de diciembre": 14 December 2026 is a Monday; the echo shows it.
    assert period("el viernes 14 de diciembre").human("es") == "lunes 14 de diciembre, 09:00-17:00"


# --- Vague answers: a flexible preference --------------------------------------------------------

@pytest.mark.parametrize(
    "text, days, hours",
    [
        ("cuando sea", (0, 1, 2, 3, 4), ("09:00", "17:00")),
        ("cualquier día por la mañana", (0, 1, 2, 3, 4), ("09:00", "12:00")),
        ("cualquier dia en la tarde", (0, 1, 2, 3, 4), ("12:00", "17:00")),
        ("lo antes posible", (0, 1, 2, 3, 4), ("09:00", "17:00")),
        ("cuanto antes", (0, 1, 2, 3, 4), ("09:00", "17:00")),
        ("me da igual", (0, 1, 2, 3, 4), ("09:00", "17:00")),
        ("cuando puedan", (0, 1, 2, 3, 4), ("09:00", "17:00")),
        ("las mañanas", (0, 1, 2, 3, 4), ("09:00", "12:00")),
        ("por las tardes", (0, 1, 2, 3, 4), ("12:00", "17:00")),
        ("entre semana por la tarde", (0, 1, 2, 3, 4), ("12:00", "17:00")),
        ("los lunes", (0,), ("09:00", "17:00")),
        ("todos los viernes", (4,), ("09:00", "17:00")),
        ("los martes y jueves después de las 2", (1, 3), ("14:00", "17:00")),
    ],
)
def test_a_vague_spanish_answer_is_a_flexible_preference(text: str, days: tuple, hours: tuple) -> None:
    parsed = period(text)
    assert parsed.flexible is not None
    assert parsed.flexible.weekdays == days
    assert (f"{parsed.flexible.start:%H:%M}", f"{parsed.flexible.end:%H:%M}") == hours
    assert parsed.start.date() > NOW.date()  # never today


def test_a_flexible_preference_is_shown_in_spanish_and_stored_the_same_in_both() -> None:
    spanish, english = period("cualquier día por la mañana"), parse_period("any weekday morning", NOW)
    assert spanish.human("es") == (
        "lunes-viernes 09:00-12:00, jueves 26 de noviembre - miércoles 9 de diciembre")
    assert spanish.flexible.as_slot() == english.flexible.as_slot() == {
        "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri"], "from": "09:00", "to": "12:00"}
    assert Flexible.from_slot(spanish.flexible.as_slot()) == spanish.flexible


# --- Refused, with the reason in Spanish --------------------------------------------------------

@pytest.mark.parametrize(
    "text, day, month, longest",
    [("el 31 de febrero", "31", "febrero", "29"), ("31 de abril", "31", "abril", "30"),
     ("el 30 de febrero por la tarde", "30", "febrero", "29"), ("31/4", "31", "abril", "30"),
     ("el 31 de septiembre", "31", "septiembre", "30"), ("31 abr", "31", "abril", "30")],
)
def test_the_31st_of_february_is_refused_with_the_reason_in_spanish(
    text: str, day: str, month: str, longest: str
) -> None:
    result = refused(text)
    assert result.reason == "date_impossible" and result.attempt
    assert dict(result.values) == {"day": day, "month": month, "days_in_month": longest}


@pytest.mark.parametrize(
    "text, shown",
    [("ayer", "martes 24 de noviembre, 09:00-17:00"),
     ("el martes pasado", "martes 24 de noviembre, 09:00-17:00"),
     ("anteayer", "lunes 23 de noviembre, 09:00-17:00"),
     ("el 20 de noviembre", "viernes 20 de noviembre, 09:00-17:00"),
     ("hoy a las 9", "miércoles 25 de noviembre, 09:00-10:00")],
)
def test_past_dates_are_refused_and_shown_in_spanish(text: str, shown: str) -> None:
    result = refused(text)
    assert result.reason == "time_past" and result.values == {"asked": shown}


@pytest.mark.parametrize(
    "text, asked",
    [("mañana a las 8 de la mañana", "08:00-09:00"), ("el viernes por la noche", "18:00-22:00"),
     ("el lunes después de las 6 de la tarde", "18:00-19:00"), ("a medianoche", "00:00-01:00"),
     ("el jueves de madrugada", "01:00-05:00"), ("mañana al amanecer", "05:00-07:00"),
     ("las noches", "18:00-22:00"), ("el viernes a las 10 de la noche", "22:00-23:00")],
)
def test_times_outside_the_opening_hours_are_refused_in_spanish_too(text: str, asked: str) -> None:
    result = refused(text)
    assert result.reason == "outside_hours" and result.values == {"asked": asked}


@pytest.mark.parametrize("text, day", [("el sábado", "sábado 28 de noviembre"),
                                       ("el sabado por la mañana", "sábado 28 de noviembre"),
                                       ("domingo", "domingo 29 de noviembre"),
                                       ("los sábados", "sábado"),
                                       ("el fin de semana", "sábado y domingo")])
def test_days_the_clinic_is_closed_are_refused_with_spanish_day_names(text: str, day: str) -> None:
    result = refused(text)
    assert result.reason == "closed_day" and result.values == {"day": day}


@pytest.mark.parametrize("text", ["¿duele?", "¿cuánto cuesta?", "diciembre", "morado"])
def test_spanish_text_without_a_day_or_a_time_is_not_a_time(text: str) -> None:
    result = refused(text)
    assert result.reason == "time" and not result.attempt


# --- The opening-hours check is the same in both languages ---------------------------------------

@pytest.mark.parametrize(
    "english, spanish",
    [("next Tuesday afternoon", "el próximo martes por la tarde"),
     ("tomorrow at 10", "mañana a las 10"),
     ("the day after tomorrow at 2:30pm", "pasado mañana a las 2:30 pm"),
     ("Friday between 10 and 12", "el viernes entre las 10 y las 12"),
     ("any weekday morning", "cualquier día entre semana por la mañana"),
     ("whenever", "cuando sea"),
     ("Thursday at midday", "el jueves al mediodía"),
     ("tomorrow at 8am", "mañana a las 8 de la mañana"),
     ("friday evening", "el viernes después del trabajo"),
     ("saturday", "el sábado"),
     ("at the weekend", "el fin de semana"),
     ("February 31st", "el 31 de febrero"),
     ("yesterday", "ayer")],
)
def test_english_and_spanish_words_for_the_same_time_get_the_same_answer(english: str, spanish: str) -> None:
    in_english, in_spanish = parse_period(english, NOW), parse_period(spanish, NOW, "US", "es")
    assert type(in_english) is type(in_spanish)
    if isinstance(in_english, Invalid):
        assert in_english.reason == in_spanish.reason
    else:
        assert (in_english.start, in_english.end, in_english.flexible) == (
            in_spanish.start, in_spanish.end, in_spanish.flexible)


def test_spanish_words_are_read_in_an_english_conversation_and_shown_in_english() -> None:
    parsed = parse_period("el martes por la tarde", NOW, "US", "en")
    assert isinstance(parsed, TimeRequest) and parsed.human() == "Tue 1 Dec, 12:00-17:00"


# --- A time of day alone keeps the day (corrections) ----------------------------------------------

@pytest.mark.parametrize("text, hours", [("mejor por la mañana", "martes 1 de diciembre, 09:00-12:00"),
                                         ("mejor después de las 3", "martes 1 de diciembre, 15:00-17:00"),
                                         ("a las 11 mejor", "martes 1 de diciembre, 11:00-12:00")])
def test_a_spanish_time_of_day_alone_keeps_the_day_already_chosen(text: str, hours: str) -> None:
    result = retime(text, period("el próximo martes por la tarde"), NOW, "US", "es")
    assert isinstance(result, TimeRequest) and result.human("es") == hours


def test_a_spanish_retime_leaves_a_new_day_to_be_read_afresh() -> None:
    chosen = period("el próximo martes por la tarde")
    assert retime("mejor el viernes por la mañana", chosen, NOW, "US", "es") is None
    refusal = retime("mejor por la noche", chosen, NOW, "US", "es")
    assert isinstance(refusal, Invalid) and refusal.reason == "outside_hours"


# --- Dates shown back: Babel, in the conversation's language ----------------------------------------

@pytest.mark.parametrize(
    "day, language, shown",
    [(date(2026, 12, 8), "es", "martes 8 de diciembre"), (date(2026, 12, 8), "en", "Tue 8 Dec"),
     (date(2027, 1, 2), "es", "sábado 2 de enero"), (date(2026, 11, 25), "es", "miércoles 25 de noviembre"),
     (date(2026, 12, 8), None, "Tue 8 Dec"), (date(2026, 12, 8), "fr", "Tue 8 Dec")],
)
def test_a_day_is_written_with_babels_names_in_the_conversations_language(
    day: date, language: str, shown: str
) -> None:
    assert day_label(day, language) == shown



@pytest.mark.parametrize("text, language, shown", [("Tuesday the 8th", "en", "Tue 8 Dec, 09:00-17:00"),
                                                   ("el martes 8", "es", "martes 8 de diciembre, 09:00-17:00"),
                                                   # English "Monday 10" may be a time: the weekday stays.
                                                   ("monday 10", "en", "Mon 30 Nov, 09:00-17:00")])
def test_a_weekday_with_a_day_of_the_month_is_that_date(text: str, language: str, shown: str) -> None:
    parsed = parse_period(text, NOW, "US", language)
    assert isinstance(parsed, TimeRequest) and parsed.human(language) == shown

"""The clinic's hours in a Spanish conversation (actions/clinic_info.py): day names, hours
and holidays written by Babel in Spanish; the question may be in either language."""
from __future__ import annotations

from datetime import date

import pytest

from actions.clinic_info import answer
from clinic import settings


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch):
    for name in ("CLINIC_OPENING_HOURS", "CLINIC_CLOSED_DAYS", "CLINIC_HOURS"):
        monkeypatch.delenv(name, raising=False)
    settings.reset()
    yield
    settings.reset()


@pytest.mark.parametrize("text", ["¿abren el sábado?", "are you open on saturday?"])
def test_a_closed_day_is_named_in_spanish(text: str) -> None:
    assert answer("clinic_hours", text, settings.clinic_details(), date(2026, 12, 2), "es") == [
        ("utter_clinic_closed_on_day", {"day": "sábado"})]


def test_an_open_day_and_its_hours_are_written_in_spanish() -> None:
    assert answer("clinic_hours", "¿atienden el miércoles?", settings.clinic_details(), date(2026, 12, 2), "es") == [
        ("utter_clinic_open_on_day", {"day": "miércoles", "day_hours": "9:00–17:00"})]


def test_holidays_are_written_in_spanish(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_CLOSED_DAYS", "2026-12-25")
    replies = answer("clinic_hours", "¿cuál es su horario?", settings.clinic_details(), date(2026, 12, 2), "es")
    assert replies == [("utter_clinic_hours", {}),
                       ("utter_clinic_closed_days", {"closed_days": "25 de diciembre de 2026"})]

"""Every setting is read in clinic/settings.py, and a value the assistant cannot use stops
the launcher at once with every problem named, before any server starts."""
from __future__ import annotations

import subprocess
import sys

import pytest

from clinic import settings
from tests.conftest import ROOT


@pytest.fixture(autouse=True)
def fresh_settings():
    settings.reset()
    yield
    settings.reset()


def test_the_defaults_are_a_working_example_clinic(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLINIC_NAME", "CLINIC_TIMEZONE", "RETENTION_DAYS", "MAX_CONCURRENT_TURNS", "TWILIO_NUMBER",
                 "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "CALLBACK_URL"):
        monkeypatch.delenv(name, raising=False)
    assert settings.problems() == []
    assert settings.clinic_details().retention_days == 30
    assert settings.twilio() is None and settings.callback() is None


@pytest.mark.parametrize("name, value, reason", [
    ("RETENTION_DAYS", "thirty", "RETENTION_DAYS must be a whole number"),
    ("RETENTION_DAYS", "0", "RETENTION_DAYS must be above 0"),
    ("CLINIC_TIMEZONE", "Mars/Olympus", "CLINIC_TIMEZONE must be an IANA time zone"),
    ("MAX_MESSAGE_CHARS", "-5", "MAX_MESSAGE_CHARS must be above 0"),
    ("ADMISSION_MESSAGES_PER_CONVERSATION", "0", "ADMISSION_MESSAGES_PER_CONVERSATION must be above 0"),
    ("DELIVERY_TIMEOUT_SECONDS", "soon", "DELIVERY_TIMEOUT_SECONDS must be a number"),
    ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be"),
    ("RASA_PORT", "70000", "RASA_PORT must be a port number"),
    ("TWILIO_NUMBER", "+15550100", "the SMS channel needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN"),
    ("STAFF_CONSOLE_PORT", "0", "STAFF_CONSOLE_PORT must be above 0"),
    ("STAFF_CONSOLE_SECURE_COOKIES", "maybe", "STAFF_CONSOLE_SECURE_COOKIES must be on or off"),
    ("STAFF_SESSION_IDLE_MINUTES", "half an hour", "STAFF_SESSION_IDLE_MINUTES must be a whole number"),
    ("STAFF_LOCKOUT_ATTEMPTS", "-1", "STAFF_LOCKOUT_ATTEMPTS must be above 0"),
])
def test_a_value_that_cannot_be_used_is_named_with_its_reason(
        monkeypatch: pytest.MonkeyPatch, name: str, value: str, reason: str) -> None:
    monkeypatch.setenv(name, value)
    found = settings.problems()
    assert len(found) == 1 and found[0].startswith(reason), found


def test_the_launcher_refuses_to_start_with_every_bad_setting_named() -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "RETENTION_DAYS": "never", "CLINIC_TIMEZONE": "Nowhere"}
    done = subprocess.run([sys.executable, "-m", "ops.stack"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "RETENTION_DAYS must be a whole number" in done.stderr and "CLINIC_TIMEZONE" in done.stderr
    assert "Starting" not in done.stdout


def test_the_staff_console_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STAFF_CONSOLE_PORT", "STAFF_CONSOLE_HOST", "STAFF_SESSION_IDLE_MINUTES",
                 "STAFF_CONSOLE_SECURE_COOKIES", "STAFF_LOCKOUT_ATTEMPTS", "STAFF_LOCKOUT_ADDRESS_ATTEMPTS",
                 "STAFF_LOCKOUT_MINUTES", "STAFF_SLOW_AFTER_FAILURES"):
        monkeypatch.delenv(name, raising=False)
    console = settings.console()
    assert (console.host, console.port, console.session_idle_minutes, console.secure_cookies) == \
        ("127.0.0.1", 8090, 30, False)
    assert (console.slow_after, console.lockout_attempts, console.lockout_address_attempts,
            console.lockout_minutes) == (3, 5, 20, 15)
    monkeypatch.setenv("STAFF_CONSOLE_SECURE_COOKIES", "on")
    assert settings.console().secure_cookies is True

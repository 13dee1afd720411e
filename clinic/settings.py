"""Every setting the assistant reads from its environment, in one place.

Each setting is read by one function here, typed, with its default and a clear error when
its value cannot be used (README, "Configuration", lists them all). The launcher calls
`check()` before it starts anything, so a bad value stops `make run` with a message rather
than a server failing later. Results are cached per process; tests that change the
environment call `reset()`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Dict, List, Mapping, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clinic.hours import HoursError, OpeningHours, parse_opening_hours
from clinic.languages import REPLY_LANGUAGES, reply_language, spoken_languages

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingError(ValueError):
    """An environment variable with a value the assistant cannot use."""


# -- readers -----------------------------------------------------------------------------

def _text(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


def _optional(name: str) -> Optional[str]:
    return os.environ.get(name, "").strip() or None


def _number(name: str, default: float, *, whole: bool = False) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise SettingError(f"{name} must be {kind}, got {raw!r}") from None
    if value <= 0:
        raise SettingError(f"{name} must be above 0, got {raw}")
    return value


def _positive_int(name: str, default: int) -> int:
    return int(_number(name, default, whole=True))


# -- where things are kept -------------------------------------------------------------

def var_dir() -> Path:
    """VAR_DIR: runtime data (SQLite databases, logs, the generated API token)."""
    return Path(_text("VAR_DIR", str(PROJECT_ROOT / "var")))


def database_url() -> str:
    """DATABASE_URL: where booking/call-back requests and their outbox live."""
    return _text("DATABASE_URL") or f"sqlite:///{var_dir() / 'requests.db'}"


def tracker_store_url() -> str:
    """TRACKER_STORE_URL: where conversations are kept; SQLite in var/ unless configured."""
    return _text("TRACKER_STORE_URL") or f"sqlite:///{var_dir() / 'tracker.db'}"


def log_level() -> str:
    """LOG_LEVEL: INFO unless set. DEBUG prints slot values: never in production."""
    level = _text("LOG_LEVEL", "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise SettingError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {level!r}")
    return level


# -- the clinic --------------------------------------------------------------------------

@dataclass(frozen=True)
class ClinicDetails:
    """What the assistant tells patients about the clinic itself."""

    name: str
    phone: str
    urgent_phone: str
    emergency_number: str
    timezone: str
    opening_hours: OpeningHours
    default_region: str
    retention_days: int
    # Practical details; None when the clinic has not configured them (the assistant then
    # says so and gives the phone, rather than guessing).
    address: Optional[str] = None
    directions: Optional[str] = None
    languages: Optional[str] = None
    # Directions are prose: Spanish-speaking patients read CLINIC_DIRECTIONS_ES when it is set.
    directions_es: Optional[str] = None

    @cached_property
    def hours(self) -> str:
        """The opening hours as patients read them, e.g. "Monday–Friday 9 AM – 5 PM"."""
        return self.as_template_values()["clinic_hours"]

    @cached_property
    def _template_values_by_language(self) -> Dict[str, Mapping[str, str]]:
        # Rendered once per settings read, for every reply language: the NLG fills these
        # into every response, and Babel's formatting costs tens of microseconds a call.
        return {language: MappingProxyType(self._render_template_values(language))
                for language in REPLY_LANGUAGES}

    def as_template_values(self, language: str = "en") -> Mapping[str, str]:
        """Values for the {placeholders} in domain responses, in the reply language."""
        return self._template_values_by_language[reply_language(language)]

    def _render_template_values(self, language: str) -> Dict[str, str]:
        directions = (self.directions_es if language == "es" else None) or self.directions
        return {
            "clinic_name": self.name,
            "clinic_phone": self.phone,
            "urgent_phone": self.urgent_phone,
            "emergency_number": self.emergency_number,
            "clinic_hours": self.opening_hours.describe(language),
            "clinic_address": self.address or "",
            "clinic_directions": directions or "",
            "clinic_languages": spoken_languages(self.languages or "", language),
        }


def clinic_timezone() -> str:
    """CLINIC_TIMEZONE: an IANA name; dates and hours the patient gives are read in it."""
    timezone = _text("CLINIC_TIMEZONE", "America/New_York")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingError(f"CLINIC_TIMEZONE must be an IANA time zone such as America/New_York, got {timezone!r}") from None
    return timezone


def opening_hours() -> OpeningHours:
    """CLINIC_OPENING_HOURS (e.g. "Mon-Fri 09:00-17:00; Sat 09:00-12:00") and
    CLINIC_CLOSED_DAYS (ISO dates, comma-separated): see clinic/hours.py."""
    if _optional("CLINIC_HOURS"):
        raise SettingError("CLINIC_HOURS is replaced by CLINIC_OPENING_HOURS, per weekday: "
                           "e.g. 'Mon-Fri 09:00-17:00; Sat 09:00-12:00' (README, Configuration)")
    try:
        return parse_opening_hours(_text("CLINIC_OPENING_HOURS", "Mon-Fri 09:00-17:00"),
                                   _text("CLINIC_CLOSED_DAYS"))
    except HoursError as error:
        raise SettingError(f"CLINIC_OPENING_HOURS / CLINIC_CLOSED_DAYS: {error}") from None


def retention_days() -> int:
    """RETENTION_DAYS: how long requests and conversations are kept (README, Privacy)."""
    return _positive_int("RETENTION_DAYS", 30)


@lru_cache(maxsize=1)
def clinic_details() -> ClinicDetails:
    """CLINIC_*; the example values are a fictional clinic."""
    return ClinicDetails(
        name=_text("CLINIC_NAME", "Example Vein Clinic"),
        phone=_text("CLINIC_PHONE", "+1 555 0100"),
        urgent_phone=_text("CLINIC_URGENT_PHONE", "+1 555 0199"),
        emergency_number=_text("CLINIC_EMERGENCY_NUMBER", "911"),
        timezone=clinic_timezone(),
        opening_hours=opening_hours(),
        default_region=_text("CLINIC_DEFAULT_REGION", "US").upper(),
        retention_days=retention_days(),
        address=_optional("CLINIC_ADDRESS"),
        directions=_optional("CLINIC_DIRECTIONS"),
        languages=_optional("CLINIC_LANGUAGES"),
        directions_es=_optional("CLINIC_DIRECTIONS_ES"),
    )


def fhir_system_base() -> str:
    """FHIR_SYSTEM_BASE: the clinic's identifier namespace in FHIR resources."""
    return _text("FHIR_SYSTEM_BASE", "https://vein-clinic.example/fhir").rstrip("/")


# -- the Rasa server -----------------------------------------------------------------------

@lru_cache(maxsize=None)
def max_message_chars() -> int:
    """MAX_MESSAGE_CHARS: longer messages are screened for red flags, then declined politely."""
    return _positive_int("MAX_MESSAGE_CHARS", 1000)


DEFAULT_MAX_CONCURRENT_TURNS = 2


def max_concurrent_turns() -> int:
    """MAX_CONCURRENT_TURNS: turns one Rasa process runs at once; the rest wait their turn."""
    return _positive_int("MAX_CONCURRENT_TURNS", DEFAULT_MAX_CONCURRENT_TURNS)


DEFAULT_ADMISSION_MESSAGES_PER_CONVERSATION = 3


def admission_messages_per_conversation() -> int:
    """ADMISSION_MESSAGES_PER_CONVERSATION: messages of one conversation (REST sender, socket.io
    session, phone number) in the Rasa server at once; one more is asked to wait a moment,
    unless it reads as a red flag (addons/patches/admission.py). 3: one being answered and
    two a patient typed meanwhile."""
    return _positive_int("ADMISSION_MESSAGES_PER_CONVERSATION", DEFAULT_ADMISSION_MESSAGES_PER_CONVERSATION)


# -- delivery to the clinic's booking system --------------------------------------------

@dataclass(frozen=True)
class DeliverySettings:
    url: Optional[str]
    secret: Optional[str]
    poll_seconds: float = 1.0
    timeout_seconds: float = 10.0
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 30.0
    lease_seconds: float = 60.0
    database_url: Optional[str] = None


def delivery() -> DeliverySettings:
    """BOOKING_WEBHOOK_URL/SECRET and DELIVERY_*: where and how the worker delivers."""
    timeout = _number("DELIVERY_TIMEOUT_SECONDS", 10.0)
    return DeliverySettings(
        url=_optional("BOOKING_WEBHOOK_URL"),
        secret=_optional("BOOKING_WEBHOOK_SECRET"),
        poll_seconds=_number("DELIVERY_POLL_SECONDS", 1.0),
        timeout_seconds=timeout,
        retry_base_seconds=_number("DELIVERY_RETRY_BASE_SECONDS", 1.0),
        retry_max_seconds=_number("DELIVERY_RETRY_MAX_SECONDS", 30.0),
        # Longer than one attempt can take, so a live worker never loses its row.
        lease_seconds=_number("DELIVERY_LEASE_SECONDS", 2 * timeout + 30),
    )


# -- channels ------------------------------------------------------------------------------

@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    number: str
    public_base_url: Optional[str] = None
    api_base_url: Optional[str] = None


def twilio() -> Optional[TwilioSettings]:
    """TWILIO_*: None (channel off) unless the account SID, auth token and number are all set."""
    required = {name: _text(name) for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_NUMBER")}
    if not any(required.values()):
        return None
    missing = [name for name, value in required.items() if not value]
    if missing:
        raise SettingError(f"the SMS channel needs {', '.join(missing)} as well (or none of TWILIO_*)")
    return TwilioSettings(
        account_sid=required["TWILIO_ACCOUNT_SID"],
        auth_token=required["TWILIO_AUTH_TOKEN"],
        number=required["TWILIO_NUMBER"],
        public_base_url=_optional("PUBLIC_BASE_URL"),
        api_base_url=_optional("TWILIO_API_BASE_URL"),
    )


@dataclass(frozen=True)
class CallbackSettings:
    url: str
    token: Optional[str] = None


def callback() -> Optional[CallbackSettings]:
    """CALLBACK_URL and CALLBACK_TOKEN: the callback channel, off unless the URL is set."""
    url = _text("CALLBACK_URL")
    return CallbackSettings(url, _optional("CALLBACK_TOKEN")) if url else None


# -- the launcher and the web page ---------------------------------------------------------

def port(name: str, default: int) -> int:
    """RASA_PORT, ACTION_PORT, WEB_PORT, STAFF_CONSOLE_PORT."""
    value = _positive_int(name, default)
    if value > 65535:
        raise SettingError(f"{name} must be a port number (1-65535), got {value}")
    return value


def rasa_auth_token() -> Optional[str]:
    """RASA_AUTH_TOKEN: the HTTP API's token; the launcher generates one when unset."""
    return _optional("RASA_AUTH_TOKEN")


def web_host() -> str:
    """WEB_HOST: the web chat page's address; loopback unless an operator says otherwise."""
    return _text("WEB_HOST", "127.0.0.1")


def model_path() -> Path:
    """TEST_MODEL_PATH: a model trained elsewhere, for a developer's tests."""
    return Path(_text("TEST_MODEL_PATH", str(PROJECT_ROOT / "models")))


# -- the staff console (staff/console/) --------------------------------------------------

def _switch(name: str, default: bool = False) -> bool:
    raw = _text(name).lower()
    if not raw:
        return default
    if raw in {"1", "on", "true", "yes"}:
        return True
    if raw in {"0", "off", "false", "no"}:
        return False
    raise SettingError(f"{name} must be on or off, got {raw!r}")


@dataclass(frozen=True)
class ConsoleSettings:
    host: str = "127.0.0.1"
    port: int = 8090
    session_idle_minutes: int = 30
    secure_cookies: bool = False
    # Failed sign-ins: after `slow_after` in a row each next answer waits a second more
    # (at most 5); after `lockout_attempts` for one email, or `lockout_address_attempts`
    # from one client address, sign-in is refused for `lockout_minutes`.
    slow_after: int = 3
    lockout_attempts: int = 5
    lockout_address_attempts: int = 20
    lockout_minutes: int = 15
    # The Rasa server's HTTP API, through which a take-over's messages reach the patient
    # (STAFF_CONSOLE_RASA_URL; the launcher sets it to its Rasa server; RASA_AUTH_TOKEN).
    rasa_url: str = "http://127.0.0.1:5005"


def console() -> ConsoleSettings:
    """STAFF_CONSOLE_* , STAFF_SESSION_IDLE_MINUTES and STAFF_LOCKOUT_*: the staff console."""
    return ConsoleSettings(
        host=_text("STAFF_CONSOLE_HOST", "127.0.0.1"),
        port=port("STAFF_CONSOLE_PORT", 8090),
        session_idle_minutes=_positive_int("STAFF_SESSION_IDLE_MINUTES", 30),
        secure_cookies=_switch("STAFF_CONSOLE_SECURE_COOKIES"),
        slow_after=_positive_int("STAFF_SLOW_AFTER_FAILURES", 3),
        lockout_attempts=_positive_int("STAFF_LOCKOUT_ATTEMPTS", 5),
        lockout_address_attempts=_positive_int("STAFF_LOCKOUT_ADDRESS_ATTEMPTS", 20),
        lockout_minutes=_positive_int("STAFF_LOCKOUT_MINUTES", 15),
        # RASA_PORT as written: a bad one is reported once, by its own check.
        rasa_url=_text("STAFF_CONSOLE_RASA_URL", f"http://127.0.0.1:{_text('RASA_PORT', '5005')}").rstrip("/"),
    )


# -- start-up --------------------------------------------------------------------------

_CHECKS: List[Callable[[], object]] = [
    var_dir, database_url, tracker_store_url, log_level, clinic_timezone, opening_hours, retention_days, fhir_system_base,
    max_message_chars, max_concurrent_turns, admission_messages_per_conversation, delivery, twilio, callback, rasa_auth_token, web_host, console,
    lambda: [port(name, default) for name, default in (("RASA_PORT", 5005), ("ACTION_PORT", 5055), ("WEB_PORT", 8080))],
]


def problems() -> List[str]:
    """Every setting whose value cannot be used, each with its reason (empty when all are fine)."""
    reset()
    found = []
    for read in _CHECKS:
        try:
            read()
        except SettingError as error:
            found.append(str(error))
    return found


def check() -> None:
    """Raise one SettingError naming every bad setting; the launcher calls this first."""
    found = problems()
    if found:
        raise SettingError("bad settings:\n  " + "\n  ".join(found))


def reset() -> None:
    """Forget cached values (tests that change the environment)."""
    clinic_details.cache_clear()
    max_message_chars.cache_clear()


# -- the project's changes to Rasa (addons/patches/README.md) --------------------------------

# One switch each, RASA_PATCH_<NAME>=on|off, default on; addons/patches installs them.
RASA_PATCHES = ("action_apology", "reply_check", "graph_runner", "keep_alive", "admission", "log_copies", "gc_freeze",
                "rule_index")
_SWITCH_PREFIX = "RASA_PATCH_"
_SWITCH_VALUES = {"on": True, "true": True, "1": True, "yes": True, "off": False, "false": False, "0": False, "no": False}


def rasa_patch_switches() -> dict[str, bool]:
    """RASA_PATCH_<NAME>: on (default) or off for each change to Rasa; a misspelt name is an
    error rather than a switch silently ignored."""
    unknown = sorted(name for name in os.environ
                     if name.startswith(_SWITCH_PREFIX) and name[len(_SWITCH_PREFIX):].lower() not in RASA_PATCHES)
    if unknown:
        known = ", ".join(_SWITCH_PREFIX + patch.upper() for patch in RASA_PATCHES)
        raise SettingError(f"{', '.join(unknown)}: no such patch switch (the switches are {known})")
    switches = {}
    for patch in RASA_PATCHES:
        name = _SWITCH_PREFIX + patch.upper()
        raw = _text(name, "on").lower()
        if raw not in _SWITCH_VALUES:
            raise SettingError(f"{name} must be on or off, got {raw!r}")
        switches[patch] = _SWITCH_VALUES[raw]
    return switches


_CHECKS.append(rasa_patch_switches)

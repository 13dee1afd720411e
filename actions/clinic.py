"""Clinic settings, read from the environment (see README, "Configuration").

Shared by the action server, the delivery worker and the Rasa server add-ons,
so it must stay free of heavy imports.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", PROJECT_ROOT / "var"))


@dataclass(frozen=True)
class ClinicDetails:
    """What the assistant tells patients about the clinic itself."""

    name: str
    phone: str
    urgent_phone: str
    emergency_number: str
    timezone: str
    hours: str
    default_region: str
    retention_days: int

    def as_template_values(self) -> dict[str, str]:
        """Values for the {placeholders} in domain responses."""
        return {
            "clinic_name": self.name,
            "clinic_phone": self.phone,
            "urgent_phone": self.urgent_phone,
            "emergency_number": self.emergency_number,
            "clinic_hours": self.hours,
        }


@lru_cache(maxsize=1)
def clinic_details() -> ClinicDetails:
    """Read once per process; the example values are a fictional clinic."""
    env = os.environ.get
    return ClinicDetails(
        name=env("CLINIC_NAME", "Example Vein Clinic"),
        phone=env("CLINIC_PHONE", "+1 555 0100"),
        urgent_phone=env("CLINIC_URGENT_PHONE", "+1 555 0199"),
        emergency_number=env("CLINIC_EMERGENCY_NUMBER", "911"),
        timezone=env("CLINIC_TIMEZONE", "America/New_York"),
        hours=env("CLINIC_HOURS", "Monday to Friday, 9 am to 5 pm"),
        default_region=env("CLINIC_DEFAULT_REGION", "US"),
        retention_days=int(env("RETENTION_DAYS", "30")),
    )


def database_url() -> str:
    """Where booking/callback requests and their outbox live."""
    return os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'requests.db'}"


def tracker_store_url() -> str:
    """Where conversations are kept; SQLite in var/ unless configured."""
    return os.environ.get("TRACKER_STORE_URL") or f"sqlite:///{VAR_DIR / 'tracker.db'}"

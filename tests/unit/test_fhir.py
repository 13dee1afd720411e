"""FHIR R4 payloads, checked by hand against the R4 specification's rules.

Appointment: status 1..1 (proposed), participant 1..* each with status 1..1;
app-3: only proposed/cancelled appointments may lack start/end.
CommunicationRequest: status 1..1, priority from the request-priority value set.
Both: contained resources are referenced from the container (dom-3), have no
narrative or nested contained (dom-2, dom-4); no element is null or empty.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any, Iterator, List, Optional, Tuple
from zoneinfo import ZoneInfo

import pytest

from clinic.settings import clinic_details
from clinic.fhir import to_resource
from clinic.store import DeliveryState, RequestKind, StoredRequest

# FHIR R4 dateTime, from the specification's regex (the time zone is required when a time is given).
FHIR_DATETIME = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?"
)
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
APPOINTMENT_STATUS = {"proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
                      "entered-in-error", "checked-in", "waitlist"}
PARTICIPATION_STATUS = {"accepted", "declined", "tentative", "needs-action"}
REQUEST_STATUS = {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
REQUEST_PRIORITY = {"routine", "urgent", "asap", "stat"}
CONTACT_SYSTEM = {"phone", "fax", "email", "pager", "url", "sms", "other"}
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(autouse=True)
def clinic_in_new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CLINIC_TIMEZONE", "America/New_York")
    monkeypatch.delenv("FHIR_SYSTEM_BASE", raising=False)
    clinic_details.cache_clear()
    yield
    clinic_details.cache_clear()


def stored(kind: RequestKind = RequestKind.BOOKING, **changes: Any) -> StoredRequest:
    values = dict(
        id="0b8f3a4e-8c1d-4f7e-9a51-2f0d6c3b7e11", reference="VC-7K3Q9P", kind=kind,
        conversation_id="conv-42", channel="socketio", full_name="Ada Testpatient",
        phone="+12125550143", email="ada@example.com", contact_method="phone",
        # Tuesday 12 March 2030, 1 pm to 5 pm in New York (EDT, -04:00)
        requested_start=datetime(2030, 3, 12, 17, 0, tzinfo=timezone.utc),
        requested_end=datetime(2030, 3, 12, 21, 0, tzinfo=timezone.utc),
        preferred_time_text="next Tuesday afternoon", reason="sclerotherapy_treatment",
        consent_version="2026-11-v1", patient_message=None,
        created_at=datetime(2030, 3, 1, 15, 30, 12, 345678, tzinfo=timezone.utc),
        state=DeliveryState.PENDING, attempts=0, next_attempt_at=None, last_status=None,
        last_error=None, delivered_at=None,
    )
    values.update(changes)
    return StoredRequest(**values)  # type: ignore[arg-type]


def walk(node: Any, path: str = "") -> Iterator[Tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}[{index}]")


def check_resource_rules(resource: dict) -> dict:
    """Rules every resource here must meet; returns the contained Patient."""
    assert json.loads(json.dumps(resource)) == resource  # plain JSON
    for path, value in walk(resource):
        assert value is not None, f"null at {path}"
        assert value not in ("", [], {}), f"empty element at {path}"
    contained = resource["contained"]
    assert [c["resourceType"] for c in contained] == ["Patient"]
    ids = {f"#{c['id']}" for c in contained}
    references = {v for p, v in walk(resource) if p.endswith(".reference")}
    assert references <= ids, "every local reference resolves to a contained resource"
    assert ids <= references, "every contained resource is referenced (dom-3)"
    for resource_inside in contained:
        assert "contained" not in resource_inside and "text" not in resource_inside
    for extension in resource.get("extension", []):
        assert re.match(r"https?://", extension["url"]) and set(extension) == {"url", "valueString"}
    for identifier in resource["identifier"]:
        assert identifier["system"] and identifier["value"]
    patient = contained[0]
    for point in patient.get("telecom", []):
        assert point["system"] in CONTACT_SYSTEM
        if point["system"] in ("phone", "sms"):
            assert E164.fullmatch(point["value"])
    return patient


def identifier(resource: dict, system_end: str) -> Optional[str]:
    return next((i["value"] for i in resource["identifier"] if i["system"].endswith(system_end)), None)


def extension(resource: dict, name: str) -> Optional[str]:
    return next((e["valueString"] for e in resource["extension"] if e["url"].endswith("/" + name)), None)


# --- Appointment -----------------------------------------------------------------------


def test_a_booking_is_a_proposed_appointment() -> None:
    resource = to_resource(stored())
    patient = check_resource_rules(resource)

    assert resource["resourceType"] == "Appointment"
    assert resource["status"] == "proposed" and resource["status"] in APPOINTMENT_STATUS
    assert len(resource["participant"]) >= 1
    for participant in resource["participant"]:
        assert participant["status"] in PARTICIPATION_STATUS
        assert participant["actor"]["reference"] == "#patient"
    assert patient["name"] == [{"text": "Ada Testpatient"}]
    assert {"system": "phone", "value": "+12125550143", "rank": 1} in patient["telecom"]
    assert {"system": "email", "value": "ada@example.com"} in patient["telecom"]

    assert identifier(resource, "/request-reference") == "VC-7K3Q9P"
    assert identifier(patient, "/request-reference") == "VC-7K3Q9P"
    assert identifier(resource, "rfc:3986") == "urn:uuid:0b8f3a4e-8c1d-4f7e-9a51-2f0d6c3b7e11"
    assert extension(resource, "conversation-id") == "conv-42"
    assert extension(resource, "channel") == "socketio"
    assert extension(resource, "consent-version") == "2026-11-v1"

    reason = resource["reasonCode"][0]
    assert reason["coding"][0]["code"] == "sclerotherapy_treatment"
    assert reason["text"] == "Sclerotherapy treatment"
    assert "next Tuesday afternoon" in resource["comment"]
    assert FHIR_DATETIME.fullmatch(resource["created"])
    assert resource["created"] == "2030-03-01T10:30:12-05:00"


def test_the_requested_period_is_on_the_day_asked_for_in_the_clinics_time_zone() -> None:
    # 7:30 pm on Monday 7 January in New York is already Tuesday in UTC.
    resource = to_resource(stored(
        requested_start=datetime(2030, 1, 8, 0, 30, tzinfo=timezone.utc),
        requested_end=datetime(2030, 1, 8, 1, 0, tzinfo=timezone.utc),
    ))
    period = resource["requestedPeriod"]
    assert period == [{"start": "2030-01-07T19:30:00-05:00", "end": "2030-01-07T20:00:00-05:00"}]
    for value in period[0].values():
        assert FHIR_DATETIME.fullmatch(value)
        assert datetime.fromisoformat(value).astimezone(NEW_YORK).date().isoformat() == "2030-01-07"
    assert datetime.fromisoformat(period[0]["start"]) <= datetime.fromisoformat(period[0]["end"])


def test_summer_time_offsets_follow_the_date() -> None:
    period = to_resource(stored())["requestedPeriod"][0]
    assert period == {"start": "2030-03-12T13:00:00-04:00", "end": "2030-03-12T17:00:00-04:00"}


def test_optional_parts_are_left_out_rather_than_empty() -> None:
    resource = to_resource(stored(email=None, contact_method=None, requested_start=None, requested_end=None,
                                  preferred_time_text=None, reason=None, consent_version=None))
    patient = check_resource_rules(resource)
    assert "requestedPeriod" not in resource and "reasonCode" not in resource and "comment" not in resource
    assert extension(resource, "consent-version") is None
    assert patient["telecom"] == [{"system": "phone", "value": "+12125550143"}]


@pytest.mark.parametrize("method,preferred", [("sms", "sms"), ("email", "email"), ("phone", "phone")])
def test_the_preferred_contact_point_has_rank_one(method: str, preferred: str) -> None:
    patient = check_resource_rules(to_resource(stored(contact_method=method)))
    ranked: List[dict] = [p for p in patient["telecom"] if p.get("rank") == 1]
    assert [p["system"] for p in ranked] == [preferred]


# --- CommunicationRequest ------------------------------------------------------------------------


def test_a_callback_is_a_routine_communication_request() -> None:
    resource = to_resource(stored(RequestKind.CALLBACK, email=None, requested_start=None,
                                  requested_end=None, reason=None, preferred_time_text=None))
    patient = check_resource_rules(resource)
    assert resource["resourceType"] == "CommunicationRequest"
    assert resource["status"] == "active" and resource["status"] in REQUEST_STATUS
    assert resource["priority"] == "routine" and resource["priority"] in REQUEST_PRIORITY
    assert resource["subject"] == {"reference": "#patient"}
    assert patient["telecom"] == [{"system": "phone", "value": "+12125550143", "rank": 1}]
    assert resource["payload"][0]["contentString"]
    assert resource["medium"][0]["coding"][0]["code"] == "PHONE"
    assert FHIR_DATETIME.fullmatch(resource["authoredOn"])
    assert identifier(resource, "/request-reference") == "VC-7K3Q9P"
    assert extension(resource, "consent-version") == "2026-11-v1"
    assert "occurrencePeriod" not in resource


def test_an_urgent_callback_is_urgent_and_carries_the_patients_words() -> None:
    resource = to_resource(stored(RequestKind.URGENT_CALLBACK, email=None, requested_start=None,
                                  requested_end=None, reason=None, preferred_time_text=None,
                                  patient_message="my left calf is swollen and warm"))
    check_resource_rules(resource)
    assert resource["priority"] == "urgent"
    assert '"my left calf is swollen and warm"' in resource["payload"][0]["contentString"]
    assert resource["payload"][0]["contentString"].startswith("Urgent")


def test_the_system_base_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FHIR_SYSTEM_BASE", "https://clinic.example.org/fhir/")
    resource = to_resource(stored())
    assert resource["identifier"][0]["system"] == "https://clinic.example.org/fhir/request-reference"
    assert all(e["url"].startswith("https://clinic.example.org/fhir/StructureDefinition/")
               for e in resource["extension"])

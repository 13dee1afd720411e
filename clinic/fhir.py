"""Stored requests as FHIR R4 resources, the body the delivery worker sends.

* booking                 -> Appointment (status "proposed")
* callback, urgent call-back -> CommunicationRequest (status "active", priority "routine"/"urgent")

Both carry the patient as a contained Patient ("#patient") with name, phone
(E.164) and/or email; the preferred contact method is the ContactPoint with rank 1.

Project-defined identifiers and extensions (FHIR_SYSTEM_BASE, default
https://vein-clinic.example/fhir; a clinic sets its own domain):

| where | system / url | value |
|---|---|---|
| identifier | {base}/request-reference | the reference the patient was given, e.g. VC-7K3Q9P |
| identifier | urn:ietf:rfc:3986 | urn:uuid:<request id> (also the webhook-id) |
| identifier (Patient) | {base}/request-reference | the same reference, to match patient and request |
| extension | {base}/StructureDefinition/conversation-id | valueString: the chat's conversation id |
| extension | {base}/StructureDefinition/channel | valueString: rest, socketio, twilio, ... |
| extension | {base}/StructureDefinition/consent-version | valueString: version of the consent text agreed to |
| reasonCode.coding | {base}/CodeSystem/visit-reason | spider_vein_consultation, sclerotherapy_treatment, follow_up, other |

Times are ISO 8601 with the clinic's UTC offset (CLINIC_TIMEZONE), so the day
in requestedPeriod is the day the patient asked for.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Optional
from zoneinfo import ZoneInfo

from clinic.settings import clinic_details, fhir_system_base
from clinic.store import RequestKind, StoredRequest

Resource = Dict[str, Any]

PATIENT_ID = "patient"
UUID_SYSTEM = "urn:ietf:rfc:3986"
PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"

REASON_LABELS = {
    "spider_vein_consultation": "Spider vein consultation",
    "sclerotherapy_treatment": "Sclerotherapy treatment",
    "follow_up": "Follow-up visit",
    "other": "Something else",
}
# Contact method -> (ContactPoint.system, v3 ParticipationMode code, display)
CONTACT_MEDIA = {
    "phone": ("phone", "PHONE", "telephone"),
    "sms": ("sms", "WRITTEN", "written"),
    "email": ("email", "EMAILWRIT", "email"),
}


def system_base() -> str:
    return fhir_system_base()


def reference_system() -> str:
    return f"{system_base()}/request-reference"


def to_resource(request: StoredRequest) -> Resource:
    """The FHIR resource for a stored request."""
    if request.kind is RequestKind.BOOKING:
        return appointment(request)
    return communication_request(request)


def appointment(request: StoredRequest) -> Resource:
    resource: Resource = {
        "resourceType": "Appointment",
        "contained": [patient(request)],
        "extension": extensions(request),
        "identifier": identifiers(request),
        "status": "proposed",
        "description": _booking_description(request),
        "created": fhir_datetime(request.created_at),
        "participant": [{
            "actor": {"reference": f"#{PATIENT_ID}"},
            "required": "required",
            "status": "needs-action",
        }],
    }
    if request.reason:
        resource["reasonCode"] = [reason_code(request.reason)]
    period = requested_period(request)
    if period:
        resource["requestedPeriod"] = [period]
    if request.preferred_time_text:
        resource["comment"] = f'Patient\'s preferred days and times: "{request.preferred_time_text}"'
    return resource


def communication_request(request: StoredRequest) -> Resource:
    urgent = request.kind is RequestKind.URGENT_CALLBACK
    resource: Resource = {
        "resourceType": "CommunicationRequest",
        "contained": [patient(request)],
        "extension": extensions(request),
        "identifier": identifiers(request),
        "status": "active",
        "category": [{"text": "Urgent call-back request" if urgent else "Call-back request"}],
        "priority": "urgent" if urgent else "routine",
        "subject": {"reference": f"#{PATIENT_ID}"},
        "payload": [{"contentString": callback_text(request)}],
        "authoredOn": fhir_datetime(request.created_at),
        "reasonCode": [{"text": "Urgent call-back requested" if urgent else "Call-back requested"}],
    }
    medium = contact_medium(request.contact_method)
    if medium:
        resource["medium"] = [medium]
    period = requested_period(request)
    if period:
        resource["occurrencePeriod"] = period
    return resource


def callback_text(request: StoredRequest) -> str:
    if request.kind is RequestKind.URGENT_CALLBACK:
        text = "Urgent: the patient asked to be called back as soon as possible."
        if request.patient_message:
            text += f' The patient wrote: "{request.patient_message}"'
        return text
    return "The patient asked to be called back by the clinic's staff."


def patient(request: StoredRequest) -> Resource:
    resource: Resource = {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "identifier": [{"system": reference_system(), "value": request.reference}],
    }
    if request.full_name:
        resource["name"] = [{"text": request.full_name}]
    telecom = telecoms(request)
    if telecom:
        resource["telecom"] = telecom
    return resource


def telecoms(request: StoredRequest) -> List[Resource]:
    """Phone, SMS and email contact points; rank 1 marks the patient's preferred one."""
    points: List[Resource] = []
    if request.phone:
        points.append({"system": "phone", "value": request.phone})
        if request.contact_method == "sms":
            points.append({"system": "sms", "value": request.phone})
    if request.email:
        points.append({"system": "email", "value": request.email})
    preferred = CONTACT_MEDIA.get(request.contact_method or "", (None,))[0]
    for point in points:
        if point["system"] == preferred:
            point["rank"] = 1
            break
    return points


def contact_medium(method: Optional[str]) -> Optional[Resource]:
    if method not in CONTACT_MEDIA:
        return None
    _, code, display = CONTACT_MEDIA[method]
    return {"coding": [{"system": PARTICIPATION_MODE, "code": code, "display": display}],
            "text": {"phone": "Phone call", "sms": "Text message", "email": "Email"}[method]}


def reason_code(reason: str) -> Resource:
    label = REASON_LABELS.get(reason, reason)
    return {"coding": [{"system": f"{system_base()}/CodeSystem/visit-reason", "code": reason,
                        "display": label}], "text": label}


def identifiers(request: StoredRequest) -> List[Resource]:
    return [
        {"use": "official", "system": reference_system(), "value": request.reference},
        {"system": UUID_SYSTEM, "value": f"urn:uuid:{request.id}"},
    ]


def extensions(request: StoredRequest) -> List[Resource]:
    base = f"{system_base()}/StructureDefinition"
    values = [("conversation-id", request.conversation_id), ("channel", request.channel),
              ("consent-version", request.consent_version)]
    return [{"url": f"{base}/{name}", "valueString": value} for name, value in values if value]


def requested_period(request: StoredRequest) -> Optional[Resource]:
    period: Resource = {}
    if request.requested_start:
        period["start"] = fhir_datetime(request.requested_start)
    if request.requested_end:
        period["end"] = fhir_datetime(request.requested_end)
    return period or None


def fhir_datetime(moment: datetime) -> str:
    """ISO 8601 in the clinic's time zone, with its offset, to the second (FHIR dateTime)."""
    local = moment.astimezone(ZoneInfo(clinic_details().timezone))
    return local.replace(microsecond=0).isoformat()


def _booking_description(request: StoredRequest) -> str:
    label = REASON_LABELS.get(request.reason or "", "Appointment")
    return f"{label} requested through the chat assistant (reference {request.reference})"

"""What the staff command (staff/cli.py) and the staff console (staff/console/) both do
with requests: times in the clinic's zone, one request's fields in full, and retrying a
dead letter. One copy, so the two tools never disagree."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import List, Optional, Tuple
from zoneinfo import ZoneInfo

from clinic import store
from clinic.fhir import REASON_LABELS
from clinic.settings import clinic_details

STATES = [state.value for state in store.DeliveryState]


def local_time(moment: Optional[datetime]) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(ZoneInfo(clinic_details().timezone)).strftime("%Y-%m-%d %H:%M")


def short(text: Optional[str], width: int = 40) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def request_fields(request: store.StoredRequest) -> List[Tuple[str, str]]:
    """One request in full, as (label, value) pairs, in the order staff read them."""
    return [
        ("Reference", request.reference),
        ("Request id", request.id),
        ("Kind", request.kind.value),
        ("Created", local_time(request.created_at)),
        ("Name", request.full_name or "-"),
        ("Phone", request.phone or "-"),
        ("Email", request.email or "-"),
        ("Contact by", request.contact_method or "-"),
        ("Reason", REASON_LABELS.get(request.reason or "", request.reason or "-")),
        ("Requested from", local_time(request.requested_start)),
        ("Requested to", local_time(request.requested_end)),
        ("Patient wrote", request.preferred_time_text or request.patient_message or "-"),
        ("Consent version", request.consent_version or "-"),
        ("Conversation", f"{request.conversation_id} ({request.channel})"),
        ("State", request.state.value),
        ("Attempts", str(request.attempts)),
        ("Next attempt", local_time(request.next_attempt_at) if request.state is store.DeliveryState.PENDING else "-"),
        ("Last status", str(request.last_status) if request.last_status is not None else "-"),
        ("Last error", request.last_error or "-"),
        ("Delivered", local_time(request.delivered_at)),
    ]


class RetryOutcome(str, enum.Enum):
    RETRIED = "retried"
    NOT_FOUND = "not_found"
    NOT_DEAD = "not_dead"


@dataclass(frozen=True)
class RetryResult:
    outcome: RetryOutcome
    reference: str
    message: str

    @property
    def ok(self) -> bool:
        return self.outcome is RetryOutcome.RETRIED


def retry(reference: str) -> RetryResult:
    """A dead letter back to pending (the delivery worker sends it shortly), with the sentence to show."""
    if store.retry_dead(reference):
        return RetryResult(RetryOutcome.RETRIED, reference.upper(),
                           f"{reference.upper()} is pending again; the delivery worker will send it shortly.")
    found = store.get_request(reference)
    if found is None:
        return RetryResult(RetryOutcome.NOT_FOUND, reference, f"No request {reference}.")
    return RetryResult(RetryOutcome.NOT_DEAD, found.reference,
                       f"{found.reference} is {found.state.value}, not a dead letter; nothing to retry.")

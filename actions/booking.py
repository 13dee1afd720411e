"""Starting, submitting and cancelling booking and call-back requests.

A request is stored (clinic.store, with its outbox row for the delivery worker)
only when the patient consented and, for a booking, confirmed the summary. The
patient is told the reference only once the store said it saved the request;
if it could not, the patient hears so and gets the clinic's phone number. The
words are responses in domain/forms.yml. Every
request slot is cleared afterwards, whatever the outcome, so the patient's
details do not linger in the conversation's slots.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import List, Optional, Sequence

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.forms import (
    CONFIRMED, CONSENT, CONSENT_VER, EMAIL, END, METHOD, NAME, PHONE, REASON, REQUEST_SLOTS,
    START, TIME, TOPIC, contact_text,
)
from actions.parsers.answers import display_phone
from clinic.store import NewRequest, RequestKind, SavedRequest, StoreUnavailable, save_request

logger = logging.getLogger(__name__)

# Slots a call-back request may reuse from a booking started in the same conversation.
CALLBACK_KEEPS = (NAME, PHONE)


def cleared(keep: Sequence[str] = ()) -> List[EventType]:
    return [SlotSet(slot, None) for slot in REQUEST_SLOTS if slot not in keep]


def _channel(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or "unknown"


def _when(value: Optional[str]) -> Optional[datetime]:
    return datetime.fromisoformat(value) if value else None


def booking_request(tracker: Tracker) -> NewRequest:
    slots = tracker.slots
    return NewRequest(
        kind=RequestKind.BOOKING,
        conversation_id=tracker.sender_id,
        channel=_channel(tracker),
        full_name=slots.get(NAME),
        phone=slots.get(PHONE),
        email=slots.get(EMAIL),
        contact_method=slots.get(METHOD),
        requested_start=_when(slots.get(START)),
        requested_end=_when(slots.get(END)),
        preferred_time_text=slots.get(TIME),
        reason=slots.get(REASON),
        consent_version=slots.get(CONSENT_VER),
    )


def callback_request(tracker: Tracker) -> NewRequest:
    slots = tracker.slots
    return NewRequest(
        kind=RequestKind.CALLBACK,
        conversation_id=tracker.sender_id,
        channel=_channel(tracker),
        full_name=slots.get(NAME),  # None when the patient kept it to themselves
        phone=slots.get(PHONE),
        contact_method="phone",
        consent_version=slots.get(CONSENT_VER),
        # What the call is about, in the patient's words (optional; False: they skipped it).
        patient_message=slots.get(TOPIC) or None,
    )


async def store(new: NewRequest) -> Optional[SavedRequest]:
    """The saved request, or None when the store is unavailable (logged without patient data)."""
    try:
        saved = await asyncio.to_thread(save_request, new)
    except StoreUnavailable:
        logger.error("A %s request could not be stored: the request store is unavailable.", new.kind.value)
        return None
    logger.info("Stored %s request %s.", new.kind.value, saved.reference)
    return saved


class ActionStartBooking(Action):
    """Starts a booking from a clean slate."""

    def name(self) -> str:
        return "action_start_booking"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        dispatcher.utter_message(response="utter_booking_start")
        return cleared()


class ActionStartCallback(Action):
    """Starts a call-back request; keeps a name and phone already given in this conversation."""

    def name(self) -> str:
        return "action_start_callback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        if tracker.get_slot(PHONE):
            dispatcher.utter_message(response="utter_callback_start_known_phone",
                                     phone=display_phone(tracker.get_slot(PHONE)))
        else:
            dispatcher.utter_message(response="utter_callback_start")
        return cleared(keep=CALLBACK_KEEPS)


class ActionSubmitBooking(Action):
    """Stores a confirmed, consented booking request and gives its reference."""

    def name(self) -> str:
        return "action_submit_booking"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        slots = tracker.slots
        if slots.get(CONSENT) is not True or slots.get(CONFIRMED) is not True:
            dispatcher.utter_message(response="utter_request_declined")
            return cleared()
        saved = await store(booking_request(tracker))
        if saved is None:
            dispatcher.utter_message(response="utter_request_not_saved")
            return cleared()
        dispatcher.utter_message(response="utter_booking_saved", reference=saved.reference,
                                 contact=contact_text(slots))
        return cleared()


class ActionSubmitCallback(Action):
    """Stores a consented call-back request and gives its reference."""

    def name(self) -> str:
        return "action_submit_callback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        slots = tracker.slots
        if slots.get(CONSENT) is not True:
            dispatcher.utter_message(response="utter_request_declined")
            return cleared()
        saved = await store(callback_request(tracker))
        if saved is None:
            dispatcher.utter_message(response="utter_request_not_saved")
            return cleared()
        dispatcher.utter_message(response="utter_callback_saved", reference=saved.reference,
                                 phone=display_phone(slots[PHONE]))
        return cleared()


class ActionCancelRequest(Action):
    """Ends the booking or call-back form; nothing is stored."""

    def name(self) -> str:
        return "action_cancel_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        dispatcher.utter_message(response="utter_request_cancelled")
        return [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)] + cleared()

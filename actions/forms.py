"""Booking and call-back forms: which message answers which question, and what to say.

Both forms run in Rasa (booking_form, callback_form in domain/domain.yml) and are
validated here with rasa-sdk's FormValidationAction, as Rasa documents it:

* `extract_<slot>` decides whether the patient's latest message is for that
  slot: the question that was asked, or a field already given that the patient
  corrects ("actually my number is 617-333-2211" at any step). It returns the
  raw text; when a message is for no slot (an FAQ question, "cancel", "are you a
  bot?") nothing is extracted, the form steps aside and the rules in
  data/rules/booking.yml answer it before the form asks again;
* `validate_<slot>` reads that text with the parsers in actions/parsers/ (no Rasa
  there) and fills the slot, or says why it can't (utter_invalid_<reason>); three
  misses on the same question bring the call-back offer and the clinic's phone.

Every patient-facing word is a response in domain/forms.yml; the actions here
name a response and pass its template values. The intent classifier is not
trusted on answers (a name may be classified as a greeting), so the requested
slot is read from the text whatever the intent, and only clear non-answers step
aside.
"""
from __future__ import annotations

import abc
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple, Union
from zoneinfo import ZoneInfo

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT, FormValidationAction
from rasa_sdk.types import DomainDict

from actions.conversation import language_of
from actions.parsers import Invalid
from actions.parsers.answers import (
    consent_question, declines_name, display_phone, explicit_consent, field_named, find_email,
    find_phone, is_change_request, is_pause, is_question, new_value_text, nothing_to_change,
    parse_email, parse_method, parse_name, parse_phone, parse_reason, privacy_question,
    requested_method, sender_phone, without_phone, yes_or_no,
)
from actions.parsers.dates import Flexible, TimeRequest, names_time_of_day, parse_period, retime
from clinic.settings import clinic_details

# --- Consent ------------------------------------------------------------------------------
# The exact words a patient agrees to are the response utter_ask_contact_consent in
# domain/forms.yml. Any change to that text needs a new CONSENT_VERSION
# (tests/unit/test_form_copy.py pins the text of each version).
CONSENT_VERSION = "2026-11-v1"


def consent_version(language: str) -> str:
    """The version of the words agreed to: "2026-11-v1" in English, "2026-11-v1/es" for the
    Spanish variation (staff and the FHIR export see which text the patient read)."""
    return CONSENT_VERSION if language == "en" else f"{CONSENT_VERSION}/{language}"


# --- Slots --------------------------------------------------------------------------------
NAME = "patient_name"
NAME_WITHHELD = "name_withheld"
METHOD = "contact_method"
PHONE = "patient_phone"
EMAIL = "patient_email"
TIME = "preferred_time"
START = "period_start"
END = "period_end"
FLEXIBLE = "time_flexible"
REASON = "visit_reason"
TOPIC = "callback_topic"
CONSENT = "contact_consent"
CONSENT_VER = "consent_version"
CONFIRMED = "booking_confirmed"
FIELD = "field_to_change"
PENDING = "change_pending"
MISSES = "form_misses"

# Everything a request holds; cleared once stored, cancelled or declined.
REQUEST_SLOTS = [
    NAME, NAME_WITHHELD, METHOD, PHONE, EMAIL, TIME, START, END, FLEXIBLE, REASON, TOPIC,
    CONSENT, CONSENT_VER, CONFIRMED, FIELD, PENDING, MISSES,
]

# Fields a patient can change and the slots each one clears.
FIELDS: Dict[str, List[str]] = {
    "name": [NAME, NAME_WITHHELD],
    "contact_method": [METHOD],
    "phone": [PHONE],
    "email": [EMAIL],
    "time": [TIME, START, END, FLEXIBLE],
    "reason": [REASON],
}
FIELD_OF_SLOT = {slots[0]: field for field, slots in FIELDS.items()}

# Intents that mean "this is not an answer" when the text does not read as one:
# the form steps aside and data/rules/booking.yml handles them. out_of_scope and
# nlu_fallback are not among them: mid-form, an unusable answer is a miss with
# its reason, never the general "I can't answer that here".
STEP_ASIDE = {
    "faq", "bot_challenge", "greet", "goodbye", "thank", "ask_question", "book_appointment",
    "human_handoff", "cancel", "medical_emergency",
    # The clinic's practical details and follow-ups (data/rules/clinic_info.yml, faq.yml).
    "clinic_hours", "clinic_location", "clinic_languages", "clinic_contact", "follow_up",
}
# "cancel" ends the form only when the words say so; the classifier alone is not
# enough ("I don't mind" can look like "never mind").
CANCEL_WORDS = re.compile(
    r"\b(cancel\w*|never ?mind|forget (it|about it)|stop|abort|quit|scrap (it|that)|exit|"
    r"olv[íi]d[ae]lo|d[ée]j[ae]lo( as[íi])?|salir)\b", re.I
)
# A question about something else, though it may name a day ("how about Friday?" and
# "¿qué tal el viernes?" are answers).
OTHER_QUESTION = re.compile(
    r"^\s*(what|why|who|where|how)(?!\s+about\b)(?!\s+does\s+\w+day\b)\b|"
    r"^\W*(qu[ée](?!\s+tal\b)|por qu[ée]|qui[ée]n|d[óo]nde|c[óo]mo)\b", re.I)
SKIP = re.compile(
    r"^\W*(skip|no|nope|nothing|rather not|prefer not|n/?a|none|not really|"
    r"omitir|saltar|nada|ninguno|prefiero no|mejor no)\b", re.I)
MAX_MISSES = 3

# --- Labels shown back to the patient ------------------------------------------------------
# The words for a contact method or a reason are the titles of the buttons that offer
# them (domain/forms.yml), so each is written once, next to the question.
COPY_FILE = Path(__file__).resolve().parent.parent / "domain" / "forms.yml"


def _language_of_variation(variation: Dict[str, Any]) -> str:
    """en for a variation without condition, else the `language` its condition names."""
    for condition in variation.get("condition") or []:
        if condition.get("name") == "language":
            return str(condition.get("value"))
    return "en"


@lru_cache(maxsize=None)
def _button_titles(response: str, language: str = "en") -> Tuple[str, ...]:
    """The button titles of a response's variation in this language (English if it has none)."""
    variations = yaml.safe_load(COPY_FILE.read_text(encoding="utf-8"))["responses"][response]
    chosen = next((v for v in variations if _language_of_variation(v) == language), variations[0])
    return tuple(b["title"] for b in chosen.get("buttons", []))


def method_label(method: str, language: str = "en") -> str:
    """'text message' ('mensaje de texto') for sms: the button title that reads as this method."""
    titles = _button_titles("utter_ask_contact_method", language)
    return next(t for t in titles if parse_method(t) == method).lower()


def reason_label(reason: str, language: str = "en") -> str:
    return next(t for t in _button_titles("utter_ask_visit_reason", language) if parse_reason(t) == reason)


def contact_text(slots: Dict[str, Any]) -> str:
    """'text message, +1 212-555-0147' (the contact line of the summary and confirmation),
    in the conversation's language (the slots hold it)."""
    method = slots.get(METHOD) or "phone"
    value = slots.get(EMAIL) if method == "email" else display_phone(slots[PHONE])
    return f"{method_label(method, language_of(slots))}, {value}"


# --- Days and times in slots -----------------------------------------------------------------


def clinic_now() -> datetime:
    return datetime.now(ZoneInfo(clinic_details().timezone))


def time_slots(request: TimeRequest) -> Dict[str, Any]:
    """The patient's words, the period they span and, for a flexible preference, its
    days and hours (see README, booking: what a vague time stores)."""
    return {
        TIME: request.text, START: request.start.isoformat(), END: request.end.isoformat(),
        FLEXIBLE: request.flexible.as_slot() if request.flexible else None,
    }


def stored_time(slots: Dict[str, Any]) -> Optional[TimeRequest]:
    if not slots.get(START) or not slots.get(END):
        return None
    flexible = None
    if slots.get(FLEXIBLE):
        flexible = Flexible.from_slot(slots[FLEXIBLE])
    return TimeRequest(slots.get(TIME) or "", datetime.fromisoformat(slots[START]),
                       datetime.fromisoformat(slots[END]), flexible)


# --- Reading a message ------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What reading an answer needs besides the text."""

    intent: Optional[str]
    region: str
    now: datetime
    own_number: Optional[str]
    form: str
    language: str = "en"  # the conversation's (en | es): how dates are shown back


Outcome = Union[Dict[str, Any], Invalid]


def read_method(text: str, region: str) -> Outcome:
    """An email or a phone number typed at the contact-method question sets both."""
    email = find_email(text)
    if email:
        return {METHOD: "email", EMAIL: email}
    phone = find_phone(text, region)
    if phone:
        texting = parse_method(text) == "sms"
        return {METHOD: "sms" if texting else "phone", PHONE: phone}
    method = requested_method(text) or parse_method(text)
    return method if isinstance(method, Invalid) else {METHOD: method}


def read_answer(slot: str, text: str, ctx: Context) -> Outcome:
    """Slot updates for `text` read as the answer to `slot`'s question, or why not."""
    if slot == NAME:
        if ctx.form == "callback_form" and declines_name(text):
            return {NAME: None, NAME_WITHHELD: True}
        phone = find_phone(text, ctx.region) if ctx.form == "callback_form" else None
        if phone:
            # "Just call me on 617 333 2211": the number a call-back needs, with the name
            # when one is given too ("Jane Smith, 617 333 2211"), else without one.
            name = parse_name(without_phone(text, ctx.region))
            if isinstance(name, Invalid):
                return {PHONE: phone, NAME: None, NAME_WITHHELD: True}
            return {PHONE: phone, NAME: name, NAME_WITHHELD: None}
        name = parse_name(text)
        return name if isinstance(name, Invalid) else {NAME: name, NAME_WITHHELD: None}
    if slot == METHOD:
        return read_method(text, ctx.region)
    if slot == PHONE:
        phone = parse_phone(text, ctx.region, ctx.own_number)
        # A call-back needs a phone: only a booking can be answered by email instead.
        email = find_email(text) if isinstance(phone, Invalid) and ctx.form == "booking_form" else None
        # The expected type first; an email address instead of a number changes the method.
        return {METHOD: "email", EMAIL: email} if email else _single(PHONE, phone)
    if slot == EMAIL:
        email = parse_email(text)
        phone = find_phone(text, ctx.region) if isinstance(email, Invalid) else None
        return {METHOD: "phone", PHONE: phone} if phone else _single(EMAIL, email)
    if slot == TIME:
        if ctx.intent in ("faq", "out_of_scope", "nlu_fallback") and OTHER_QUESTION.match(text):
            return Invalid("question")  # "what's the weather like tomorrow?" names a day, asks another thing
        period = parse_period(text, ctx.now, ctx.region, ctx.language)
        return period if isinstance(period, Invalid) else time_slots(period)
    if slot == REASON:
        return _single(REASON, parse_reason(text))
    if slot == TOPIC:
        return {TOPIC: False if SKIP.search(text) else text.strip()[:500]}
    if slot == CONSENT:
        answer = explicit_consent(text, ctx.intent)
        if answer is None:
            return Invalid("consent")
        return {CONSENT: answer, CONSENT_VER: consent_version(ctx.language) if answer else None}
    if slot == CONFIRMED:
        answer = yes_or_no(text, ctx.intent)
        if answer is None and not (ctx.intent == "change_field" or is_change_request(text)):
            return Invalid("booking_confirmed")
        # "No" (or "change something") at the summary: ask what to change.
        return {CONFIRMED: True} if answer else {CONFIRMED: None, PENDING: True, FIELD: None}
    raise ValueError(f"no reader for slot {slot}")


def _single(slot: str, value: Union[str, Invalid]) -> Outcome:
    return value if isinstance(value, Invalid) else {slot: value}


def latest_intent(tracker: Tracker) -> Optional[str]:
    return (tracker.latest_message.get("intent") or {}).get("name")


def is_new_message(tracker: Tracker, form: str) -> bool:
    """True when the form runs right after a patient message (not on its way back
    after a rule answered that message, and not while being activated)."""
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            return True
        if kind == "action_execution_rejected":  # the form already stepped aside once
            return False
        if kind == "action" and event.get("name") not in (form, "action_listen"):
            return False
    return False


class RequestFormValidation(FormValidationAction, abc.ABC):
    """Shared by the booking and call-back forms; see the module docstring."""

    changeable: Sequence[str] = ()  # the fields this form lets the patient change
    stuck_response = "utter_form_stuck"
    field_miss_response = "field_to_change"

    @abc.abstractmethod
    def needed_slots(self, slots: Dict[str, Any]) -> List[str]:
        """The slots this form asks for, in order, given what is known so far."""

    # --- Which slots, in which order ---------------------------------------------------------

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        slots = tracker.slots
        if slots.get(CONSENT) is False:
            return []  # declined: the form ends and nothing is stored
        needed = self.needed_slots(slots)
        return [FIELD, *needed] if slots.get(PENDING) else needed

    async def next_requested_slot(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Optional[EventType]:
        # Always decided here (the base class leaves it to Rasa when the list matches the domain's).
        required = await self.required_slots([], dispatcher, tracker, domain)
        return SlotSet(REQUESTED_SLOT, next((s for s in required if tracker.slots.get(s) is None), None))

    def question(self, tracker: Tracker) -> Optional[str]:
        """The slot whose question the patient is answering."""
        slots = tracker.slots
        requested = slots.get(REQUESTED_SLOT)
        needed = self.needed_slots(slots)
        if requested not in (None, FIELD) and requested not in needed:
            # Rasa picked the slot itself (this action was unreachable): the patient
            # is answering the question this form would have asked.
            requested = next((s for s in needed if slots.get(s) is None), None)
        return requested

    def context(self, tracker: Tracker) -> Context:
        details = clinic_details()
        return Context(
            intent=latest_intent(tracker), region=details.default_region, now=clinic_now(),
            own_number=sender_phone(tracker.get_latest_input_channel(), tracker.sender_id,
                                    details.default_region),
            form=self.form_name(), language=language_of(tracker.slots),
        )

    # --- Extraction: which slot the message is for -----------------------------------------

    def target(self, tracker: Tracker) -> Optional[Tuple[str, str]]:
        """(slot, text to read) for the latest message, or None when it answers nothing.

        Worked out once per run, from the slots as they were when the message came:
        rasa-sdk updates tracker.slots after each extract_<slot> and validate_<slot>,
        which would otherwise change the answer half-way through."""
        if not hasattr(tracker, "_form_reading"):
            asked = self.question(tracker)
            tracker._form_reading = (asked, self._target(tracker, asked))  # type: ignore[attr-defined]
        return tracker._form_reading[1]  # type: ignore[attr-defined]

    def asked(self, tracker: Tracker) -> Optional[str]:
        """The question the latest message answers (as target() found it)."""
        self.target(tracker)
        return tracker._form_reading[0]  # type: ignore[attr-defined]

    def _target(self, tracker: Tracker, asked: Optional[str]) -> Optional[Tuple[str, str]]:
        if not is_new_message(tracker, self.form_name()) or asked is None:
            return None
        text = tracker.latest_message.get("text") or ""
        ctx = self.context(tracker)
        intent = ctx.intent
        if intent == "cancel" and not CANCEL_WORDS.search(text):
            intent = None  # "I don't mind" is not "never mind"
        if intent in ("medical_emergency", "cancel", "set_language"):  # set_language: data/rules/language.yml
            return None
        if is_pause(text):
            return asked, text
        corrected = self.corrected_slot(text, asked, tracker)
        if corrected:
            return corrected, text
        if intent in STEP_ASIDE and not self.usable(asked, text, ctx):
            return None
        return asked, text

    def corrected_slot(self, text: str, asked: str, tracker: Tracker) -> Optional[str]:
        """The slot of a field already given that the message corrects, if any.

        Three kinds of correction, whatever the classifier thought of the message:
        a new value of a type nothing else can be (an email address, a phone number,
        "call me" / "email me instead"); at the summary, a message naming a field
        ("my name is 王秀英", "it's for a follow-up visit actually"); anywhere, a
        change marker with a field ("actually my number is ...")."""
        if asked == FIELD:
            return None
        by_value = self.corrected_by_value(text, asked, tracker)
        if by_value:
            return by_value
        changing = is_change_request(text) or latest_intent(tracker) == "change_field"
        field = field_named(text)
        if field is None and changing and names_time_of_day(text):
            field = "time"  # "actually after 3 would be better"
        if field is None or field not in self.changeable:
            return None
        if asked == CONFIRMED and not changing:
            # At the summary everything has been given: a field named with a new value
            # that reads as one (not a question, not a plain yes) is a change.
            ctx = self.context(tracker)
            changing = (
                not is_question(text) and yes_or_no(text, ctx.intent) is not True
                and isinstance(read_answer(FIELDS[field][0], new_value_text(text, field), ctx), dict)
            )
        if not changing:
            return None
        slot = FIELDS[field][0]
        given = tracker.slots.get(slot) is not None or (slot == NAME and tracker.slots.get(NAME_WITHHELD))
        return slot if slot != asked and given else None

    def corrected_by_value(self, text: str, asked: str, tracker: Tracker) -> Optional[str]:
        """A given contact detail replaced by a value that can only be one: the slot to read it."""
        slots = tracker.slots
        if asked in (NAME, METHOD) or (asked == TOPIC and not is_change_request(text)):
            return None  # read as the answer (the topic is free text and may hold a number)
        region = clinic_details().default_region
        method = slots.get(METHOD) if "contact_method" in self.changeable else "phone"
        if method not in ("phone", "sms", "email"):
            return None  # no contact method given yet
        if asked not in (PHONE, EMAIL):  # those questions read either value themselves
            email = find_email(text)
            if email and "email" in self.changeable and email != slots.get(EMAIL):
                return EMAIL if method == "email" else METHOD
            phone = find_phone(text, region)
            if phone and "phone" in self.changeable and phone != slots.get(PHONE) and (
                    slots.get(PHONE) or method == "email"):
                return METHOD if method == "email" else PHONE
        wanted = requested_method(text) if "contact_method" in self.changeable else None
        if wanted and wanted != method and asked in (PHONE, EMAIL, CONFIRMED, CONSENT, TIME, REASON):
            if asked in (PHONE, EMAIL, CONFIRMED) or is_change_request(text):
                return METHOD
        return None

    def usable(self, slot: str, text: str, ctx: Context) -> bool:
        """Whether a message with a non-answer intent still reads as (an attempt at) an answer."""
        if (slot == CONSENT and consent_question(text)) or privacy_question(text):
            return True  # answered here, whatever the classifier thought
        if slot == FIELD:
            return field_named(text) is not None
        outcome = read_answer(slot, text, ctx)
        return not isinstance(outcome, Invalid) or outcome.attempt

    def _extract(self, slot: str, tracker: Tracker) -> Dict[Text, Any]:
        found = self.target(tracker)
        return {slot: found[1]} if found and found[0] == slot else {}

    def extract_patient_name(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> Dict[Text, Any]:
        return self._extract(NAME, tracker)

    def extract_contact_method(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> Dict[Text, Any]:
        return self._extract(METHOD, tracker)

    def extract_patient_phone(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> Dict[Text, Any]:
        return self._extract(PHONE, tracker)

    def extract_patient_email(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> Dict[Text, Any]:
        return self._extract(EMAIL, tracker)

    def extract_preferred_time(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> Dict[Text, Any]:
        return self._extract(TIME, tracker)

    def extract_visit_reason(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> Dict[Text, Any]:
        return self._extract(REASON, tracker)

    def extract_callback_topic(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> Dict[Text, Any]:
        return self._extract(TOPIC, tracker)

    def extract_contact_consent(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> Dict[Text, Any]:
        return self._extract(CONSENT, tracker)

    def extract_booking_confirmed(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> Dict[Text, Any]:
        return self._extract(CONFIRMED, tracker)

    def extract_field_to_change(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> Dict[Text, Any]:
        return self._extract(FIELD, tracker)

    # --- Validation: what the text means -------------------------------------------------------

    def validate_patient_name(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> Dict[Text, Any]:
        return self.check(NAME, value, dispatcher, tracker)

    def validate_contact_method(self, value: Any, dispatcher: CollectingDispatcher,
                                tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return self.check(METHOD, value, dispatcher, tracker)

    def validate_patient_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> Dict[Text, Any]:
        return self.check(PHONE, value, dispatcher, tracker)

    def validate_patient_email(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> Dict[Text, Any]:
        return self.check(EMAIL, value, dispatcher, tracker)

    def validate_preferred_time(self, value: Any, dispatcher: CollectingDispatcher,
                                tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return self.check(TIME, value, dispatcher, tracker)

    def validate_visit_reason(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> Dict[Text, Any]:
        return self.check(REASON, value, dispatcher, tracker)

    def validate_callback_topic(self, value: Any, dispatcher: CollectingDispatcher,
                                tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return self.check(TOPIC, value, dispatcher, tracker)

    def validate_contact_consent(self, value: Any, dispatcher: CollectingDispatcher,
                                 tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return self.check(CONSENT, value, dispatcher, tracker)

    def validate_booking_confirmed(self, value: Any, dispatcher: CollectingDispatcher,
                                   tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return self.check(CONFIRMED, value, dispatcher, tracker)

    def validate_field_to_change(self, value: Any, dispatcher: CollectingDispatcher,
                                 tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """"Change email" (or "change email to ...") after "What would you like to change?"."""
        text = str(value)
        ctx = self.context(tracker)
        field = field_named(text)
        if field is None and (yes_or_no(text, ctx.intent) is not None or nothing_to_change(text)):
            return {FIELD: None, PENDING: False, MISSES: None}  # nothing after all: the summary again
        if field is None or field not in self.changeable:
            return self.miss(dispatcher, FIELD, Invalid(self.field_miss_response), tracker)
        return self.change(field, new_value_text(text, field), dispatcher, tracker, ctx)

    def check(self, slot: str, value: Any, dispatcher: CollectingDispatcher,
              tracker: Tracker) -> Dict[Text, Any]:
        """Fill `slot` from the text extracted for it, or say why not."""
        found = self.target(tracker)
        if found is None or found[0] != slot:
            # Not read from this message: a value Rasa validates again when a form starts
            # with slots already filled (the name and phone a call-back keeps). It was
            # read when the patient gave it.
            return {slot: value}
        text = str(value)
        ctx = self.context(tracker)
        if slot != self.asked(tracker):
            field = FIELD_OF_SLOT[slot]
            return self.change(field, new_value_text(text, field), dispatcher, tracker, ctx)
        if is_pause(text):
            dispatcher.utter_message(response="utter_take_your_time")
            return {slot: None}
        outcome = read_answer(slot, text, ctx)
        if isinstance(outcome, dict):
            return self.accept(slot, outcome, dispatcher, tracker)
        topic = consent_question(text) if slot == CONSENT else privacy_question(text)
        if topic:
            dispatcher.utter_message(response=f"utter_consent_{topic}",
                                     retention_days=str(clinic_details().retention_days))
            return {slot: None}
        if is_question(text) and not outcome.attempt:
            outcome = Invalid("question")
        return self.miss(dispatcher, slot, outcome, tracker)

    def accept(self, slot: str, updates: Dict[str, Any], dispatcher: CollectingDispatcher,
               tracker: Tracker) -> Dict[str, Any]:
        editing = tracker.slots.get(FIELD)
        done = {FIELD: None} if editing and FIELDS[editing][0] == slot else {}
        if slot == TIME:
            self.say_time(updates, dispatcher, language_of(tracker.slots))
        if slot == NAME and updates.get(NAME_WITHHELD):
            dispatcher.utter_message(response="utter_callback_without_name")
        return {**updates, **done, MISSES: None}

    @staticmethod
    def say_time(updates: Dict[str, Any], dispatcher: CollectingDispatcher, language: str) -> None:
        """Echo how the words were read ("next Wednesday" -> Wed 2 Dec), so a misreading shows."""
        when = stored_time(updates)
        if when is None:
            return
        response = "utter_time_noted_flexible" if when.flexible else "utter_time_noted"
        dispatcher.utter_message(response=response, when=when.human(language))

    def change(self, field: str, text: str, dispatcher: CollectingDispatcher, tracker: Tracker,
               ctx: Context) -> Dict[str, Any]:
        """Clear a field to ask it again, or take its new value from the same message."""
        updates: Dict[str, Any] = {slot: None for slot in FIELDS[field]}
        updates.update({PENDING: False, CONFIRMED: None, MISSES: None, FIELD: field})
        slot = FIELDS[field][0]
        new_value = read_answer(slot, text, ctx) if text.strip() else None
        previous = stored_time(tracker.slots) if field == "time" and text.strip() else None
        if previous is not None:
            # "Can we do the morning instead?": a time of day alone keeps the day(s) chosen.
            retimed = retime(text, previous, ctx.now, ctx.region, ctx.language)
            if retimed is not None:
                new_value = retimed if isinstance(retimed, Invalid) else time_slots(retimed)
        if field == "email" and isinstance(new_value, dict):
            new_value[METHOD] = "email"
        if isinstance(new_value, Invalid) and new_value.attempt:
            # A new value that can't be used: why, then its question again.
            dispatcher.utter_message(response=f"utter_invalid_{new_value.reason}", **new_value.values)
        if isinstance(new_value, dict) and any(v is not None for v in new_value.values()):
            updates.update({**new_value, FIELD: None})
            self.say_changed(field, updates, dispatcher, ctx.language)
            if self.asked(tracker) != CONFIRMED:  # at the summary, the summary itself follows
                self.show_so_far({**tracker.slots, **updates}, dispatcher)
        return updates

    def show_so_far(self, slots: Dict[str, Any], dispatcher: CollectingDispatcher) -> None:
        """After a correction before the summary: what the request holds now."""

    @staticmethod
    def say_changed(field: str, updates: Dict[str, Any], dispatcher: CollectingDispatcher,
                    language: str) -> None:
        values: Dict[str, str] = {}
        if field == "name":
            values["name"] = updates.get(NAME) or ""
        elif field == "phone":
            values["phone"] = display_phone(updates[PHONE])
        elif field == "email":
            values["email"] = updates[EMAIL]
        elif field == "time":
            when = stored_time(updates)
            values["when"] = when.human(language) if when else ""
        elif field == "reason":
            values["reason"] = reason_label(updates[REASON], language)
        elif field == "contact_method":
            values["contact"] = method_label(updates[METHOD], language)
        dispatcher.utter_message(response=f"utter_changed_{field}", **values)

    def miss(self, dispatcher: CollectingDispatcher, slot: str, invalid: Invalid,
             tracker: Tracker) -> Dict[str, Any]:
        """Say why the answer can't be used; after three misses offer a call-back and the phone."""
        previous = tracker.slots.get(MISSES) or {}
        count = previous.get("count", 0) + 1 if previous.get("slot") == slot else 1
        dispatcher.utter_message(response=f"utter_invalid_{invalid.reason}", **invalid.values)
        if count >= MAX_MISSES:
            dispatcher.utter_message(response=self.stuck_response)
        return {slot: None, MISSES: {"slot": slot, "count": count}}


class ValidateBookingForm(RequestFormValidation):
    changeable = tuple(FIELDS)

    def name(self) -> Text:
        return "validate_booking_form"

    def needed_slots(self, slots: Dict[str, Any]) -> List[str]:
        method, editing = slots.get(METHOD), slots.get(FIELD)
        needed = [NAME, METHOD]
        if method in ("phone", "sms") or editing == "phone":
            needed.append(PHONE)
        if method == "email" or editing == "email":
            needed.append(EMAIL)
        return needed + [TIME, REASON, CONSENT, CONFIRMED]


    def show_so_far(self, slots: Dict[str, Any], dispatcher: CollectingDispatcher) -> None:
        dispatcher.utter_message(response="utter_summary_so_far", **summary_values(slots))


class ValidateCallbackForm(RequestFormValidation):
    changeable = ("name", "phone")
    stuck_response = "utter_form_stuck_callback"
    field_miss_response = "field_to_change_callback"

    def name(self) -> Text:
        return "validate_callback_form"

    def needed_slots(self, slots: Dict[str, Any]) -> List[str]:
        # A call-back needs only a phone number: a patient may keep their name to themselves.
        name = [] if slots.get(NAME_WITHHELD) else [NAME]
        return [*name, PHONE, TOPIC, CONSENT]


# --- Questions that depend on the conversation --------------------------------------------------


class ActionAskPatientPhone(Action):
    """On SMS/WhatsApp, offers the number the patient writes from."""

    def name(self) -> Text:
        return "action_ask_patient_phone"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        own = sender_phone(tracker.get_latest_input_channel(), tracker.sender_id,
                           clinic_details().default_region)
        if own is None:
            dispatcher.utter_message(response="utter_ask_patient_phone")
        else:
            dispatcher.utter_message(response="utter_ask_patient_phone_sender",
                                     number=display_phone(own), number_e164=own)
        return []


NOT_YET = "-"  # a field not given yet, in the summary so far


def summary_values(slots: Dict[str, Any]) -> Dict[str, str]:
    """The summary's values, in the conversation's language (the `language` slot)."""
    language = language_of(slots)
    when = stored_time(slots)
    method = slots.get(METHOD)
    contact_known = method == "email" and slots.get(EMAIL) or method in ("phone", "sms") and slots.get(PHONE)
    return {
        "name": slots.get(NAME) or NOT_YET,
        "contact": contact_text(slots) if contact_known else NOT_YET,
        "when": when.human(language) if when else NOT_YET,
        "said": slots.get(TIME) or "",
        "reason": reason_label(slots[REASON], language) if slots.get(REASON) else NOT_YET,
    }


class ActionAskBookingConfirmed(Action):
    """The summary of the booking request, to confirm, change or cancel."""

    def name(self) -> Text:
        return "action_ask_booking_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        flexible = bool(tracker.slots.get(FLEXIBLE))
        dispatcher.utter_message(response="utter_summary_flexible" if flexible else "utter_summary",
                                 **summary_values(tracker.slots))
        return []

"""The booking and call-back forms in a Spanish conversation (the `language` slot is es):
the validation actions on real rasa_sdk trackers, the summary, and requests stored in a
real (temporary, migrated) SQLite store. What the bot says is rendered from the Spanish
variation of the response each action names, as Rasa would choose it."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Dict, List

import pytest
import yaml

from actions import booking, forms
from actions.forms import (
    CONFIRMED, CONSENT, CONSENT_VER, EMAIL, END, FIELD, FLEXIBLE, METHOD, NAME, NAME_WITHHELD, PHONE,
    REASON, START, TIME, TOPIC,
)
from clinic import store
from clinic.settings import clinic_details
from tests.responses import RESPONSE_FILES, _fill
from tests.unit.test_forms import (  # the English tests' trackers, runners and store
    BOOKING, CALLBACK, COMPLETE, names, run_action, run_ask, run_validation, tracker,
)
from tests.unit.test_forms import database  # noqa: F401  (the store fixture)

SPANISH = {"language": "es"}


def _spanish_texts() -> Dict[str, str]:
    texts = {}
    for path in RESPONSE_FILES:
        for name, variations in (yaml.safe_load(path.read_text(encoding="utf-8")).get("responses") or {}).items():
            for variation in variations:
                if {"type": "slot", "name": "language", "value": "es"} in (variation.get("condition") or []):
                    texts[name] = variation["text"]
    return texts


SPANISH_TEXTS = _spanish_texts()
CLINIC_VALUES = {**clinic_details().as_template_values(), "retention_days": str(clinic_details().retention_days)}


def said(messages: List[Dict[str, Any]]) -> List[str]:
    """What a Spanish-speaking patient reads: the Spanish variation, filled in."""
    out = []
    for message in messages:
        values = {**CLINIC_VALUES, **{k: v for k, v in message.items() if isinstance(v, str)}}
        text = _fill(SPANISH_TEXTS[message["response"]], values)
        assert not re.search(r"\{[a-z_]+\}", text), f"unfilled value in {text!r}"
        out.append(text)
    return out


def es(slots: Dict[str, Any]) -> Dict[str, Any]:
    return {**slots, **SPANISH}


TIME_ASKED = es({"requested_slot": TIME, NAME: "María José Pérez Gómez", METHOD: "email", EMAIL: "mj@example.com"})
COMPLETE_ES = es({**COMPLETE, NAME: "María José Pérez Gómez", TIME: "el viernes"})
AT_SUMMARY = {**COMPLETE_ES, "requested_slot": CONFIRMED}
AT_CONSENT = {**COMPLETE_ES, CONSENT: None, CONSENT_VER: None, "requested_slot": CONSENT}


# --- Answers to each question ---------------------------------------------------------------------


@pytest.mark.parametrize("text, name", [("María José Pérez Gómez", "María José Pérez Gómez"),
                                        ("me llamo José Ñúñez", "José Ñúñez"),
                                        ("Mi nombre es Ana de la Cruz", "Ana de la Cruz"),
                                        ("soy Luis Ibáñez", "Luis Ibáñez")])
def test_a_spanish_name_fills_the_name(text: str, name: str) -> None:
    slots, messages = run_validation(BOOKING, tracker(es({"requested_slot": NAME}), text, intent="greet"))
    assert slots[NAME] == name and slots["requested_slot"] == METHOD and messages == []


@pytest.mark.parametrize("text, method, asked", [("por teléfono", "phone", PHONE), ("llamada", "phone", PHONE),
                                                 ("mensaje de texto", "sms", PHONE), ("correo", "email", EMAIL),
                                                 ("Correo electrónico", "email", EMAIL)])
def test_a_spanish_contact_method_decides_the_next_question(text: str, method: str, asked: str) -> None:
    slots, _ = run_validation(BOOKING, tracker(es({"requested_slot": METHOD, NAME: "Ana"}), text))
    assert slots[METHOD] == method and slots["requested_slot"] == asked


def test_a_spanish_day_is_echoed_in_spanish() -> None:
    slots, messages = run_validation(BOOKING, tracker(TIME_ASKED, "el martes por la tarde"))
    start = datetime.fromisoformat(slots[START])
    assert start.weekday() == 1 and start.hour == 12 and slots[TIME] == "el martes por la tarde"
    [echo] = said(messages)
    assert re.fullmatch(r"Anotado: martes \d{1,2} de [a-z]+, 12:00-17:00\.", echo), echo


def test_a_vague_spanish_time_is_a_flexible_preference_shown_in_spanish() -> None:
    slots, messages = run_validation(BOOKING, tracker(TIME_ASKED, "cualquier día por la mañana"))
    assert slots[FLEXIBLE] == {"weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri"], "from": "09:00", "to": "12:00"}
    assert said(messages)[0].startswith("Anotado: tiene flexibilidad, lunes-viernes 09:00-12:00, ")

    summary = run_ask(forms.ActionAskBookingConfirmed(), {**COMPLETE_ES, **slots})
    assert names(summary) == ["utter_summary_flexible"]
    assert "- Cuándo: con flexibilidad, lunes-viernes 09:00-12:00, " in said(summary)[0]


def test_the_31st_of_february_is_refused_with_the_reason_in_spanish() -> None:
    slots, messages = run_validation(BOOKING, tracker(TIME_ASKED, "el 31 de febrero"))
    assert slots[TIME] is None and slots["requested_slot"] == TIME
    assert said(messages) == [
        "No existe el 31 de febrero: febrero tiene como máximo 29 días. Elija otro día, por favor."]


def test_a_spanish_time_outside_the_hours_gets_the_hours_and_the_question_again() -> None:
    slots, messages = run_validation(BOOKING, tracker(TIME_ASKED, "mañana a las 7 de la mañana"))
    assert slots["requested_slot"] == TIME and slots[TIME] is None
    assert said(messages) == [
        f"El horario que pidió (07:00-08:00) está fuera del horario de atención de la clínica: "
        f"{clinic_details().hours}."]


def test_a_closed_spanish_day_is_refused_with_its_spanish_name() -> None:
    _, messages = run_validation(BOOKING, tracker(TIME_ASKED, "el fin de semana"))
    assert said(messages)[0].startswith("La clínica está cerrada el sábado y domingo.")


@pytest.mark.parametrize("text, reason", [("Consulta por arañas vasculares", "spider_vein_consultation"),
                                          ("Visita de control", "follow_up"), ("tengo várices", "spider_vein_consultation")])
def test_a_spanish_visit_reason_fills_the_reason(text: str, reason: str) -> None:
    state = {**COMPLETE_ES, REASON: None, CONSENT: None, "requested_slot": REASON}
    slots, _ = run_validation(BOOKING, tracker(state, text))
    assert slots[REASON] == reason and slots["requested_slot"] == CONSENT


# --- Consent ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["sí", "si", "Sí, acepto", "claro", "de acuerdo", "acepto"])
def test_an_explicit_spanish_yes_is_consent_to_the_spanish_text(text: str) -> None:
    slots, _ = run_validation(BOOKING, tracker(AT_CONSENT, text, intent="affirm"))
    assert slots[CONSENT] is True and slots[CONSENT_VER] == "2026-11-v1/es"
    assert slots["requested_slot"] == CONFIRMED


@pytest.mark.parametrize("text", ["no", "no gracias"])
def test_a_spanish_no_ends_the_form(text: str) -> None:
    slots, _ = run_validation(BOOKING, tracker(AT_CONSENT, text, intent="deny"))
    assert slots[CONSENT] is False and slots["requested_slot"] is None


@pytest.mark.parametrize("text, intent", [("ok", "affirm"), ("vale", "affirm"), ("está bien", "affirm"),
                                          ("no sé", "deny"), ("tal vez", "nlu_fallback")])
def test_anything_but_an_explicit_spanish_yes_or_no_asks_again(text: str, intent: str) -> None:
    slots, messages = run_validation(BOOKING, tracker(AT_CONSENT, text, intent=intent))
    assert slots[CONSENT] is None and slots["requested_slot"] == CONSENT
    assert said(messages) == [
        'Solo puedo guardar sus datos con un sí claro. Responda "sí" si está de acuerdo, o "no" si no lo está.']


@pytest.mark.parametrize("text, topic", [("¿para qué lo necesitan?", "why"),
                                         ("¿quién va a ver mis datos?", "who"),
                                         ("¿cuánto tiempo guardan mis datos?", "retention")])
def test_a_spanish_question_at_the_consent_step_is_answered_in_spanish(text: str, topic: str) -> None:
    slots, messages = run_validation(BOOKING, tracker(AT_CONSENT, text, intent="faq"))
    assert names(messages) == [f"utter_consent_{topic}"] and slots["requested_slot"] == CONSENT
    assert clinic_details().name in said(messages)[0] and " días" in said(messages)[0]


# --- Corrections --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, slot, value, echo",
    [("en realidad mi número es 617-333-2211", PHONE, "+16173332211",
      "Gracias, cambié su número de teléfono a +1 617-333-2211."),
     ("mi nombre se escribe María José Pérez Gómez", NAME, "María José Pérez Gómez",
      "Gracias, cambié su nombre a María José Pérez Gómez."),
     ("perdón, mi nombre es José Ñúñez", NAME, "José Ñúñez", "Gracias, cambié su nombre a José Ñúñez.")],
)
def test_a_spanish_correction_at_the_summary_changes_the_field(text: str, slot: str, value: str, echo: str) -> None:
    state = {**AT_SUMMARY, NAME: "Maria Perez"}
    slots, messages = run_validation(BOOKING, tracker(state, text))
    assert slots[slot] == value and slots["requested_slot"] == CONFIRMED
    assert said(messages) == [echo]


def test_mejor_el_viernes_at_the_summary_changes_the_day() -> None:
    state = {**AT_SUMMARY, TIME: "el lunes", START: "2027-11-22T09:00:00-05:00", END: "2027-11-22T17:00:00-05:00"}
    slots, messages = run_validation(BOOKING, tracker(state, "mejor el viernes"))
    assert datetime.fromisoformat(slots[START]).weekday() == 4 and slots["requested_slot"] == CONFIRMED
    assert names(messages) == ["utter_changed_time"]
    assert re.fullmatch(r"Gracias, cambié los días y horas a viernes \d{1,2} de [a-z]+, 09:00-17:00\.",
                        said(messages)[0])


def test_a_spanish_time_of_day_alone_at_the_summary_keeps_the_day() -> None:
    state = {**AT_SUMMARY, TIME: "el lunes", START: "2027-11-22T09:00:00-05:00", END: "2027-11-22T17:00:00-05:00"}
    slots, _ = run_validation(BOOKING, tracker(state, "mejor por la tarde"))
    assert (slots[START], slots[END]) == ("2027-11-22T12:00:00-05:00", "2027-11-22T17:00:00-05:00")


def test_a_spanish_request_for_another_method_at_the_summary_switches_it_and_asks_for_the_address() -> None:
    slots, messages = run_validation(BOOKING, tracker(AT_SUMMARY, "mejor por correo"))
    assert slots[METHOD] == "email" and slots["requested_slot"] == EMAIL
    assert said(messages) == ["Gracias, la clínica se comunicará con usted por correo electrónico."]


@pytest.mark.parametrize("text, asked", [("Cambiar algo", FIELD), ("no", FIELD)])
def test_a_spanish_no_at_the_summary_asks_what_to_change(text: str, asked: str) -> None:
    slots, _ = run_validation(BOOKING, tracker(AT_SUMMARY, text, intent="deny"))
    assert slots["requested_slot"] == asked


def test_confirming_the_spanish_summary_ends_the_form() -> None:
    slots, _ = run_validation(BOOKING, tracker(AT_SUMMARY, "sí, todo correcto", intent="affirm"))
    assert slots[CONFIRMED] is True and slots["requested_slot"] is None


def test_un_momento_is_a_pause_not_a_miss() -> None:
    slots, messages = run_validation(BOOKING, tracker(TIME_ASKED, "un momento", intent="nlu_fallback"))
    assert said(messages) == ["No hay problema, tómese su tiempo. Aquí estaré cuando quiera continuar."]
    assert slots["requested_slot"] == TIME


# --- The summary and the stored request ------------------------------------------------------------


def test_the_spanish_summary_shows_every_field_in_spanish() -> None:
    [text] = said(run_ask(forms.ActionAskBookingConfirmed(), COMPLETE_ES))
    assert text == (
        "Revise su solicitud, por favor:\n- Nombre: María José Pérez Gómez\n"
        "- Contacto: mensaje de texto, +1 212-555-0147\n"
        "- Cuándo: viernes 26 de noviembre, 09:00-17:00 (usted escribió \"el viernes\")\n"
        "- Motivo: Visita de control\n¿Está todo correcto?")


def test_a_spanish_booking_is_stored_and_confirmed_in_spanish(database: str) -> None:  # noqa: F811
    confirmed = es({**COMPLETE_ES, CONFIRMED: True, CONSENT_VER: "2026-11-v1/es"})
    _, messages = run_action(booking.ActionSubmitBooking(), tracker(confirmed, "/affirm"))
    [request] = store.list_requests(url=database)
    [text] = said(messages)
    assert text.startswith(f"¡Gracias! Su solicitud quedó guardada: referencia {request.reference}.")
    assert "por mensaje de texto, +1 212-555-0147" in text
    assert request.full_name == "María José Pérez Gómez" and request.consent_version == "2026-11-v1/es"


def test_a_spanish_call_back_without_a_name_is_accepted_in_spanish() -> None:
    slots, messages = run_validation(CALLBACK, tracker(es({"requested_slot": NAME}), "prefiero no decirlo",
                                                       form="callback_form"))
    assert slots[NAME_WITHHELD] is True and slots["requested_slot"] == PHONE
    assert said(messages) == ["No hay problema: nuestro personal solo necesita un número de teléfono para llamarle."]


@pytest.mark.parametrize("text, name", [("Me llamo María y mi teléfono es 617 333 2211", "María"),
                                        ("llámenme al 617 333 2211", None)])
def test_a_phone_number_at_the_spanish_call_back_name_question_fills_the_phone(text: str, name: Any) -> None:
    slots, _ = run_validation(CALLBACK, tracker(es({"requested_slot": NAME}), text, form="callback_form"))
    assert (slots[PHONE], slots[NAME], slots["requested_slot"]) == ("+16173332211", name, TOPIC)


@pytest.mark.parametrize("text, topic", [("omitir", False), ("nada", False), ("sobre el tratamiento", "sobre el tratamiento")])
def test_the_spanish_call_back_topic_is_optional(text: str, topic: Any) -> None:
    state = es({"requested_slot": TOPIC, NAME: "Ana", PHONE: "+12125550147"})
    slots, _ = run_validation(CALLBACK, tracker(state, text, form="callback_form"))
    assert slots[TOPIC] == topic


def test_the_labels_shown_back_are_the_spanish_button_titles() -> None:
    assert forms.method_label("sms", "es") == "mensaje de texto"
    assert forms.method_label("phone", "es") == "llamada telefónica"
    assert forms.method_label("email", "es") == "correo electrónico"
    assert forms.reason_label("spider_vein_consultation", "es") == "Consulta por arañas vasculares"
    assert forms.contact_text(es({METHOD: "email", EMAIL: "a@b.co"})) == "correo electrónico, a@b.co"
    assert forms.contact_text({METHOD: "email", EMAIL: "a@b.co"}) == "email, a@b.co"

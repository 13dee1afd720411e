"""Spanish answers to the forms' questions (actions/parsers/answers.py): yes and no,
consent, questions at the consent step, contact methods, reasons, names, corrections
and pauses, with the real phonenumbers and email-validator."""
from __future__ import annotations

from typing import Optional

import pytest

from actions.parsers import Invalid
from actions.parsers.answers import (
    consent_question, declines_name, explicit_consent, field_named, is_change_request, is_pause,
    is_question, is_unsure, new_value_text, nothing_to_change, parse_method, parse_name, parse_phone,
    parse_reason, privacy_question, requested_method, without_phone, yes_or_no,
)

# --- Yes and no ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [("sí", True), ("si", True), ("Sí", True), ("SI", True), ("claro", True), ("claro que sí", True),
     ("de acuerdo", True), ("acepto", True), ("está bien", True), ("esta bien", True),
     ("correcto", True), ("todo bien", True), ("perfecto", True), ("sí, todo correcto", True),
     ("por supuesto", True), ("vale", True), ("me da igual", True),
     ("no", False), ("no gracias", False), ("No, gracias", False), ("para nada", False),
     ("nop", False), ("no está bien", False),
     ("¿y eso qué es?", None), ("¿cuándo me llaman?", None), ("María", None)],
)
def test_spanish_yes_and_no(text: str, expected: Optional[bool]) -> None:
    assert yes_or_no(text, None) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        # Only an explicit yes is consent.
        ("sí", True), ("si", True), ("Sí.", True), ("sí, acepto", True), ("Sí, acepto", True),
        ("acepto", True), ("de acuerdo", True), ("estoy de acuerdo", True), ("claro", True),
        ("claro que sí", True), ("sí, estoy de acuerdo", True), ("doy mi consentimiento", True),
        ("autorizo", True),
        ("no", False), ("no gracias", False), ("no acepto", False), ("no estoy de acuerdo", False),
        ("sí pero no quiero llamadas", False),
        # Acknowledging, doubting or asking is neither.
        ("ok", None), ("vale", None), ("bueno", None), ("está bien", None), ("dale", None),
        ("me da igual", None), ("no me importa", None), ("no sé", None), ("no se", None),
        ("tal vez", None), ("quizás", None), ("a lo mejor", None), ("no estoy segura", None),
        ("déjeme pensarlo", None), ("¿para qué lo necesitan?", None), ("¿sí?", None),
    ],
)
def test_only_an_explicit_spanish_yes_is_consent(text: str, expected: Optional[bool]) -> None:
    assert explicit_consent(text, None) is expected


def test_the_consent_buttons_are_yes_and_no_whatever_the_language() -> None:
    assert explicit_consent("/affirm", "affirm") is True and explicit_consent("/deny", "deny") is False


@pytest.mark.parametrize("text", ["no sé", "no lo sé", "tal vez", "quizá", "puede ser", "no estoy seguro",
                                  "lo voy a pensar", "todavía no", "mmm"])
def test_spanish_doubt_is_unsure(text: str) -> None:
    assert is_unsure(text)


@pytest.mark.parametrize("text", ["sí", "no", "acepto", "María José"])
def test_a_plain_answer_is_not_doubt(text: str) -> None:
    assert not is_unsure(text)


# --- Questions ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [("¿duele?", True), ("¿para qué lo necesitan?", True), ("para qué lo necesitan", True),
     ("qué es eso", True), ("cómo funciona", True), ("por qué", True), ("cuánto cuesta", True),
     # Unaccented "como" and "cuando" start answers.
     ("cuando sea", False), ("como a las 3", False), ("sí", False), ("María Pérez", False)],
)
def test_spanish_questions_are_questions(text: str, expected: bool) -> None:
    assert is_question(text) is expected


@pytest.mark.parametrize(
    "text, topic",
    [("¿para qué lo necesitan?", "why"), ("para que lo necesitan", "why"), ("¿por qué?", "why"),
     ("¿y eso por qué?", "why"), ("¿es obligatorio?", "why"), ("¿qué significa eso?", "why"),
     ("¿quién va a ver mis datos?", "who"), ("¿con quién lo comparten?", "who"),
     ("¿cuánto tiempo guardan mis datos?", "retention"), ("¿cuándo los borran?", "retention"),
     ("¿qué datos guardan?", "what"), ("¿qué información van a guardar?", "what")],
)
def test_a_spanish_question_about_the_consent_gets_its_answer(text: str, topic: str) -> None:
    assert consent_question(text) == topic


@pytest.mark.parametrize("text", ["¿qué son las arañas vasculares?", "¿duele?", "¿cuánto cuesta el tratamiento?"])
def test_a_spanish_question_about_something_else_is_not_about_the_consent(text: str) -> None:
    assert consent_question(text) is None


@pytest.mark.parametrize("text, topic", [("¿para qué necesitan mi número?", "why"),
                                         ("¿quién va a ver mi correo?", "who"),
                                         ("¿por qué quieren mis datos?", "why")])
def test_a_spanish_privacy_question_at_any_question_is_answered(text: str, topic: str) -> None:
    assert privacy_question(text) == topic


# --- Contact methods and reasons ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, method",
    [("por teléfono", "phone"), ("por telefono", "phone"), ("llamada", "phone"),
     ("Llamada telefónica", "phone"), ("que me llamen", "phone"), ("llámenme", "phone"),
     ("mensaje de texto", "sms"), ("Mensaje de texto", "sms"), ("por mensaje", "sms"),
     ("por WhatsApp", "sms"), ("un texto", "sms"),
     ("correo", "email"), ("por correo", "email"), ("Correo electrónico", "email"),
     ("por correo electronico", "email"), ("e-mail", "email")],
)
def test_spanish_contact_methods(text: str, method: str) -> None:
    assert parse_method(text) == method


@pytest.mark.parametrize("text", ["¿cuál es mejor?", "no sé", "paloma"])
def test_what_is_not_a_contact_method_is_refused(text: str) -> None:
    assert parse_method(text) == Invalid("contact_method")


@pytest.mark.parametrize(
    "text, method",
    [("mejor llámenme", "phone"), ("no me llamen, mándenme un mensaje", "sms"),
     ("prefiero correo", "email"), ("mejor por correo", "email"), ("en vez de llamada, por mensaje", "sms"),
     ("escríbanme un correo", "email"), ("prefiero una llamada", "phone")],
)
def test_a_spanish_request_for_another_contact_method(text: str, method: str) -> None:
    assert requested_method(text) == method


@pytest.mark.parametrize("text", ["el martes por la tarde", "María Pérez", "sí"])
def test_an_answer_is_not_a_request_for_another_method(text: str) -> None:
    assert requested_method(text) is None


@pytest.mark.parametrize(
    "text, reason",
    [("Consulta por arañas vasculares", "spider_vein_consultation"),
     ("Tratamiento de escleroterapia", "sclerotherapy_treatment"),
     ("Visita de control", "follow_up"), ("Otro motivo", "other"),
     ("tengo varices", "spider_vein_consultation"), ("arañitas en las piernas", "spider_vein_consultation"),
     ("es para un seguimiento", "follow_up"), ("una revisión después de mi tratamiento", "follow_up"),
     ("primera vez", "spider_vein_consultation"), ("quiero una sesión", "sclerotherapy_treatment"),
     ("las inyecciones", "sclerotherapy_treatment"), ("otra cosa", "other")],
)
def test_spanish_visit_reasons(text: str, reason: str) -> None:
    assert parse_reason(text) == reason


# --- Names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, name",
    [("María José Pérez Gómez", "María José Pérez Gómez"),
     ("me llamo José Ñúñez", "José Ñúñez"),
     ("Me llamo José Ñúñez", "José Ñúñez"),
     ("mi nombre es Ana de la Cruz", "Ana de la Cruz"),
     ("Mi nombre completo es Juan Carlos Fernández-Castellanos", "Juan Carlos Fernández-Castellanos"),
     ("soy Luis", "Luis"), ("Hola, soy Carmen Ruiz", "Carmen Ruiz"), ("Buenas tardes, me llamo Inés Ibáñez", "Inés Ibáñez"),
     ("José María de la Cruz y Fernández", "José María de la Cruz y Fernández"),
     ("Begoña Echeverría", "Begoña Echeverría"), ("Vale Ortiz", "Vale Ortiz"), ("Mar Peña", "Mar Peña"),
     # NFD typed accents (some keyboards) are stored composed.
     ("Jose\u0301 Nu\u0301n\u0303ez", "José Núñez")],
)
def test_spanish_names_with_accents_and_two_surnames(text: str, name: str) -> None:
    assert parse_name(text) == name


@pytest.mark.parametrize("text", ["quiero una cita", "mi número es 6173332211", "¿cuánto cuesta?", "sí",
                                  "no sé", "hola", "gracias", "soy paciente nueva"])
def test_what_is_not_a_spanish_name_is_refused(text: str) -> None:
    assert parse_name(text) == Invalid("name")


@pytest.mark.parametrize("text", ["prefiero no decirlo", "prefiero no darlo", "no quiero decir mi nombre",
                                  "mejor no", "anónimo", "omitir"])
def test_a_spanish_call_back_patient_may_keep_their_name(text: str) -> None:
    assert declines_name(text)


def test_the_words_around_a_phone_number_are_not_a_name() -> None:
    assert without_phone("Ana Ruiz, llámenme al 617 333 2211", "US") == "Ana Ruiz"
    assert without_phone("mi número es 617 333 2211", "US") == ""


@pytest.mark.parametrize("text", ["sí, este", "use este número", "el mismo", "este", "claro"])
def test_on_sms_a_spanish_yes_uses_the_sender_number(text: str) -> None:
    assert parse_phone(text, "US", own_number="+16173332211") == "+16173332211"


# --- Corrections and pauses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, field, new_value",
    [("en realidad mi número es 617 333 2211", "phone", "en realidad mi número es 617 333 2211"),
     ("mi nombre se escribe Ñúñez", "name", "Ñúñez"),
     ("en realidad mi nombre se escribe José Ñúñez", "name", "José Ñúñez"),
     ("cambie mi nombre a Ana María Ruiz", "name", "Ana María Ruiz"),
     ("perdón, mi nombre es Inés", "name", "Inés"),
     ("mejor el viernes", "time", "el viernes"),
     ("cambiar el correo", "email", "cambiar el correo"),
     ("en realidad mejor por la tarde", "time", "por la tarde")],
)
def test_a_spanish_correction_names_its_field_and_new_value(text: str, field: str, new_value: str) -> None:
    assert is_change_request(text)
    assert field_named(text) == field
    assert " ".join(new_value_text(text, field).replace(",", " ").split()) == new_value


@pytest.mark.parametrize(
    "text, field",
    [("el nombre", "name"), ("la forma de contacto", "contact_method"), ("el teléfono", "phone"),
     ("el número", "phone"), ("el correo electrónico", "email"), ("los días y horas", "time"),
     ("la fecha", "time"), ("el motivo", "reason"), ("Días y horas", "time"), ("Forma de contacto", "contact_method")],
)
def test_the_spanish_field_names_of_the_change_question(text: str, field: str) -> None:
    assert field_named(text) == field


@pytest.mark.parametrize("text", ["nada", "nada, todo bien", "ningún cambio", "todo está bien"])
def test_nothing_to_change_in_spanish(text: str) -> None:
    assert nothing_to_change(text)


@pytest.mark.parametrize("text", ["el martes por la tarde", "María José Pérez", "sí"])
def test_a_plain_answer_is_not_a_correction(text: str) -> None:
    assert not is_change_request(text)


@pytest.mark.parametrize("text", ["un momento", "un momentito", "espere", "ya vuelvo", "deme un segundo",
                                  "un segundo"])
def test_a_spanish_pause_is_a_pause(text: str) -> None:
    assert is_pause(text)


@pytest.mark.parametrize("text", ["espere, mi número es 617 333 2211", "el martes"])
def test_a_message_with_an_answer_is_not_a_pause(text: str) -> None:
    assert not is_pause(text)

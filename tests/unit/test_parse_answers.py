"""Reading answers (actions/parsers/answers.py) with real phonenumbers and email-validator."""
from __future__ import annotations

from typing import Optional

import pytest

from actions.parsers import Invalid
from actions.parsers import answers
from actions.parsers.answers import (
    consent_question, declines_name, display_phone, explicit_consent, field_named, is_change_request,
    is_pause, new_value_text, parse_email, parse_method, parse_name, parse_phone, parse_reason,
    privacy_question, requested_method, sender_phone, without_phone, yes_or_no,
)

# --- Names ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, name",
    [
        ("Jane Smith", "Jane Smith"),
        ("my name is Jane O'Neil", "Jane O'Neil"),
        ("hi, I'm Jean-Luc Picard", "Jean-Luc Picard"),
        ("María José Núñez", "María José Núñez"),
        ("Do Van Minh", "Do Van Minh"),
        ("José María de la Cruz Fernández", "José María de la Cruz Fernández"),
        ("李小龙", "李小龙"),
        ("Nguyễn Thị Minh Khai", "Nguyễn Thị Minh Khai"),
        ("Nguye\u0302\u0303n Thi\u0323 Minh Khai", "Nguyễn Thị Minh Khai"),  # typed with combining marks
        ("Ольга Петрова", "Ольга Петрова"),
        ("محمد علي", "محمد علي"),
        ("my name is spelled Jon Smyth", "Jon Smyth"),
    ],
)
def test_names_in_any_script(text: str, name: str) -> None:
    assert parse_name(text) == name


def test_a_name_of_100_characters_is_kept_and_a_longer_one_refused_with_the_limit() -> None:
    hundred = ("Maximiliana " * 9 + "Bartholomew")[:100].strip()
    assert len(hundred) <= 100 and parse_name(hundred) == hundred
    too_long = "Ann " * 8 + "B" * 80
    result = parse_name(too_long)
    assert isinstance(result, Invalid) and result.reason == "name_too_long"
    assert result.values == {"max_chars": "100"}


@pytest.mark.parametrize(
    "name",
    ["María de los Ángeles Fernández-Castellanos de la Torre y Villanueva Gutiérrez del Río Montes Aguirre",
     "Johannes Cornelis van der Berg van den Heuvel ter Haar", "Abdullah bin Abdulaziz bin Saud al Rashid"],
)
def test_long_names_with_particles_and_double_surnames_are_kept_whole(name: str) -> None:
    assert len(name) <= 100 and parse_name(name) == name


@pytest.mark.parametrize("text", ["I think I will go with whatever works best for me on the day",
                                  "does it hurt?", "is it safe", "yes", "212 555 0147", "cancel", "x", "brb"])
def test_what_is_not_a_name(text: str) -> None:
    result = parse_name(text)
    assert isinstance(result, Invalid) and result.reason == "name"


@pytest.mark.parametrize("text", ["I'd rather not say", "skip", "no name please", "prefer not to give it"])
def test_a_patient_may_decline_to_give_a_name(text: str) -> None:
    assert declines_name(text)


# --- Phone numbers ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, stored",
    [
        ("212 555 0147", "+12125550147"),
        ("my number is (212) 555-0147 thanks", "+12125550147"),
        ("+44 20 7946 0958", "+442079460958"),
        ("617-333-2211 ext 42", "+16173332211;ext=42"),
        ("617 333 2211 x7", "+16173332211;ext=7"),
    ],
)
def test_valid_phone_numbers_are_stored_as_e164_with_any_extension(text: str, stored: str) -> None:
    assert parse_phone(text, "US") == stored


def test_an_extension_is_shown_back() -> None:
    assert display_phone("+16173332211;ext=42") == "+1 617-333-2211 ext. 42"


def test_the_default_region_reads_national_numbers() -> None:
    assert parse_phone("020 7946 0958", "GB") == "+442079460958"


@pytest.mark.parametrize(
    "text, reason",
    [("12345", "phone_too_short"), ("555-1234", "phone_needs_area_code"),
     ("call me", "phone_missing"), ("212 555 01477777", "phone_too_long")],
)
def test_an_invalid_phone_number_is_refused_with_the_reason_and_an_example(text: str, reason: str) -> None:
    result = parse_phone(text, "US")
    assert isinstance(result, Invalid) and result.reason == reason
    assert result.values == {"example": "(201) 555-0123"}


@pytest.mark.parametrize(
    "channel, sender, number",
    [("twilio", "whatsapp:+14155552671", "+14155552671"), ("twilio", "+14155552671", "+14155552671"),
     ("rest", "+14155552671", None), ("twilio", "+1555", None), (None, "whatsapp:+14155552671", None)],
)
def test_the_sender_number_counts_only_on_sms_and_whatsapp(
    channel: Optional[str], sender: str, number: Optional[str]
) -> None:
    assert sender_phone(channel, sender, "US") == number


def test_on_sms_yes_means_the_sender_number() -> None:
    assert parse_phone("yes, use this one", "US", own_number="+14155552671") == "+14155552671"
    assert parse_phone("212 555 0147", "US", own_number="+14155552671") == "+12125550147"


# --- Email -------------------------------------------------------------------------------------------

def test_emails_are_normalised() -> None:
    assert parse_email("it's Jane.Doe@Example.COM thanks") == "Jane.Doe@example.com"


def test_an_email_typed_all_in_capitals_is_kept_lower_case() -> None:
    assert parse_email("my email is actually JANE.DOE@EXAMPLE.ORG") == "jane.doe@example.org"


@pytest.mark.parametrize(
    "text, method",
    [("actually please call me instead of texting", "phone"), ("actually call me, don't text", "phone"),
     ("Actually, email me instead", "email"), ("don't text me, call me", "phone"), ("by email please", "email"),
     ("can you text me?", "sms"), ("I'd prefer a phone call", "phone"), ("not by email, by text", "sms"),
     ("next Tuesday afternoon", None), ("my email is wrong", None), ("Jane Smith", None)],
)
def test_a_contact_method_asked_for_in_passing(text: str, method: Optional[str]) -> None:
    assert requested_method(text) == method


@pytest.mark.parametrize("text, rest", [("just call me on 617 333 2211", ""), ("Jane Smith, 617 333 2211", "Jane Smith"),
                                        ("my number is 617.333.2211", "")])
def test_without_phone_leaves_what_is_not_the_number(text: str, rest: str) -> None:
    assert without_phone(text, "US") == rest


@pytest.mark.parametrize(
    "text, reason, problem",
    [("jane at gmail", "email_missing", None),
     ("jane@", "email", "There must be something after the @-sign."),
     ("jane@localhost", "email", "should have a period")],
)
def test_an_invalid_email_is_refused_with_the_validators_reason(text: str, reason: str, problem: Optional[str]) -> None:
    result = parse_email(text)
    assert isinstance(result, Invalid) and result.reason == reason
    if problem:
        assert problem in result.values["problem"]


# --- Choices ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, method",
    [("Phone call", "phone"), ("Text message", "sms"), ("Email", "email"), ("email me please", "email"),
     ("WhatsApp", "sms"), ("text me, not a call", "sms")],
)
def test_contact_methods(text: str, method: str) -> None:
    assert parse_method(text) == method


@pytest.mark.parametrize(
    "text, reason",
    [("Spider vein consultation", "spider_vein_consultation"), ("Sclerotherapy treatment", "sclerotherapy_treatment"),
     ("Follow-up visit", "follow_up"), ("Something else", "other"),
     ("a consultation about my spider veins", "spider_vein_consultation")],
)
def test_reasons(text: str, reason: str) -> None:
    assert parse_reason(text) == reason


def test_a_question_is_not_a_reason() -> None:
    assert parse_reason("is sclerotherapy treatment painful?") == Invalid("visit_reason")


# --- Yes, no and consent ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, intent, answer",
    [("yes I agree", None, True), ("I don't mind", None, True), ("no thanks", None, False),
     ("I do not agree", None, False), ("/affirm", "affirm", True), ("/deny", "deny", False),
     ("is my data safe?", None, None), ("purple", None, None)],
)
def test_yes_or_no(text: str, intent: Optional[str], answer: Optional[bool]) -> None:
    assert yes_or_no(text, intent) is answer


@pytest.mark.parametrize("text", ["yes", "Yes, I agree", "I agree", "yes please", "I consent", "yep", "/affirm"])
def test_an_explicit_yes_is_consent(text: str) -> None:
    assert explicit_consent(text, "affirm") is True


@pytest.mark.parametrize("text", ["ok", "fine", "I don't mind", "sure, whatever", "I guess", "maybe",
                                  "yes but why do you need it?", "what?"])
def test_only_an_explicit_yes_is_consent(text: str) -> None:
    assert explicit_consent(text, "affirm") is None


@pytest.mark.parametrize("text", ["I don't know", "i dont know", "maybe", "not sure", "I'm not really sure",
                                  "unsure", "dunno", "no idea", "perhaps", "let me think about it",
                                  "I need to think"])
def test_doubt_is_neither_consent_nor_a_refusal(text: str) -> None:
    for intent in ("deny", "affirm", None):
        assert explicit_consent(text, intent) is None


@pytest.mark.parametrize("text", ["no", "no thanks", "I don't agree", "/deny"])
def test_a_no_is_a_refusal(text: str) -> None:
    assert explicit_consent(text, "deny") is False


@pytest.mark.parametrize(
    "text, topic",
    [("why do you need that?", "why"), ("who will see my details?", "who"),
     ("how long do you keep it?", "retention"), ("what do you store?", "what"),
     ("will you share it with anyone?", "who"), ("what does that mean?", "why")],
)
def test_questions_about_consent_are_recognised_by_topic(text: str, topic: str) -> None:
    assert consent_question(text) == topic


@pytest.mark.parametrize(
    "text, topic",
    [("why do you need my number?", "why"), ("who can see my email?", "who"),
     ("how long will you keep my details?", "retention"), ("does it hurt?", None), ("what is sclerotherapy?", None)],
)
def test_at_other_questions_only_a_question_that_names_privacy_is_about_it(text: str, topic: Optional[str]) -> None:
    assert privacy_question(text) == topic


@pytest.mark.parametrize("text", ["why?", "what?", "do I have to?", "what does that mean exactly?", "huh?",
                                  "what will you do with my phone number?", "is my information safe?"])
def test_a_bare_question_at_the_consent_step_is_about_the_consent(text: str) -> None:
    assert consent_question(text) == "why"


@pytest.mark.parametrize("text", ["what are spider veins exactly?", "does sclerotherapy hurt?",
                                  "how many sessions will I need?", "is there parking?"])
def test_a_question_about_something_else_is_not_about_consent(text: str) -> None:
    assert consent_question(text) is None


def test_a_plain_answer_is_not_a_question_about_consent() -> None:
    assert consent_question("yes") is None and consent_question("no thanks") is None


# --- Corrections and pauses -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, field, value",
    [("actually my number is 617-333-2211", "phone", "actually my number is 617-333-2211"),
     ("make it Friday instead", "time", "Friday"),
     ("my name is spelled Jon Smyth", "name", "Jon Smyth"),
     ("change my name to Jane Doe", "name", "Jane Doe"),
     ("sorry, wrong email: jane@example.org", "email", "sorry, wrong email: jane@example.org")],
)
def test_a_correction_names_its_field_and_carries_the_new_value(text: str, field: str, value: str) -> None:
    assert is_change_request(text) and field_named(text) == field
    assert " ".join(new_value_text(text, field).split()) == value


@pytest.mark.parametrize("text", ["brb", "one sec", "hold on", "BRB!", "give me a minute"])
def test_brb_is_a_pause(text: str) -> None:
    assert is_pause(text)


def test_a_pause_word_inside_an_answer_is_not_a_pause() -> None:
    assert not is_pause("wait, it's Friday")


def test_the_parsers_import_nothing_from_rasa() -> None:
    import re

    import actions.parsers as package
    import actions.parsers.dates as dates

    for module in (package, answers, dates):
        source = open(module.__file__, encoding="utf-8").read()
        assert not re.search(r"^\s*(from|import)\s+rasa", source, re.M), module.__name__

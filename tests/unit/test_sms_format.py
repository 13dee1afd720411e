"""SMS formatting and reply mapping of the Twilio channel (addons/channels/sms_format.py, twilio.py)."""
from __future__ import annotations

from typing import Any, Dict, List

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from twilio.request_validator import RequestValidator

from addons.channels.opt_outs import opt_keyword
from addons.channels.sms_format import (
    SMS_MAX_CHARS,
    button_prompt,
    clean_sms_text,
    compose_sms,
    last_offered_buttons,
    resolve_reply,
    split_for_sms,
)
from addons.channels.twilio import parse_twilio_form, signed_url
from addons.channels.twilio_client import sender_address

BUTTONS = [
    {"title": "Book a consultation", "payload": "/book_appointment"},
    {"title": "Ask another question", "payload": "/ask_question"},
]


def test_buttons_become_one_numbered_prompt() -> None:
    assert button_prompt(BUTTONS) == "Reply 1 to book a consultation, 2 to ask another question."


def test_questions_and_noun_titles_read_naturally() -> None:
    prompt = button_prompt(
        [
            {"title": "What is sclerotherapy?", "payload": "What is sclerotherapy?"},
            {"title": "Talk to staff", "payload": "/human_handoff"},
            {"title": "Recovery time", "payload": "x"},
            {"title": "WhatsApp", "payload": "y"},
        ]
    )
    assert prompt == (
        'Reply 1 for "What is sclerotherapy?", 2 to talk to staff, 3 for recovery time, 4 for WhatsApp.'
    )


def test_a_turn_is_one_message_with_texts_then_buttons() -> None:
    messages = [
        {"recipient_id": "+15550001111", "text": "First paragraph."},
        {"recipient_id": "+15550001111", "text": "Second paragraph.", "buttons": BUTTONS[:1]},
        {"recipient_id": "+15550001111", "text": "Third.", "buttons": BUTTONS[1:]},
    ]
    turn = compose_sms(messages)
    assert turn.bodies == [
        "First paragraph.\n\nSecond paragraph.\n\nThird.\n\n"
        "Reply 1 to book a consultation, 2 to ask another question."
    ]
    assert turn.media == []


def test_images_travel_as_media_of_the_same_message() -> None:
    turn = compose_sms([{"text": "Look:"}, {"image": "https://example.org/a.png"}])
    assert turn.bodies == ["Look:"]
    assert turn.media == ["https://example.org/a.png"]


def test_an_empty_turn_sends_nothing() -> None:
    assert compose_sms([]).bodies == []
    assert compose_sms([{"text": "   "}]).bodies == []


def test_long_turns_split_between_paragraphs() -> None:
    first, second = "a" * 1000, "b" * 1000
    assert split_for_sms(f"{first}\n\n{second}") == [first, second]


def test_an_overlong_paragraph_splits_between_sentences() -> None:
    sentence = "This sentence is exactly forty-four chars. "
    text = (sentence * 60).strip()
    parts = split_for_sms(text)
    assert len(parts) == 2
    assert all(len(p) <= SMS_MAX_CHARS for p in parts)
    assert all(p.endswith("chars.") for p in parts)
    assert " ".join(parts) == text


def test_a_word_longer_than_the_limit_is_cut() -> None:
    assert split_for_sms("x" * 3500) == ["x" * 1600, "x" * 1600, "x" * 300]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=5000))
def test_splitting_never_exceeds_the_limit_or_loses_words(text: str) -> None:
    parts = split_for_sms(text)
    assert all(0 < len(p) <= SMS_MAX_CHARS for p in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())


@pytest.mark.parametrize(
    "reply, payload",
    [
        ("1", "/book_appointment"),
        ("2", "/ask_question"),
        (" 2 ", "/ask_question"),
        ("2.", "/ask_question"),
        ("#2", "/ask_question"),
        ("book a consultation", "/book_appointment"),
        ("  Ask another QUESTION! ", "/ask_question"),
        ("3", None),
        ("0", None),
        ("12", None),
        ("2 please tell me more", None),
        ("how much does it cost?", None),
    ],
)
def test_replies_map_back_to_payloads(reply: str, payload: str) -> None:
    assert resolve_reply(reply, BUTTONS) == payload


def test_no_buttons_no_mapping() -> None:
    assert resolve_reply("1", []) is None


def _bot(text: str, buttons: List[Dict[str, Any]] | None = None, at: float = 1000.0) -> BotUttered:
    return BotUttered(text, {"buttons": buttons} if buttons else {}, timestamp=at)


def test_last_turn_buttons_come_from_every_bot_message_since_the_patient_wrote() -> None:
    events = [
        UserUttered("hi", timestamp=900),
        _bot("old", [{"title": "Old", "payload": "/old"}], at=901),
        UserUttered("what?", timestamp=950),
        ActionExecuted("utter_a", timestamp=990),
        _bot("a", BUTTONS[:1], at=990),
        _bot("b", BUTTONS[1:], at=991),
        ActionExecuted("action_listen", timestamp=992),
    ]
    assert last_offered_buttons(events, now=1000, max_age_seconds=3600) == BUTTONS
    assert resolve_reply("2", last_offered_buttons(events, 1000, 3600)) == "/ask_question"


def test_a_turn_without_buttons_maps_nothing() -> None:
    events = [_bot("offer", BUTTONS), UserUttered("1"), _bot("plain text")]
    assert last_offered_buttons(events, now=1000, max_age_seconds=3600) == []


def test_buttons_from_an_expired_session_are_ignored() -> None:
    events = [_bot("offer", BUTTONS, at=1000)]
    assert last_offered_buttons(events, now=1000 + 3601, max_age_seconds=3600) == []
    assert last_offered_buttons(events, now=1000 + 3599, max_age_seconds=3600) == BUTTONS
    assert last_offered_buttons(events, now=10**9, max_age_seconds=0) == BUTTONS


@pytest.mark.parametrize(
    "text, keyword",
    [
        ("STOP", "STOP"),
        ("stop", "STOP"),
        (" Stop. ", "STOP"),
        ("unsubscribe", "UNSUBSCRIBE"),
        ("Cancel", "CANCEL"),
        ("end", "END"),
        ("QUIT", "QUIT"),
        ("start", "START"),
        ("yes", "YES"),
        ("stop sending me texts", None),
        ("please cancel", None),
        ("when does it end?", None),
    ],
)
def test_opt_keywords_are_whole_messages_in_any_case(text: str, keyword: str) -> None:
    assert opt_keyword(text) == keyword


def test_whatsapp_replies_come_from_the_whatsapp_address() -> None:
    assert sender_address("whatsapp:+15550001111", "+15550009999") == "whatsapp:+15550009999"
    assert sender_address("+15550001111", "+15550009999") == "+15550009999"
    assert sender_address("+15550001111", "whatsapp:+15550009999") == "+15550009999"


def test_signed_url_follows_the_public_base_url_behind_a_proxy() -> None:
    own = "http://127.0.0.1:5005/webhooks/twilio/webhook?x=1"
    assert signed_url(own, None) == own
    assert signed_url(own, "https://clinic.example.org/") == "https://clinic.example.org/webhooks/twilio/webhook?x=1"
    assert signed_url(own, "https://example.org/bot") == "https://example.org/bot/webhooks/twilio/webhook?x=1"


def test_blank_form_fields_are_kept_for_the_signature() -> None:
    params = {"From": "+15550001111", "Body": "hi", "FromCity": ""}
    url = "https://clinic.example.org/webhooks/twilio/webhook"
    signature = RequestValidator("secret").compute_signature(url, params)
    form = parse_twilio_form(b"From=%2B15550001111&Body=hi&FromCity=")
    assert form is not None
    assert RequestValidator("secret").validate(url, form, signature)
    assert parse_twilio_form(b"\xff\xfe") is None


def test_sms_text_cleaning() -> None:
    assert clean_sms_text("me¡example.com") == "me@example.com"
    assert clean_sms_text("hi\x00 there\x07\nok") == "hi there\nok"

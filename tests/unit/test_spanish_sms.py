"""The SMS/WhatsApp button line in the language of the reply it ends (sms_format.py,
twilio_client.py): "Responda 1 para agendar una consulta, ..." after a Spanish reply."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml
from rasa.core.actions.action import create_bot_utterance
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from addons.channels.sms_format import button_prompt, compose_sms, prompt_wording, resolve_reply, turn_language
from addons.channels.twilio_client import TwilioTurnCollector
from addons.nlg import ClinicNLG
from clinic.languages import REPLY_LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
BOTONES = [
    {"title": "Agendar una consulta", "payload": "/book_appointment"},
    {"title": "Hacer otra pregunta", "payload": "/ask_question"},
]


def test_spanish_buttons_become_one_numbered_prompt() -> None:
    assert button_prompt(BOTONES, prompt_wording("es")) == (
        "Responda 1 para agendar una consulta, 2 para hacer otra pregunta.")


def test_spanish_questions_and_noun_titles_read_naturally() -> None:
    prompt = button_prompt(
        [
            {"title": "¿Qué es la escleroterapia?", "payload": "¿Qué es la escleroterapia?"},
            {"title": "Hablar con el personal", "payload": "/human_handoff"},
            {"title": "Tiempo de recuperación", "payload": "x"},
            {"title": "WhatsApp", "payload": "y"},
        ],
        prompt_wording("es"),
    )
    assert prompt == ('Responda 1 para "¿Qué es la escleroterapia?", 2 para hablar con el personal, '
                      "3 para tiempo de recuperación, 4 para WhatsApp.")


@pytest.mark.parametrize("language", REPLY_LANGUAGES)
def test_every_reply_language_has_its_prompt_words_and_verbs(language: str) -> None:
    wording = prompt_wording(language)
    assert "{choices}" in wording.prompt and wording.verbs
    others = [prompt_wording(other) for other in REPLY_LANGUAGES if other != language]
    assert all(wording.prompt != other.prompt for other in others)


def test_the_turn_language_is_the_one_its_buttons_were_written_in() -> None:
    assert turn_language([]) == "en"
    assert turn_language([{"text": "Hola."}]) == "en"  # nothing marked (an action's own text)
    assert turn_language([{"text": "Hola.", "language": "es"}, {"text": "?", "buttons": BOTONES}]) == "es"
    assert turn_language([{"text": "Hi.", "language": "en"}, {"text": "Hola.", "buttons": BOTONES, "language": "es"},
                          {"text": "Fin.", "language": "en"}]) == "es"


def test_a_spanish_turn_is_one_message_with_the_spanish_prompt() -> None:
    turn = compose_sms([{"text": "Primero.", "language": "es"}, {"text": "Segundo.", "buttons": BOTONES, "language": "es"}])
    assert turn.bodies == ["Primero.\n\nSegundo.\n\nResponda 1 para agendar una consulta, 2 para hacer otra pregunta."]


@pytest.mark.parametrize("reply, payload", [("1", "/book_appointment"), ("hacer otra pregunta", "/ask_question")])
def test_spanish_replies_map_back_to_payloads(reply: str, payload: str) -> None:
    assert resolve_reply(reply, BOTONES) == payload


# -- the whole path: the NLG's reply, Rasa's bot event, the Twilio collector, the SMS ---------

@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain"))


def sms_of(domain: Domain, names: List[str], language: Optional[str]) -> List[str]:
    """The SMS bodies of a turn of these responses, as the Twilio channel sends them."""
    tracker = DialogueStateTracker("+15550001111", domain.slots)
    if language:
        tracker.update(SlotSet("language", language))
    collector = TwilioTurnCollector()

    async def turn() -> None:
        for name in names:
            message: Dict[str, Any] = await ClinicNLG(domain=domain).generate(name, tracker, collector.name())
            # What Rasa's processor does with a reply: a bot event, whose message goes to the channel.
            await collector.send_response(tracker.sender_id, create_bot_utterance(message).message())

    asyncio.run(turn())
    return compose_sms(collector.messages).bodies


def test_a_spanish_conversation_gets_the_spanish_button_line(domain: Domain) -> None:
    [body] = sms_of(domain, ["utter_out_of_scope"], "es")
    assert body.startswith("Lo siento, no puedo responder eso por aquí")
    assert body.endswith("Responda 1 para agendar una consulta, 2 para hablar con el personal, "
                         "3 para hacer otra pregunta.")


def test_an_english_conversation_keeps_the_english_button_line(domain: Domain) -> None:
    for language in (None, "en"):
        [body] = sms_of(domain, ["utter_out_of_scope"], language)
        assert body.endswith("Reply 1 to book a consultation, 2 to talk to staff, 3 to ask another question.")


def test_the_sms_words_are_the_domains_spanish_variations() -> None:
    responses = yaml.safe_load((ROOT / "domain" / "system.yml").read_text(encoding="utf-8"))["responses"]
    spanish = [v["text"] for v in responses["utter_sms_reply_prompt"] if v.get("condition")]
    assert spanish == [prompt_wording("es").prompt]

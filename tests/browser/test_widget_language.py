"""The widget in two languages, in a real headless Chromium against the real assistant:
its own words from the table in web/widget.js, `lang` on the widget and on each bot
message, the language toggle, and a Spanish page whose first message carries the language.
"""
from __future__ import annotations

from typing import Any, Dict

import pytest
import requests
from playwright.sync_api import Locator, Page, expect

from ops.stack import Stack
from tests.browser.conftest import DESKTOP
from tests.browser.test_widget import (
    OpenPage, assert_clean, open_chat, serious_axe_violations, session_id_of, user_events,
)
from tests.responses import ResponseCatalog

pytestmark = pytest.mark.browser

CONFIRMATION = "utter_language_set"


def tracker(stack: Stack, session_id: str) -> Dict[str, Any]:
    return requests.get(f"{stack.rasa_url}/conversations/{session_id}/tracker",
                        params={"token": stack.token}, timeout=10).json()


def bot_says(page: Page, text: str) -> Locator:
    """A bot message, whatever the language of the transcript's name."""
    return page.locator("#vc-log .vc-msg-bot .vc-bubble").get_by_text(text, exact=True)


def widget_lang(page: Page) -> str:
    return page.locator("aside.vc-root").get_attribute("lang")


def last_bot_bubble_lang(page: Page) -> str:
    return page.locator(".vc-msg-bot .vc-bubble").last.get_attribute("lang")


def test_the_toggle_switches_the_conversation_and_the_widget(
    stack: Stack, open_page: OpenPage, responses: ResponseCatalog
) -> None:
    opened = open_page(DESKTOP, axe=True)
    page = opened.page
    open_chat(page, stack.web_url, responses)  # an English page: the English greeting
    assert widget_lang(page) == "en" and last_bot_bubble_lang(page) == "en"
    spanish, english = responses.texts[CONFIRMATION][1], responses.texts[CONFIRMATION][0]

    # The toggle names the language it switches to, in that language.
    toggle = page.get_by_role("button", name="Español", exact=True)
    expect(toggle).to_have_attribute("lang", "es")
    toggle.click()
    expect(bot_says(page, spanish)).to_be_visible()
    assert last_bot_bubble_lang(page) == "es"
    assert widget_lang(page) == "es"
    expect(page.get_by_role("button", name="Enviar")).to_be_visible()
    expect(page.get_by_role("button", name="Nuevo chat")).to_be_visible()
    expect(page.get_by_label("Su mensaje para", exact=False)).to_have_attribute("placeholder", "Escriba su pregunta")
    # Sent quietly: no bubble for the patient, the payload reached the conversation.
    assert page.locator(".vc-msg-user").count() == 0
    session = session_id_of(page)
    assert user_events(stack, session)[-1] == '/set_language{"language":"es"}'
    assert tracker(stack, session)["slots"]["language"] == "es"

    # Asking in words works the same way, and the widget follows the conversation.
    page.get_by_label("Su mensaje para", exact=False).fill("English please")
    page.get_by_role("button", name="Enviar").click()
    expect(bot_says(page, english)).to_be_visible()
    assert last_bot_bubble_lang(page) == "en" and widget_lang(page) == "en"
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    assert tracker(stack, session)["slots"]["language"] == "en"
    # The earlier Spanish message keeps its own lang for screen readers.
    assert page.locator(".vc-msg-bot .vc-bubble").nth(1).get_attribute("lang") == "es"
    assert serious_axe_violations(page) == []
    assert_clean(opened.recorded)


def test_a_spanish_page_opens_a_spanish_conversation(
    stack: Stack, open_page: OpenPage, responses: ResponseCatalog
) -> None:
    opened = open_page(DESKTOP)
    page = opened.page
    page.goto(stack.web_url + "es.html")
    launcher = page.get_by_role("button", name="Chatear con nosotros")
    expect(launcher).to_be_visible()
    assert widget_lang(page) == "es"
    launcher.click()
    expect(page.locator(".vc-msg-bot").first).to_be_visible()
    session = session_id_of(page)
    # The first message carries the language: the greeting is chosen with the slot set.
    assert user_events(stack, session)[0] == '/greet{"language":"es"}'
    assert tracker(stack, session)["slots"]["language"] == "es"

    # A Spanish conversation: a question in the patient's words gets the Spanish answer.
    box = page.get_by_label("Su mensaje para", exact=False)
    box.fill("hola, ¿duele mucho la escleroterapia? me dan miedo las agujas")
    page.get_by_role("button", name="Enviar").click()
    answer = responses.texts["utter_faq/discomfort"][1]
    expect(bot_says(page, answer)).to_be_visible()
    assert last_bot_bubble_lang(page) == "es"
    assert tracker(stack, session)["slots"]["language"] == "es"
    assert_clean(opened.recorded)

"""The web chat widget in a real headless Chromium, against the real assistant.

The `stack` fixture runs the Rasa server, the action server and the web page
(ops.web); the page's /config.js points the widget at that Rasa server, which
it reaches over socket.io as a patient's browser would.
"""
from __future__ import annotations

import re
from typing import Callable, List

import pytest
import requests
from playwright.sync_api import Locator, Page, expect

from clinic.settings import clinic_details
from ops.stack import Stack
from tests.browser.conftest import DESKTOP, PHONE, SCREENSHOTS, BrowserPage
from tests.responses import ResponseCatalog

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>"
OpenPage = Callable[..., BrowserPage]


# --- helpers -------------------------------------------------------------------


def launcher(page: Page) -> Locator:
    return page.get_by_role("button", name="Chat with us")


def transcript(page: Page) -> Locator:
    return page.get_by_role("log", name="Conversation")


def message_box(page: Page) -> Locator:
    return page.get_by_label(f"Your message to {clinic_details().name}")


def bot_says(page: Page, text: str) -> Locator:
    return transcript(page).locator(".vc-msg-bot .vc-bubble").get_by_text(text, exact=True)


def user_says(page: Page, text: str) -> Locator:
    return transcript(page).locator(".vc-msg-user .vc-bubble").get_by_text(text, exact=True)


def open_chat(page: Page, url: str, responses: ResponseCatalog) -> None:
    """Load the page as a new visitor, open the widget and wait for the greeting."""
    page.goto(url)
    launcher(page).click()
    expect(page.get_by_role("region", name=clinic_details().name)).to_be_visible()
    expect(bot_says(page, responses.text("utter_greet"))).to_be_visible()


def ask(page: Page, text: str) -> None:
    message_box(page).fill(text)
    page.get_by_role("button", name="Send").click()


def watch_typing_indicator(page: Page) -> None:
    """Remember whether the typing indicator is ever shown from now on."""
    page.evaluate(
        """() => {
            window.__typingSeen = false;
            const typing = document.querySelector('.vc-typing');
            new MutationObserver(() => { if (!typing.hidden) window.__typingSeen = true; })
                .observe(typing, {attributes: true});
        }"""
    )


def focused_element(page: Page) -> dict:
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {tag: el.tagName, text: el.textContent.trim(), id: el.id,
                    outline: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth)};
        }"""
    )


def tab_to(page: Page, text: str, limit: int = 20) -> dict:
    """Press Tab until the element with this text has focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = focused_element(page)
        if focused["text"] == text:
            return focused
    raise AssertionError(f"Tab never reached {text!r}")


def assert_focus_visible(focused: dict) -> None:
    assert focused["outline"] != "none" and focused["outlineWidth"] >= 2, focused


def assert_clean(recorded) -> None:
    """Nothing left this machine, no script dialog, nothing blocked or broken."""
    assert recorded.non_local() == []
    assert recorded.dialogs == []
    assert recorded.console_errors == []


def session_id_of(page: Page) -> str:
    return page.evaluate("JSON.parse(localStorage.getItem('veinClinicChat.v1')).sessionId")


def user_events(stack: Stack, session_id: str) -> List[str]:
    """What the Rasa server recorded as the patient's messages in this conversation."""
    tracker = requests.get(
        f"{stack.rasa_url}/conversations/{session_id}/tracker",
        params={"token": stack.token}, timeout=10,
    ).json()
    return [event.get("text") for event in tracker["events"] if event["event"] == "user"]


def serious_axe_violations(page: Page) -> List[str]:
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


# --- tests ---------------------------------------------------------------------


def test_answers_a_question_and_quick_replies_work(
    stack: Stack, open_page: OpenPage, responses: ResponseCatalog
) -> None:
    opened = open_page(DESKTOP)
    page = opened.page
    open_chat(page, stack.web_url, responses)
    # The greeting's buttons are quick replies with names.
    for title in ("What is sclerotherapy?", "Book a consultation", "Talk to staff"):
        expect(page.get_by_role("group", name="Suggested replies").get_by_role("button", name=title)).to_be_visible()

    watch_typing_indicator(page)
    ask(page, "does it hurt?")
    expect(user_says(page, "does it hurt?")).to_be_visible()
    expect(bot_says(page, responses.text("utter_faq/discomfort"))).to_be_visible()
    assert page.evaluate("window.__typingSeen") is True
    expect(page.locator(".vc-typing")).to_be_hidden()
    # Only the newest answer keeps quick replies.
    expect(page.get_by_role("group", name="Suggested replies")).to_have_count(1)

    page.get_by_role("button", name="Ask another question").click()
    expect(user_says(page, "Ask another question")).to_be_visible()
    expect(bot_says(page, responses.text("utter_ask_question"))).to_be_visible()
    # The button's payload went to the server; the patient saw its title.
    assert user_events(stack, session_id_of(page))[-1] == "/ask_question"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "widget-desktop-1280x800.png"))
    assert_clean(opened.recorded)


def test_one_exchange_with_the_keyboard_only(
    stack: Stack, open_page: OpenPage, responses: ResponseCatalog
) -> None:
    opened = open_page(DESKTOP)
    page = opened.page
    page.goto(stack.web_url)

    focused = tab_to(page, "Chat with us")
    assert_focus_visible(focused)
    page.keyboard.press("Enter")
    assert focused_element(page)["id"] == "vc-input"  # opening puts the cursor in the message box
    expect(bot_says(page, responses.text("utter_greet"))).to_be_visible()

    page.keyboard.type("how long does the treatment take?")
    page.keyboard.press("Enter")
    expect(bot_says(page, responses.text("utter_faq/duration"))).to_be_visible()

    # Back from the message box to the newest quick reply, and choose it.
    page.keyboard.press("Shift+Tab")
    focused = focused_element(page)
    assert focused["text"] == "Ask another question"
    assert_focus_visible(focused)
    page.keyboard.press("Enter")
    expect(bot_says(page, responses.text("utter_ask_question"))).to_be_visible()
    assert focused_element(page)["id"] == "vc-input"

    # Escape closes the chat and gives focus back to the launcher.
    page.keyboard.press("Escape")
    expect(page.get_by_role("region", name=clinic_details().name)).to_be_hidden()
    assert focused_element(page)["text"] == "Chat with us"
    expect(launcher(page)).to_have_attribute("aria-expanded", "false")
    assert_clean(opened.recorded)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_no_serious_accessibility_violations(
    stack: Stack, open_page: OpenPage, responses: ResponseCatalog, viewport: dict
) -> None:
    opened = open_page(viewport, axe=True)
    page = opened.page
    page.goto(stack.web_url)
    assert serious_axe_violations(page) == []  # closed

    launcher(page).click()
    expect(bot_says(page, responses.text("utter_greet"))).to_be_visible()
    ask(page, "does it hurt?")
    expect(bot_says(page, responses.text("utter_faq/discomfort"))).to_be_visible()
    assert serious_axe_violations(page) == []  # open, with a conversation and quick replies
    expect(transcript(page)).to_have_attribute("aria-live", "polite")
    assert_clean(opened.recorded)


def test_hostile_input_is_shown_as_text_and_runs_nothing(
    stack: Stack, open_page: OpenPage, responses: ResponseCatalog
) -> None:
    # The page's CSP would block an inline onerror handler anyway; it is switched off
    # here so that only the widget's own rendering stands between the text and a script.
    opened = open_page(DESKTOP, bypass_csp=True)
    page = opened.page
    open_chat(page, stack.web_url, responses)
    ask(page, HOSTILE)
    expect(user_says(page, HOSTILE)).to_be_visible()
    # The assistant answers (whatever it says), so the text went through the server and back.
    expect(transcript(page).locator(".vc-msg-bot")).to_have_count(2)
    page.wait_for_timeout(500)  # an image error handler would have fired by now
    assert transcript(page).locator("img").count() == 0
    assert opened.recorded.dialogs == []
    assert opened.recorded.non_local() == []


def test_reload_keeps_the_conversation(
    stack: Stack, open_page: OpenPage, responses: ResponseCatalog
) -> None:
    opened = open_page(DESKTOP)
    page = opened.page
    open_chat(page, stack.web_url, responses)
    ask(page, "does it hurt?")
    expect(bot_says(page, responses.text("utter_faq/discomfort"))).to_be_visible()
    session_id = session_id_of(page)

    page.reload()
    # Still open, same transcript, and the newest quick replies still there.
    expect(user_says(page, "does it hurt?")).to_be_visible()
    expect(bot_says(page, responses.text("utter_faq/discomfort"))).to_be_visible()
    expect(page.get_by_role("button", name="Ask another question")).to_be_visible()
    ask(page, "how long does it take?")
    expect(bot_says(page, responses.text("utter_faq/duration"))).to_be_visible()
    expect(bot_says(page, responses.text("utter_greet"))).to_have_count(1)  # no second greeting

    # The server kept one conversation: both questions are in the same tracker.
    said = user_events(stack, session_id)
    assert "does it hurt?" in said and "how long does it take?" in said
    assert_clean(opened.recorded)


def test_new_chat_starts_a_separate_conversation(
    stack: Stack, open_page: OpenPage, responses: ResponseCatalog
) -> None:
    opened = open_page(DESKTOP)
    page = opened.page
    open_chat(page, stack.web_url, responses)
    ask(page, "does it hurt?")
    expect(bot_says(page, responses.text("utter_faq/discomfort"))).to_be_visible()
    first = session_id_of(page)

    page.get_by_role("button", name="New chat").click()
    expect(user_says(page, "does it hurt?")).to_have_count(0)
    expect(bot_says(page, responses.text("utter_greet"))).to_be_visible()
    second = session_id_of(page)
    assert second != first
    assert_clean(opened.recorded)


def test_unreachable_server_shows_the_clinic_phone(
    dead_server_page_url: str, open_page: OpenPage
) -> None:
    details = clinic_details()
    opened = open_page(PHONE)
    page = opened.page
    page.goto(dead_server_page_url)
    launcher(page).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("can't reach our assistant")
    expect(alert).to_contain_text(details.phone)
    call = alert.get_by_role("link", name=details.phone)
    expect(call).to_have_attribute("href", "tel:" + re.sub(r"[^\d+]", "", details.phone))
    # A message typed meanwhile is kept on screen and the phone stays in view.
    ask(page, "does it hurt?")
    expect(user_says(page, "does it hurt?")).to_be_visible()
    expect(alert).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "widget-unreachable-phone-375x740.png"))
    assert opened.recorded.non_local() == []
    assert opened.recorded.dialogs == []


def test_fits_a_phone_screen(stack: Stack, open_page: OpenPage, responses: ResponseCatalog) -> None:
    opened = open_page(PHONE)
    page = opened.page
    open_chat(page, stack.web_url, responses)
    ask(page, "does it hurt?")
    expect(bot_says(page, responses.text("utter_faq/discomfort"))).to_be_visible()

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for locator in (page.locator(".vc-panel"), message_box(page), page.get_by_role("button", name="Send"),
                    page.get_by_role("button", name="Ask another question")):
        box = locator.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "widget-phone-375x740.png"))
    assert_clean(opened.recorded)

"""The staff console in a real headless Chromium: a member of staff signs in through the
labelled form and works the inbox. The console is the real server (tests/staff_console.py)
on its own SQLite database."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, List

import pytest
from playwright.sync_api import Page, expect

from clinic.store import RequestKind
from tests.browser.conftest import BrowserPage
from tests.staff_console import PASSWORD, Console, running_console

pytestmark = pytest.mark.browser

OpenPage = Callable[..., BrowserPage]
EMAIL = "front.desk@clinic.example"
SCRIPT_NAME = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with running_console(Path(tmp_path_factory.mktemp("console-browser"))) as running:
        running.add_user(EMAIL, "staff")
        yield running


def sign_in(page: Page, console: Console, password: str = PASSWORD) -> None:
    page.goto(console.url + "/")  # not signed in: sent to the sign-in form
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def serious_axe_violations(page: Page) -> List[str]:
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']}: {v['help']}" for v in results["violations"] if v["impact"] in ("serious", "critical")]


def test_staff_sign_in_through_the_labelled_form_and_see_a_request(open_page: OpenPage, console: Console) -> None:
    booking = console.save(full_name="Grace Hopper", phone="+12125550150", conversation_id="conv-grace")
    emergency = console.save(RequestKind.URGENT_CALLBACK, patient_message="my calf is hot and swollen")
    console.add_conversation("conv-grace", ("user", "can I book a consultation"), ("bot", "What is your full name?"))
    browser = open_page(axe=True)
    page = browser.page
    sign_in(page, console)
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    expect(page).to_have_url(console.url + "/")  # nothing personal in the address
    emergencies = page.get_by_role("region", name="Emergencies recorded by the assistant")
    expect(emergencies.get_by_role("link", name=emergency.reference)).to_be_visible()
    expect(emergencies.get_by_text("my calf is hot and swollen")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=booking.reference)
    expect(row.get_by_text("Grace Hopper")).to_be_visible()
    expect(row.get_by_text("pending")).to_be_visible()
    assert serious_axe_violations(page) == []

    page.get_by_role("link", name=booking.reference).click()
    expect(page.get_by_role("heading", name=f"Request {booking.reference}")).to_be_visible()
    expect(page.get_by_text("+12125550150")).to_be_visible()
    expect(page.get_by_text("can I book a consultation")).to_be_visible()
    assert serious_axe_violations(page) == []

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(console.url + "/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert browser.recorded.console_errors == [] and browser.recorded.non_local() == []


def test_a_wrong_password_is_told_plainly(open_page: OpenPage, console: Console) -> None:
    page = open_page(axe=True).page
    sign_in(page, console, password="not my password at all")
    expect(page.get_by_role("alert")).to_have_text("The email or password is not right.")
    expect(page.get_by_label("Email")).to_have_value(EMAIL)
    assert serious_axe_violations(page) == []


def test_a_patients_script_is_shown_never_run(open_page: OpenPage, console: Console) -> None:
    saved = console.save(full_name=SCRIPT_NAME, preferred_time_text="<img src=x onerror=alert(2)>",
                         conversation_id="conv-hostile")
    console.add_conversation("conv-hostile", ("user", f"I am {SCRIPT_NAME}"))
    browser = open_page()
    page = browser.page
    sign_in(page, console)
    expect(page.get_by_role("row").filter(has_text=saved.reference).get_by_text(SCRIPT_NAME)).to_be_visible()
    page.get_by_role("link", name=saved.reference).click()
    expect(page.get_by_text(f"I am {SCRIPT_NAME}")).to_be_visible()
    expect(page.get_by_text("<img src=x onerror=alert(2)>")).to_be_visible()
    assert browser.recorded.dialogs == []
    assert page.locator("main script, main img").count() == 0

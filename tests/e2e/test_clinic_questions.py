"""Questions about the clinic itself, through the running servers: answered from the
clinic's settings (example clinic: Monday to Friday, 9 to 5; no address configured)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_opening_hours_are_answered_from_the_settings(stack, sender, responses) -> None:
    replies = stack.send(sender, "what are your opening hours?")
    assert responses.names(replies) == ["utter_clinic_hours"]
    assert "Monday–Friday 9 AM – 5 PM" in replies[0]["text"]


def test_a_closed_weekday_is_named_with_the_hours(stack, sender) -> None:
    replies = stack.send(sender, "are you open on saturday?")
    assert replies[0]["text"] == "We're closed on Saturday. Our opening hours are Monday–Friday 9 AM – 5 PM."


def test_an_address_that_is_not_configured_is_declined_honestly_with_the_phone(stack, sender, responses) -> None:
    replies = stack.send(sender, "what's your address?")
    assert responses.names(replies) == ["utter_clinic_location_unknown"]
    assert "+1 555 0100" in replies[0]["text"]


def test_a_question_about_the_clinic_mid_booking_is_answered_and_the_booking_goes_on(stack, sender, responses) -> None:
    stack.send(sender, "I'd like to book a consultation")
    replies = stack.send(sender, "what number can I call you on?")
    assert responses.names(replies)[0] == "utter_clinic_contact"
    assert len(replies) >= 2, "the booking's question comes again after the answer"

"""Faults behind the Rasa server: the patient is never left in silence or lost."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_rasa_restart_keeps_the_conversation(stack, sender, responses) -> None:
    assert responses.names(stack.send(sender, "/nlu_fallback")) == ["utter_ask_rephrase"]
    stack.stop_process("rasa")
    stack.start_process("rasa")
    stack.wait_ready()
    # The second miss in a row is only recognised if the first one was kept.
    assert responses.names(stack.send(sender, "/nlu_fallback")) == ["utter_offer_staff"]

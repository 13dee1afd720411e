"""domain/system.yml holds exactly the responses the server's own code sends, and the NLG
renders each of them with the clinic's details filled in."""
from __future__ import annotations

import asyncio

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from addons.channels.system_replies import EMPTY_MESSAGE_REPLY
from addons.nlg import ClinicNLG
from addons.patches.action_apology import APOLOGY
from tests.conftest import ROOT
from tests.responses import ResponseCatalog

SENT_BY_CODE = {EMPTY_MESSAGE_REPLY, APOLOGY}
# The SMS reply prompt's words: filled in by addons/channels/sms_format.py, not the NLG.
SMS_PROMPT = {"utter_sms_reply_prompt", "utter_sms_choice_to_do", "utter_sms_choice_question", "utter_sms_choice_other"}


def test_system_yml_has_every_response_the_code_sends_and_no_other() -> None:
    responses = yaml.safe_load((ROOT / "domain" / "system.yml").read_text())["responses"]
    assert set(responses) == SENT_BY_CODE | SMS_PROMPT


def test_the_sms_prompt_is_built_from_those_words() -> None:
    from addons.channels.sms_format import button_prompt, prompt_wording

    wording = prompt_wording()
    assert (wording.prompt, wording.to_do) == ("Reply {choices}.", "{number} to {title}")
    assert button_prompt([{"title": "Talk to staff"}, {"title": "Does it hurt?"}, {"title": "Results"}]) == (
        'Reply 1 to talk to staff, 2 for "Does it hurt?", 3 for results.')


@pytest.mark.parametrize("name", sorted(SENT_BY_CODE))
def test_the_nlg_renders_it_with_the_clinics_details(name: str) -> None:
    domain = Domain.load(str(ROOT / "domain"))
    tracker = DialogueStateTracker("patient", domain.slots)
    message = asyncio.run(ClinicNLG(domain=domain).generate(name, tracker, "rest"))
    assert message is not None and "{" not in message["text"]
    assert message["text"] == ResponseCatalog.load().text(name)

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


def test_system_yml_has_every_response_the_code_sends_and_no_other() -> None:
    responses = yaml.safe_load((ROOT / "domain" / "system.yml").read_text())["responses"]
    assert set(responses) == SENT_BY_CODE


@pytest.mark.parametrize("name", sorted(SENT_BY_CODE))
def test_the_nlg_renders_it_with_the_clinics_details(name: str) -> None:
    domain = Domain.load(str(ROOT / "domain"))
    tracker = DialogueStateTracker("patient", domain.slots)
    message = asyncio.run(ClinicNLG(domain=domain).generate(name, tracker, "rest"))
    assert message is not None and "{" not in message["text"]
    assert message["text"] == ResponseCatalog.load().text(name)

"""addons/patches: one install() for every change to Rasa, refused on another Rasa version,
each change switched off by its own RASA_PATCH_* variable, harmless when installed twice.

Every check observes what Rasa does (a reply, a connection, a concurrency peak, a loaded
model), not a flag: a switch that left its patch in place would fail here.
"""
from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig

from addons import patches
from addons.nlg import ClinicNLG
from clinic import settings
from tests.conftest import ROOT, free_port
from tests.responses import ResponseCatalog
from tests.unit.test_keep_alive import serve

MODEL = Path(os.environ.get("TEST_MODEL_PATH", ROOT / "models" / "vein-assistant.tar.gz"))


@pytest.fixture(autouse=True)
def switches(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Every switch at its default; afterwards Rasa's own code back in place."""
    for name in list(os.environ):
        if name.startswith("RASA_PATCH_"):
            monkeypatch.delenv(name)
    yield monkeypatch
    for name in list(os.environ):
        if name.startswith("RASA_PATCH_"):
            monkeypatch.delenv(name)
    for patch in settings.RASA_PATCHES:
        monkeypatch.setenv(f"RASA_PATCH_{patch.upper()}", "off")
    patches.install()


def install_with(monkeypatch: pytest.MonkeyPatch, **switched: str) -> None:
    for patch, value in switched.items():
        monkeypatch.setenv(f"RASA_PATCH_{patch.upper()}", value)
    patches.install()


# -- what each patch changes, observed -----------------------------------------------------

DOMAIN = Domain.load(str(ROOT / "domain"))


def failed_action_events() -> List[Any]:
    """Run a custom action whose action server is down; Rasa 3.6 itself raises."""
    action = RemoteAction("action_submit_booking", EndpointConfig(url=f"http://127.0.0.1:{free_port()}/webhook"))
    run = action.run(CollectingOutputChannel(), ClinicNLG(domain=DOMAIN),
                     DialogueStateTracker("patient", DOMAIN.slots), DOMAIN)
    return asyncio.run(run)


def apologises() -> bool:
    try:
        events = failed_action_events()
    except RasaException:
        return False
    assert len(events) == 1 and isinstance(events[0], BotUttered)
    assert events[0].metadata["utter_action"] == "utter_action_unavailable"
    return events[0].text == ResponseCatalog.load().text("utter_action_unavailable")


def jsonschema_runs_for_a_valid_reply(monkeypatch: pytest.MonkeyPatch) -> bool:
    """Rasa's own check calls jsonschema.validate on every reply; the compiled one does not."""
    calls: List[Any] = []
    real = jsonschema.validate
    monkeypatch.setattr(jsonschema, "validate", lambda *a, **k: calls.append(a) or real(*a, **k))
    action = RemoteAction("action_submit_booking", EndpointConfig(url="http://127.0.0.1:9/webhook"))
    assert action._validate_action_result({"events": [], "responses": [{"text": "hi"}]})
    return bool(calls)


def connections_for_three_calls() -> int:
    """Distinct TCP connections a real local endpoint sees for three calls."""
    async def scenario() -> int:
        ports: List[int] = []
        runner, url = await serve(ports)
        endpoint = EndpointConfig(url=url)
        try:
            for _ in range(3):
                await endpoint.request(json={}, method="post")
        finally:
            kept = getattr(endpoint, "_kept_alive_session", None)
            if kept is not None:
                await kept.close()
            await runner.cleanup()
        return len(set(ports))

    return asyncio.run(scenario())


class _Stop(Exception):
    """Ends a message once it has been counted."""


class WorkOnlyProcessor(MessageProcessor):
    """Rasa's MessageProcessor.handle_message, its work replaced by a 20 ms wait that is counted."""

    def __init__(self) -> None:  # no model: only handle_message's admission is under test
        self.running = 0
        self.peak = 0

    async def log_message(self, message: UserMessage, should_save_tracker: bool = True) -> Any:
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(0.02)
        self.running -= 1
        raise _Stop()


def peak_concurrent_messages(messages: int = 6) -> int:
    async def scenario() -> int:
        processor = WorkOnlyProcessor()
        await asyncio.gather(*(processor.handle_message(UserMessage(f"m{i}")) for i in range(messages)),
                             return_exceptions=True)
        return processor.peak

    return asyncio.run(scenario())


def log_lines_deep_copy() -> bool:
    import rasa.core.processor

    value = {"events": [1]}
    return rasa.core.processor.copy.deepcopy(value) is not value


# -- the version ------------------------------------------------------------------------------

def test_the_pinned_version_is_the_one_the_project_installs() -> None:
    assert f'"rasa[spacy]=={patches.PINNED_RASA_VERSION}"' in (ROOT / "pyproject.toml").read_text()
    assert f"\nrasa=={patches.PINNED_RASA_VERSION}\n" in (ROOT / "constraints.txt").read_text()


@pytest.mark.parametrize("version", ["3.6.20", "3.7.0", "3.6.21rc1"])
def test_another_rasa_version_is_refused_and_nothing_is_patched(switches: pytest.MonkeyPatch, version: str) -> None:
    with pytest.raises(patches.PatchError, match=f"Rasa {version} is installed.*Rasa 3.6.21 only"):
        patches.install(rasa_version=version)
    assert not apologises()  # Rasa's own RemoteAction.run: nothing was installed


def test_the_rasa_server_refuses_to_start_on_another_version(tmp_path: Path) -> None:
    """`rasa run` with the project's credentials.yml, its Rasa claiming another version."""
    port = free_port()
    start = (
        "import sys, rasa; rasa.__version__ = '3.7.0'\n"
        "from rasa.__main__ import main\n"
        f"sys.argv = ['rasa', 'run', '--credentials', 'credentials.yml', '--endpoints', 'endpoints.yml',"
        f" '--model', {str(MODEL)!r}, '--port', '{port}']\n"
        "main()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VAR_DIR": str(tmp_path), "ACTION_ENDPOINT_URL": "http://127.0.0.1:9",
           "LOCK_STORE_URL": "memory", "TRACKER_STORE_URL": f"sqlite:///{tmp_path / 'tracker.db'}"}
    done = subprocess.run([sys.executable, "-c", start], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "refuses to start: Rasa 3.7.0 is installed" in output, output[-2000:]
    assert "Starting Rasa server" not in output


# -- each switch ------------------------------------------------------------------------------

def test_action_apology_switch(switches: pytest.MonkeyPatch) -> None:
    install_with(switches, action_apology="on")
    assert apologises()
    install_with(switches, action_apology="off")
    assert not apologises()


def test_reply_check_switch(switches: pytest.MonkeyPatch) -> None:
    install_with(switches, reply_check="on")
    assert not jsonschema_runs_for_a_valid_reply(switches)
    install_with(switches, reply_check="off")
    assert jsonschema_runs_for_a_valid_reply(switches)


def test_keep_alive_switch(switches: pytest.MonkeyPatch) -> None:
    install_with(switches, keep_alive="on")
    assert connections_for_three_calls() == 1
    install_with(switches, keep_alive="off")
    assert connections_for_three_calls() == 3  # Rasa 3.6: a new session per call


def test_admission_switch(switches: pytest.MonkeyPatch) -> None:
    switches.setenv("MAX_CONCURRENT_TURNS", "2")
    install_with(switches, admission="on")
    assert peak_concurrent_messages() == 2
    install_with(switches, admission="off")
    assert peak_concurrent_messages() == 6
    # the per-conversation limit goes with the switch
    from addons.patches import admission
    assert Agent.handle_message is admission._original_agent_handle_message


def test_log_copies_switch(switches: pytest.MonkeyPatch) -> None:
    install_with(switches, log_copies="on")
    assert not log_lines_deep_copy()
    install_with(switches, log_copies="off")
    assert log_lines_deep_copy()


@pytest.mark.parametrize("graph_runner, gc_freeze", [("off", "on"), ("on", "off")])
def test_graph_runner_and_gc_freeze_switches_on_a_real_model_load(
        switches: pytest.MonkeyPatch, graph_runner: str, gc_freeze: str) -> None:
    """Each of the two switches off while the other is on: one model load shows both."""
    if not MODEL.is_file():
        pytest.fail(f"no trained model at {MODEL}: train it first (README)")
    install_with(switches, graph_runner=graph_runner, gc_freeze=gc_freeze)
    gc.unfreeze()
    agent = Agent()
    agent.load_model(str(MODEL))
    try:
        runner = type(agent.processor.graph_runner).__name__
        assert runner == ("SequentialGraphRunner" if graph_runner == "on" else "DaskGraphRunner")
        assert (gc.get_freeze_count() > 0) == (gc_freeze == "on")
    finally:
        gc.unfreeze()


def test_a_misspelt_or_unreadable_switch_is_a_setting_error(switches: pytest.MonkeyPatch) -> None:
    switches.setenv("RASA_PATCH_KEEP_ALIVE", "maybe")
    assert settings.problems() == ["RASA_PATCH_KEEP_ALIVE must be on or off, got 'maybe'"]
    switches.delenv("RASA_PATCH_KEEP_ALIVE")
    switches.setenv("RASA_PATCH_ADMISION", "off")
    [found] = settings.problems()
    assert found.startswith("RASA_PATCH_ADMISION: no such patch switch (the switches are RASA_PATCH_ACTION_APOLOGY")
    with pytest.raises(settings.SettingError):
        patches.install()


# -- twice --------------------------------------------------------------------------------------

def test_installing_twice_is_harmless(switches: pytest.MonkeyPatch) -> None:
    switches.setenv("MAX_CONCURRENT_TURNS", "2")
    patches.install()
    patches.install()
    assert apologises()  # exactly one apology event (apologises() checks)
    assert not jsonschema_runs_for_a_valid_reply(switches)
    assert connections_for_three_calls() == 1
    assert peak_concurrent_messages() == 2  # not two gates in a row
    assert not log_lines_deep_copy()


def rule_checks_and_actions() -> Tuple[int, List[List[str]]]:
    """Rule checks RulePolicy makes, and the actions predicted, over conversations that need
    no action server (greetings, FAQ, small talk, two misses in a row), on the real model."""
    from rasa.core.policies.rule_policy import RulePolicy

    if not MODEL.is_file():
        pytest.fail(f"no trained model at {MODEL}: train it first (README)")
    agent = Agent.load(str(MODEL))
    checks = 0
    original = RulePolicy._is_rule_applicable

    def counted(self: Any, *args: Any) -> bool:
        nonlocal checks
        checks += 1
        return original(self, *args)

    conversations = [["hi", "what is sclerotherapy", "does it hurt", "thanks", "bye"],
                     ["are you a bot?", "/nlu_fallback", "/nlu_fallback", "/ask_question"]]
    actions: List[List[str]] = []
    RulePolicy._is_rule_applicable = counted  # type: ignore[method-assign]
    try:
        for number, messages in enumerate(conversations):
            sender = f"rule-index-{number}"
            for text in messages:
                asyncio.run(agent.handle_text(text, sender_id=sender))
            tracker = asyncio.run(agent.tracker_store.retrieve(sender))
            actions.append([e.action_name for e in tracker.events if isinstance(e, ActionExecuted)])
    finally:
        RulePolicy._is_rule_applicable = original  # type: ignore[method-assign]
    return checks, actions


def test_rule_index_switch(switches: pytest.MonkeyPatch) -> None:
    install_with(switches, rule_index="off")
    checks_without, actions_without = rule_checks_and_actions()
    install_with(switches, rule_index="on")
    checks_with, actions_with = rule_checks_and_actions()
    assert actions_with == actions_without  # the same rules apply, so the same predictions
    assert checks_with < checks_without / 2, (checks_with, checks_without)

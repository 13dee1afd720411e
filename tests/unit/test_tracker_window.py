"""The kept tracker's window (addons/stores.window_of) changes no prediction of the trained model.

One mixed conversation (greeting, FAQ, out of scope, Spanish, a booking interrupted by a
question and then stopped, an emergency told in two messages) runs twice on the real model
and a real action server: once with a tiny window, cut every few turns, once whole. Every
action and every response chosen must be the same.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
import requests
from rasa.core.agent import Agent
from rasa.shared.core.events import ActionExecuted, BotUttered
from rasa.utils.endpoints import EndpointConfig

from addons import patches
from addons.stores import URLSQLTrackerStore
from tests.conftest import ROOT, free_port

MODEL = Path(os.environ.get("TEST_MODEL_PATH", ROOT / "models" / "vein-assistant.tar.gz"))
TINY_WINDOW = 24  # cut back to 12 events: about two FAQ turns
CONVERSATION = [
    "hi", "what are spider veins?", "does it hurt?", "how much does it cost?", "thanks",
    "is there any downtime?", "can I exercise after?", "what's the weather tomorrow?",
    "¿duele el tratamiento?", "hablo español", "¿cuántas sesiones necesito?", "in English please",
    "what causes spider veins?", "I'd like to book a consultation", "Jane Doe",
    "does it hurt?", "stop", "ok",
    "who performs the treatment?", "my left calf", "is really swollen and hot",
    "thank you", "what are spider veins?", "bye",
]


@pytest.fixture(scope="module")
def action_server() -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{url}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "the action server did not start"
            time.sleep(0.3)
        yield f"{url}/webhook"
    finally:
        server.terminate()
        server.wait(20)


def decisions(agent: Agent, store: URLSQLTrackerStore) -> Tuple[List[Tuple[str, ...]], int]:
    """Per message: the actions run and the responses sent; and how many events were kept."""
    agent.tracker_store = agent.processor.tracker_store = store
    sender = f"window-{uuid.uuid4().hex[:8]}"

    async def talk() -> Tuple[List[Tuple[str, ...]], int]:
        for text in CONVERSATION:
            await agent.handle_text(text, sender_id=sender)
        full = await store.retrieve_full_tracker(sender)
        kept = await store.retrieve(sender)
        turns: List[Tuple[str, ...]] = []
        for event in full.events:
            if event.type_name == "user":
                turns.append(())
            elif turns and isinstance(event, ActionExecuted):
                turns[-1] += (event.action_name,)
            elif turns and isinstance(event, BotUttered):
                turns[-1] += (str(event.metadata.get("utter_action")), event.text or "")
        return turns, len(kept.events)

    return asyncio.run(talk())


def test_a_cut_tracker_decides_as_the_whole_one(action_server: str, tmp_path: Path) -> None:
    if not MODEL.is_file():
        pytest.fail(f"no trained model at {MODEL}: run `make test` (it trains first)")
    patches.install()
    agent = Agent.load(str(MODEL), action_endpoint=EndpointConfig(url=action_server))
    whole, whole_kept = decisions(agent, URLSQLTrackerStore(host=f"sqlite:///{tmp_path / 'whole.db'}",
                                                            domain=agent.domain, window_events=10**9))
    cut, cut_kept = decisions(agent, URLSQLTrackerStore(host=f"sqlite:///{tmp_path / 'cut.db'}",
                                                        domain=agent.domain, window_events=TINY_WINDOW))
    assert len(whole) == len(CONVERSATION)
    assert cut_kept < whole_kept / 4, "the conversation was never cut"
    assert "utter_emergency" in [name for turn in whole for name in turn], "the two-message emergency was missed"
    assert any("booking" in name for turn in whole for name in turn), "no booking started"
    for text, expected, got in zip(CONVERSATION, whole, cut):
        assert got == expected, f"after {text!r}"

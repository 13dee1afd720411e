"""Shared fixtures: a real running assistant (action server + Rasa server)."""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator

import pytest

from ops.stack import Stack, StackConfig
from tests.responses import ResponseCatalog

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def responses() -> ResponseCatalog:
    """The domain's responses, to recognise which one the bot sent."""
    return ResponseCatalog.load()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole assistant on test ports, with its own empty var/ folder."""
    var_dir = tmp_path_factory.mktemp("var")
    running = Stack(
        StackConfig(rasa_port=5105, action_port=5155, web_port=8180, var_dir=var_dir)
    )
    try:
        running.start(timeout=240)
        yield running
    finally:
        running.stop()


@pytest.fixture
def sender() -> str:
    """A fresh conversation id for each test."""
    return f"test-{uuid.uuid4().hex[:12]}"

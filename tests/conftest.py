"""Shared fixtures: a real running assistant (action server + Rasa server)."""
from __future__ import annotations

import socket
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


def free_port() -> int:
    """A port nobody listens on now, so parallel test runs never collide."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole assistant on test ports, with its own empty var/ folder."""
    var_dir = tmp_path_factory.mktemp("var")
    running = Stack(
        StackConfig(rasa_port=free_port(), action_port=free_port(), web_port=free_port(), var_dir=var_dir,
                    console_port=free_port(), with_console=True)
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

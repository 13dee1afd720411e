"""The launcher's commands (ops/stack.py) survive any generated value."""
from __future__ import annotations

from pathlib import Path

import pytest

from ops.stack import Stack, StackConfig


def test_an_auth_token_starting_with_a_dash_is_passed_as_one_argument(tmp_path: Path, monkeypatch) -> None:
    # secrets.token_urlsafe() starts with "-" one time in 64: Rasa's argparse then exited.
    monkeypatch.setenv("RASA_AUTH_TOKEN", "-starts-with-a-dash")
    command = Stack(StackConfig(var_dir=tmp_path)).commands()["rasa"]
    assert "--auth-token=-starts-with-a-dash" in command
    assert "-starts-with-a-dash" not in command


@pytest.mark.parametrize("token", ["abc", "--x"])
def test_the_token_reaches_rasa_unchanged(tmp_path: Path, monkeypatch, token: str) -> None:
    monkeypatch.setenv("RASA_AUTH_TOKEN", token)
    assert f"--auth-token={token}" in Stack(StackConfig(var_dir=tmp_path)).commands()["rasa"]


def test_the_staff_console_runs_on_its_port_when_asked(tmp_path: Path) -> None:
    assert "console" not in Stack(StackConfig(var_dir=tmp_path)).commands()
    command = Stack(StackConfig(var_dir=tmp_path, with_console=True, console_port=18123)).commands()["console"]
    assert command[-4:] == ["-m", "staff.console", "--port", "18123"]

"""`make run`'s launcher (python -m ops.stack) never leaves a server running: on SIGINT or
SIGTERM (twice, to the whole group, or with SIGINT ignored by a background shell) and
even when it is killed outright."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Tuple

import psutil
import pytest
import requests

from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.e2e


def _launch(tmp_path: Path, ignore_sigint: bool = False,
            console_port: int = 0) -> Tuple[subprocess.Popen, List[psutil.Process]]:
    """`python -m ops.stack` in a process group of its own, once the assistant answers."""
    rasa_port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TRACKER_STORE_URL", "VAR_DIR"}}
    # A job started in the background by a non-interactive shell has SIGINT ignored.
    before_exec = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
    launcher = subprocess.Popen(
        [sys.executable, "-m", "ops.stack", "--rasa-port", str(rasa_port), "--action-port", str(free_port()),
         "--web-port", str(free_port()), "--console-port", str(console_port or free_port()), "--var-dir", str(tmp_path)],
        cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, stdout=(tmp_path / "launcher.out").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True, preexec_fn=before_exec)
    deadline = time.monotonic() + 240
    while True:
        assert launcher.poll() is None, (tmp_path / "launcher.out").read_text(errors="replace")[-2000:]
        try:
            if requests.get(f"http://127.0.0.1:{rasa_port}/", timeout=2).ok:
                break
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "the assistant did not start"
        time.sleep(0.5)
    servers = psutil.Process(launcher.pid).children()  # actions, rasa, worker, web, console
    assert len(servers) >= 5, [p.cmdline() for p in servers]
    return launcher, servers


def _assert_all_stopped(servers: List[psutil.Process]) -> None:
    gone, alive = psutil.wait_procs(servers, timeout=30)
    assert not alive, f"still running after the launcher stopped: {[p.pid for p in alive]}"


def _cleanup(launcher: subprocess.Popen, servers: List[psutil.Process]) -> None:
    for process in [*servers]:
        if process.is_running():
            process.kill()
    if launcher.poll() is None:
        launcher.kill()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_launcher_stops_its_servers(tmp_path: Path, stop_signal: int) -> None:
    launcher, servers = _launch(tmp_path)
    try:
        launcher.send_signal(stop_signal)
        assert launcher.wait(60) == 0
        _assert_all_stopped(servers)
    finally:
        _cleanup(launcher, servers)


@pytest.mark.parametrize("attempt", [1, 2])
def test_sigterm_twice_to_the_whole_group_still_stops_every_server(tmp_path: Path, attempt: int) -> None:
    # As `timeout` or make does: the group gets SIGTERM, and again while the launcher stops.
    launcher, servers = _launch(tmp_path)
    try:
        os.killpg(launcher.pid, signal.SIGTERM)
        time.sleep(0.3)
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGTERM)
        launcher.wait(60)
        _assert_all_stopped(servers)
    finally:
        _cleanup(launcher, servers)


def test_a_background_launcher_that_ignores_sigint_still_stops_on_it(tmp_path: Path) -> None:
    launcher, servers = _launch(tmp_path, ignore_sigint=True)
    try:
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(60) == 0
        _assert_all_stopped(servers)
    finally:
        _cleanup(launcher, servers)


def test_the_servers_die_with_a_killed_launcher(tmp_path: Path) -> None:
    launcher, servers = _launch(tmp_path)
    try:
        launcher.kill()  # SIGKILL: no handler runs; the kernel's parent-death signal does
        launcher.wait(10)
        _assert_all_stopped(servers)
    finally:
        _cleanup(launcher, servers)


def test_the_launcher_starts_the_staff_console_and_says_where(tmp_path: Path) -> None:
    console_port = free_port()
    launcher, servers = _launch(tmp_path, console_port=console_port)
    try:
        line = f"Staff console: http://localhost:{console_port}/"
        deadline = time.monotonic() + 120
        while line not in (tmp_path / "launcher.out").read_text(errors="replace"):
            assert launcher.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "launcher.out").read_text(errors="replace")[-2000:]
            time.sleep(0.5)
        signin = requests.get(f"http://127.0.0.1:{console_port}/signin", timeout=5)
        assert signin.status_code == 200 and "Sign in" in signin.text
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(60) == 0
        _assert_all_stopped(servers)
    finally:
        _cleanup(launcher, servers)

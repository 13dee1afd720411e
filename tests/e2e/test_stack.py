"""`make run`'s launcher (python -m ops.stack) stops every server it started on SIGTERM, as on Ctrl-C."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_launcher_stops_its_servers(tmp_path: Path, stop_signal: int) -> None:
    rasa_port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TRACKER_STORE_URL", "VAR_DIR"}}
    launcher = subprocess.Popen(
        [sys.executable, "-m", "ops.stack", "--rasa-port", str(rasa_port), "--action-port", str(free_port()),
         "--web-port", str(free_port()), "--var-dir", str(tmp_path)],
        cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while True:
            assert launcher.poll() is None, launcher.stdout.read().decode(errors="replace")[-2000:]
            try:
                if requests.get(f"http://127.0.0.1:{rasa_port}/", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the assistant did not start"
            time.sleep(0.5)
        servers = psutil.Process(launcher.pid).children()  # actions, rasa, worker, web
        assert len(servers) >= 4, [p.cmdline() for p in servers]
        launcher.send_signal(stop_signal)
        assert launcher.wait(60) == 0
        gone, alive = psutil.wait_procs(servers, timeout=30)
        assert not alive, f"still running after the launcher stopped: {[p.pid for p in alive]}"
    finally:
        if launcher.poll() is None:
            launcher.kill()

"""Start, watch and stop the assistant's processes.

Used by `make run` (python -m ops.stack) and by the end-to-end tests, so both
exercise the same start-up: action server, Rasa server, delivery worker, the
web chat page and the staff console, each logging to var/logs/<name>.log.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import requests

from clinic import settings

PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Loaded here, in the launcher: the child, between fork and exec, only calls it.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


@dataclass
class StackConfig:
    """Ports, folders and environment for one running copy of the assistant."""

    rasa_port: int = 5005
    action_port: int = 5055
    web_port: int = 8080
    var_dir: Path = ROOT / "var"
    # TEST_MODEL_PATH lets a developer test a model trained elsewhere.
    model_path: Path = field(default_factory=settings.model_path)
    extra_env: Dict[str, str] = field(default_factory=dict)
    with_worker: bool = True
    with_web: bool = True
    # The staff console: `make run` starts it (main()); tests that want it ask, on a free port.
    console_port: int = 8090
    with_console: bool = False


def auth_token(var_dir: Path) -> str:
    """RASA_AUTH_TOKEN, or one generated once and kept in var/ (mode 600)."""
    configured = settings.rasa_auth_token()
    if configured:
        return configured
    path = var_dir / "rasa_auth_token"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


class Stack:
    """The processes of one assistant, started in dependency order."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.processes: Dict[str, subprocess.Popen] = {}
        self.log_dir = config.var_dir / "logs"
        self.token = auth_token(config.var_dir)
        # Set by the launcher's signal handler; start-up checks it between steps.
        self.stop_requested = False

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.config.rasa_port}"

    @property
    def web_url(self) -> str:
        return f"http://localhost:{self.config.web_port}/"

    @property
    def console_url(self) -> str:
        return f"http://localhost:{self.config.console_port}/"

    def env(self) -> Dict[str, str]:
        cfg = self.config
        env = dict(os.environ)
        env.setdefault("VAR_DIR", str(cfg.var_dir))
        env.setdefault("DATABASE_URL", f"sqlite:///{cfg.var_dir / 'requests.db'}")
        env.setdefault("TRACKER_STORE_URL", f"sqlite:///{cfg.var_dir / 'tracker.db'}")
        env.setdefault("LOCK_STORE_URL", "memory")
        env.setdefault("ACTION_ENDPOINT_URL", f"http://127.0.0.1:{cfg.action_port}/webhook")
        env.setdefault("CORS_ORIGINS", f"http://localhost:{cfg.web_port} http://127.0.0.1:{cfg.web_port}")
        env.update(cfg.extra_env)
        env["RASA_AUTH_TOKEN"] = self.token
        env["PYTHONPATH"] = str(ROOT)
        env["PYTHONUNBUFFERED"] = "1"
        env["RASA_TELEMETRY_ENABLED"] = "false"  # no telemetry or error reports leave the machine
        # Processes listen on loopback only unless an operator says otherwise.
        env.setdefault("SANIC_HOST", "127.0.0.1")
        return env

    def commands(self) -> Dict[str, List[str]]:
        cfg = self.config
        env = self.env()
        commands = {
            "actions": [
                str(VENV_BIN / "python"), "-m", "rasa_sdk",
                "--actions", "actions", "--port", str(cfg.action_port),
            ],
            "rasa": [
                str(VENV_BIN / "rasa"), "run",
                "--model", str(cfg.model_path),
                "--endpoints", str(ROOT / "endpoints.yml"),
                "--credentials", str(ROOT / "credentials.yml"),
                "--interface", env.get("RASA_INTERFACE", "0.0.0.0"),
                "--port", str(cfg.rasa_port),
                # One argument: a generated token may start with "-" (argparse would take
                # it for an option and Rasa would exit).
                "--enable-api", f"--auth-token={self.token}",
                "--cors", *env["CORS_ORIGINS"].split(),
            ],
        }
        if cfg.with_worker:
            commands["worker"] = [str(VENV_BIN / "python"), "-m", "clinic.delivery"]
        if cfg.with_web:
            commands["web"] = [
                str(VENV_BIN / "python"), "-m", "ops.web", "--port", str(cfg.web_port),
                "--rasa-url", env.get("PUBLIC_RASA_URL", f"http://localhost:{cfg.rasa_port}"),
            ]
        if cfg.with_console:
            commands["console"] = [
                str(VENV_BIN / "python"), "-m", "staff.console", "--port", str(cfg.console_port),
            ]
        return commands

    def process_env(self, name: str) -> Dict[str, str]:
        env = self.env()
        if name == "rasa":
            # Sanic reads SANIC_* settings: refuse huge bodies with 413 before parsing.
            env.setdefault("SANIC_REQUEST_MAX_SIZE", str(256 * 1024))
            # One message at a time per process: TensorFlow's thread pools only add
            # contention (benchmarks/TUNING.md); scale with processes instead.
            env.setdefault("TF_INTRA_OP_PARALLELISM_THREADS", "1")
            env.setdefault("TF_INTER_OP_PARALLELISM_THREADS", "1")
        if name == "console":
            # A take-over's messages go to the patient through this stack's Rasa server.
            env.setdefault("STAFF_CONSOLE_RASA_URL", self.rasa_url)
        return env

    def start_process(self, name: str, command: Optional[List[str]] = None, env_of: Optional[str] = None) -> None:
        """Start one process (by default the named one from commands())."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            command or self.commands()[name], cwd=ROOT, env=self.process_env(env_of or name),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()),
        )

    def _exited(self, name: str) -> str:
        """Why a process stopped: its log's last lines (the log may be in a temporary folder)."""
        log = self.log_dir / f"{name}.log"
        try:
            tail = log.read_text(errors="replace").strip().splitlines()[-15:]
        except OSError:
            tail = []
        return f"{name} exited early; see {log}" + "".join(f"\n  {line}" for line in tail)

    def start(self, timeout: float = 180) -> "Stack":
        self.migrate()
        for name in self.commands():
            self._raise_if_stop_requested()
            self.start_process(name)
        self.wait_ready(timeout)
        return self

    def migrate(self) -> None:
        """Request database schema to head (Alembic), for this stack's DATABASE_URL, before anything uses it."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / "migrate.log", "ab") as log:
            done = subprocess.run([str(VENV_BIN / "python"), "-m", "clinic.store", "migrate"],
                                  cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            raise RuntimeError(f"database migration failed; see {self.log_dir / 'migrate.log'}")

    def wait_ready(self, timeout: float = 180) -> None:
        checks: Dict[str, Callable[[], bool]] = {
            "actions": lambda: _answers(f"http://127.0.0.1:{self.config.action_port}/health"),
            "rasa": lambda: _answers(f"{self.rasa_url}/"),
        }
        if "web" in self.processes:
            checks["web"] = lambda: _answers(f"http://127.0.0.1:{self.config.web_port}/")
        if "console" in self.processes:
            checks["console"] = lambda: _answers(f"http://127.0.0.1:{self.config.console_port}/signin")
        deadline = time.monotonic() + timeout
        pending = dict(checks)
        while pending:
            self._raise_if_stop_requested()
            for name in list(pending):
                if self.processes[name].poll() is not None:
                    raise RuntimeError(self._exited(name))
                if pending[name]():
                    del pending[name]
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout:.0f}s: {', '.join(pending)}")
            time.sleep(0.5)

    def _raise_if_stop_requested(self) -> None:
        if self.stop_requested:
            raise StopRequested()

    def start_replica(self, name: str, port: int, timeout: float = 180) -> str:
        """One more Rasa server on `port` with this stack's environment (scale-out: it
        shares the tracker and lock stores); stop() stops it too. Returns its URL."""
        command = self.commands()["rasa"]
        command[command.index("--port") + 1] = str(port)
        self.start_process(name, command, env_of="rasa")
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while not _answers(f"{url}/"):
            if self.processes[name].poll() is not None:
                raise RuntimeError(self._exited(name))
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready after {timeout:.0f}s")
            time.sleep(0.5)
        return url

    def stop_process(self, name: str, timeout: float = 20) -> None:
        """Stop one process: SIGTERM to its group, SIGKILL if it has not gone after `timeout`."""
        self._stop_all([name], timeout)

    def stop(self, timeout: float = 20) -> None:
        """Stop every process at once, within one deadline: stopping them one after another
        could take a graceful-shutdown wait per server (Sanic waits up to 15 s each)."""
        self._stop_all(list(self.processes), timeout)

    def _stop_all(self, names: List[str], timeout: float) -> None:
        running = [self.processes.pop(name) for name in names if name in self.processes]
        running = [process for process in running if process.poll() is None]
        for process in running:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()

    def send(self, sender: str, message: str, timeout: float = 30) -> List[dict]:
        """One message through the REST channel, as a patient's client sends it."""
        response = requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message}, timeout=timeout,
        )
        response.raise_for_status()
        return response.json()


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:  # it exited between the check and the signal
        pass


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    """In the child, before it runs the server: ask Linux to send SIGTERM when the launcher
    dies, however it dies (even SIGKILL), so no server outlives it and keeps its port."""
    def arrange() -> None:
        if _LIBC is not None:
            _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the launcher died before prctl took effect
            os._exit(1)
    return arrange


class StopRequested(Exception):
    """SIGINT or SIGTERM reached the launcher while it was starting the servers."""


def _ignore_stop_signals() -> None:
    """While the servers are being stopped, a second signal (make passes its own SIGTERM
    on) must not abandon them half-way."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.RequestException:
        return False


def main(argv: Optional[List[str]] = None) -> int:
    try:
        settings.check()  # every bad setting named at once, before any server starts
    except settings.SettingError as error:
        print(error, file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(description="Run the vein clinic assistant.")
    parser.add_argument("--rasa-port", type=int, default=settings.port("RASA_PORT", 5005))
    parser.add_argument("--action-port", type=int, default=settings.port("ACTION_PORT", 5055))
    parser.add_argument("--web-port", type=int, default=settings.port("WEB_PORT", 8080))
    parser.add_argument("--console-port", type=int, default=settings.console().port)
    parser.add_argument("--var-dir", type=Path, default=ROOT / "var", help="runtime data and logs")
    args = parser.parse_args(argv)
    stack = Stack(StackConfig(args.rasa_port, args.action_port, args.web_port, var_dir=args.var_dir,
                              console_port=args.console_port, with_console=True))
    # Ctrl-C, a service manager's SIGTERM, `timeout`: stop the servers too (they run in
    # their own sessions, so the signal does not reach them).
    # The handler only sets a flag that the loops below read: an exception raised from a
    # handler can land in a finaliser (a socket's __del__, say), where Python swallows it
    # and the launcher would run on.
    def on_stop_signal(signum: int, frame: object) -> None:
        stack.stop_requested = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        # Set explicitly: a launcher started in the background inherits SIGINT ignored.
        signal.signal(signum, on_stop_signal)
    print("Starting the action server, Rasa server, web chat page and staff console (logs in var/logs/) ...")
    try:
        stack.start()
        print(f"\nReady. Open the web chat at {stack.web_url}")
        print(f"REST channel: POST {stack.rasa_url}/webhooks/rest/webhook")
        print(f"Staff console: {stack.console_url}")
        print("Press Ctrl-C to stop.\n")
        while all(p.poll() is None for p in stack.processes.values()):
            if stack.stop_requested:
                return 0
            time.sleep(0.2)
        print("A process stopped unexpectedly; see var/logs/.", file=sys.stderr)
        return 1
    except (StopRequested, KeyboardInterrupt):
        return 0
    finally:
        _ignore_stop_signals()
        print("Stopping ...")
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())

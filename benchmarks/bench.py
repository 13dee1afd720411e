"""`make bench`: how fast the assistant is, next to stock Rasa, and how it scales out.

In one run, on this machine:

1. trains the project from an empty cache (`rasa train`, fresh RASA_CACHE_DIRECTORY);
2. starts it as `make run` does (ops/stack.py, SQLite stores) with the model just trained,
   times the cold start to the first answer, warms up, then drives concurrent
   conversations (benchmarks/load.py) against the REST webhook, sampling resident memory and
   CPU time of the Rasa and action servers;
3. builds a stock project (`rasa init --no-prompt`, default config, same venv), runs it
   with `rasa run` and drives the same number of conversations with its own messages;
4. runs the project on PostgreSQL + Redis behind nginx (ip_hash) with one Rasa process,
   then two, and drives the same load through nginx;
5. writes benchmarks/RESULTS.md and says which of issue 7's targets were met (exit 1 if not).

Optional: --profile samples the Rasa server with py-spy during an extra load pass and
reports where its time per message goes.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, TypeVar

import psutil
import requests

from benchmarks.load import (
    REDIS_URL, MemorySampler, Results, Script, drop_database, free_port, fresh_database, mib,
    postgres_answers, project_script, redis_answers, run_load, run_soak, stock_script,
)
from ops.stack import ROOT, VENV_BIN, Stack, StackConfig

T = TypeVar("T")
RASA = str(VENV_BIN / "rasa")
PYTHON = str(VENV_BIN / "python")
REPORT = ROOT / "benchmarks" / "RESULTS.md"
DEFAULT_MODEL = ROOT / "models" / "vein-assistant.tar.gz"
BENCH_DB = "vein_bench"
BENCH_REDIS_DB = 5

# Issue 7's targets.
TARGET_RATIO = 3.0
TARGET_P95_MS = 150.0
TARGET_COLD_START_S = 30.0
TARGET_TRAIN_S = 180.0
TARGET_RSS_MB = 1.2 * 1024


def quiet_env(**extra: str) -> Dict[str, str]:
    env = dict(os.environ)
    env.update({"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def log(message: str, tag: str = "bench") -> None:
    print(f"[{tag} {datetime.now():%H:%M:%S}] {message}", flush=True)


# --- Measurements of one deployment -----------------------------------------------------------


@dataclass
class Run:
    """The load run against one deployment, and what its processes used meanwhile."""

    label: str
    results: Results
    peak_rss: Dict[str, float] = field(default_factory=dict)  # MiB, process tree
    cpu_ms_per_message: Dict[str, float] = field(default_factory=dict)
    cold_start_s: Optional[float] = None
    share: Dict[str, int] = field(default_factory=dict)  # nginx: requests per upstream
    paced: Optional[Results] = None  # the same conversations with patients' think time

    def row(self) -> Dict[str, float]:
        return self.results.summary()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process tree so far."""
    try:
        root = psutil.Process(pid)
        total = 0.0
        for process in [root, *root.children(recursive=True)]:
            times = process.cpu_times()
            total += times.user + times.system
        return total
    except psutil.NoSuchProcess:
        return 0.0


def measure(label: str, url: str, pids: Dict[str, int], args: argparse.Namespace, script: Script,
            spread_ips: bool = False) -> Run:
    """Warm up (not counted), then the measured load with memory and CPU sampling."""
    run_load(url, users=min(4, args.users), turns=args.turns, rounds=1, script=script, seed=99, spread_ips=spread_ips)
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    with MemorySampler(pids) as memory:
        results = run_load(url, users=args.users, turns=args.turns, rounds=args.rounds, script=script,
                           spread_ips=spread_ips)
    messages = max(1, len(results.samples))
    run = Run(label, results)
    for name, pid in pids.items():
        run.peak_rss[name] = mib(memory.peak(name))
        run.cpu_ms_per_message[name] = 1000 * (cpu_seconds(pid) - cpu_before[name]) / messages
    s = results.summary()
    log(f"{label}: {s['throughput']:.1f} msg/s, p50 {s['p50_ms']:.0f} ms, p95 {s['p95_ms']:.0f} ms, "
        f"p99 {s['p99_ms']:.0f} ms, errors {s['errors']}")
    if args.think > 0:
        run.paced = run_load(url, users=args.users, turns=args.turns, rounds=1, script=script, seed=50,
                             spread_ips=spread_ips, think=args.think)
        p = run.paced.summary()
        log(f"{label}, {args.think:g} s think time: {p['throughput']:.1f} msg/s, p50 {p['p50_ms']:.0f} ms, "
            f"p95 {p['p95_ms']:.0f} ms, errors {p['errors']}")
    return run


def first_answer(url: str, started: float, timeout: float = 300) -> float:
    """Seconds from `started` until the webhook answers a message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = requests.post(url, json={"sender": "bench-cold-start", "message": "hello"}, timeout=30)
            if response.status_code == 200 and response.json():
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"no answer from {url} within {timeout:.0f}s")


# --- Training ---------------------------------------------------------------------------------------


def timed(command: List[str], cwd: Path, env: Dict[str, str]) -> Tuple[subprocess.CompletedProcess, float, float]:
    """Run to the end; (result, wall seconds, CPU seconds of the command and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return done, wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def train_from_scratch(workdir: Path, config: Path) -> Tuple[Path, float, float]:
    """`rasa train` with an empty cache; returns the model, wall and CPU seconds."""
    cache, out = workdir / "train-cache", workdir / "models"
    cache.mkdir(parents=True, exist_ok=True)
    done, wall, cpu = timed(
        [RASA, "train", "--quiet", "--config", str(config), "--domain", str(ROOT / "domain"), "--fixed-model-name", "bench", "--out", str(out)],
        ROOT, quiet_env(RASA_CACHE_DIRECTORY=str(cache)),
    )
    model = out / "bench.tar.gz"
    if done.returncode != 0 or not model.exists():
        raise RuntimeError(f"training failed:\n{done.stdout[-3000:]}")
    return model, wall, cpu


# --- The project, as `make run` starts it ------------------------------------------------------------


class BenchStack(Stack):
    """A Stack whose --env overrides apply last (even PYTHONPATH), for experiments."""

    def __init__(self, config: StackConfig, overrides: Dict[str, str]) -> None:
        super().__init__(config)
        self.overrides = overrides

    def env(self) -> Dict[str, str]:
        return {**super().env(), **self.overrides}


def project_stack(var_dir: Path, model: Path, args: argparse.Namespace, extra: Optional[Dict[str, str]] = None) -> Stack:
    config = StackConfig(rasa_port=free_port(), action_port=free_port(), web_port=free_port(),
                         var_dir=var_dir, model_path=model, with_web=False, extra_env=extra or {})
    return BenchStack(config, args.env)


def bench_project(workdir: Path, model: Path, args: argparse.Namespace) -> Run:
    stack = project_stack(workdir / "var-project", model, args)
    started = time.monotonic()
    try:
        stack.start(timeout=300)
        url = f"{stack.rasa_url}/webhooks/rest/webhook"
        cold = first_answer(url, started)
        log(f"project cold start to first answer: {cold:.1f} s")
        pids = {name: stack.processes[name].pid for name in ("rasa", "actions")}
        run = measure("project (1 Rasa process, SQLite)", url, pids, args, project_script)
        run.cold_start_s = cold
        if args.profile:
            run_profile(stack, url, args, workdir)
        return run
    finally:
        stack.stop()


# --- Stock Rasa -----------------------------------------------------------------------------------------


def bench_stock(workdir: Path, args: argparse.Namespace) -> Tuple[Run, float]:
    """`rasa init` (which trains, from an empty cache), then `rasa run` under the same load."""
    project = workdir / "stock"
    cache = workdir / "stock-cache"
    for folder in (project, cache):
        folder.mkdir(parents=True, exist_ok=True)
    env = quiet_env(RASA_CACHE_DIRECTORY=str(cache))
    done, trained_s, cpu_s = timed([RASA, "init", "--no-prompt", "--quiet", "--init-dir", str(project)], workdir, env)
    TRAINING_CPU["stock"] = cpu_s
    if done.returncode != 0 or not list((project / "models").glob("*.tar.gz")):
        raise RuntimeError(f"rasa init failed:\n{done.stdout[-3000:]}")
    log(f"stock project initialised and trained in {trained_s:.0f} s")
    port = free_port()
    log_file = open(workdir / "stock-rasa.log", "ab")
    started = time.monotonic()
    process = subprocess.Popen([RASA, "run", "--model", "models", "--port", str(port), "--interface", "127.0.0.1"],
                               cwd=project, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
        cold = first_answer(url, started)
        log(f"stock cold start to first answer: {cold:.1f} s")
        run = measure("stock Rasa (rasa init, 1 process)", url, {"rasa": process.pid}, args, stock_script)
        run.cold_start_s = cold
        return run, trained_s
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen, timeout: float = 20) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, 15)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()


# --- Scale-out: PostgreSQL + Redis, Rasa processes behind nginx --------------------------------------------

NGINX_CONF = """\
# Generated by benchmarks/bench.py: the deploy/nginx.conf topology on loopback.
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    log_format upstream '$upstream_addr';
    access_log {dir}/upstream.log upstream;
    upstream rasa {{
        ip_hash;  # sticky: socket.io's polling requests must reach the process holding the session
{servers}
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 256k;
        location / {{
            proxy_pass http://rasa;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
        location /socket.io/ {{
            proxy_pass http://rasa;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $host;
        }}
    }}
}}
"""


class Nginx:
    """A non-daemon nginx with its own prefix in a temporary folder."""

    def __init__(self, workdir: Path, upstream_ports: List[int]) -> None:
        self.dir = workdir
        self.port = free_port()
        self.dir.mkdir(parents=True, exist_ok=True)
        servers = "\n".join(f"        server 127.0.0.1:{p};" for p in upstream_ports)
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(NGINX_CONF.format(dir=self.dir, servers=servers, port=self.port))
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Nginx":
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.process = subprocess.Popen([binary, "-p", str(self.dir), "-c", str(self.conf)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/", timeout=2)
                return self
            except requests.RequestException:
                if self.process.poll() is not None:
                    raise RuntimeError(f"nginx exited; see {self.dir / 'error.log'}")
                time.sleep(0.2)
        raise TimeoutError("nginx did not start")

    def upstream_counts(self) -> Dict[str, int]:
        path = self.dir / "upstream.log"
        lines = path.read_text().split() if path.exists() else []
        return dict(collections.Counter(lines))

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process)


def bench_scale_out(workdir: Path, model: Path, args: argparse.Namespace) -> List[Run]:
    """The same load through nginx to one, then two Rasa processes sharing PostgreSQL and Redis."""
    why_not = postgres_answers() or redis_answers()
    if why_not:
        log(f"scale-out skipped: {why_not}")
        return []
    database = fresh_database(BENCH_DB)
    env = {"TRACKER_STORE_URL": database, "DATABASE_URL": database,
           "LOCK_STORE_URL": f"{REDIS_URL}/{BENCH_REDIS_DB}"}
    stack = project_stack(workdir / "var-scale", model, args, env)
    runs: List[Run] = []
    try:
        stack.start(timeout=300)
        ports = [stack.config.rasa_port]
        for replicas in (1, 2):
            if replicas == 2:
                ports.append(free_port())
                stack.start_replica("rasa-2", ports[-1], timeout=300)
            nginx = Nginx(workdir / f"nginx-{replicas}", ports).start()
            try:
                url = f"{nginx.url}/webhooks/rest/webhook"
                pids = {name: p.pid for name, p in stack.processes.items() if name.startswith("rasa")}
                pids["actions"] = stack.processes["actions"].pid
                run = measure(f"project, {replicas} Rasa process{'es' if replicas > 1 else ''} behind nginx "
                              "(PostgreSQL + Redis)", url, pids, args, project_script, spread_ips=True)
                run.share = nginx.upstream_counts()
                runs.append(run)
            finally:
                nginx.stop()
        return runs
    finally:
        stack.stop()
        drop_database(BENCH_DB)


# --- Profile -------------------------------------------------------------------------------------------------

# (category, frame pattern) in priority order: a sample goes to the first category with a
# matching frame anywhere in its stack.
CATEGORIES: List[Tuple[str, re.Pattern]] = [
    ("custom actions: validating the action server's reply", re.compile(r"^_validate_action_result |\(jsonschema/|fastjsonschema|^validate_action_result ")),
    ("custom actions: HTTP call and (de)serialising", re.compile(r"\(rasa/core/actions/action\.py|\(aiohttp/")),
    ("tracker store: load and save", re.compile(r"\(rasa/core/tracker_store\.py|\(addons/stores\.py|\(sqlalchemy/")),
    # Before the classifier: the featurizers run scikit-learn's vectorizers.
    ("NLU: CountVectorsFeaturizer", re.compile(r"count_vectors_featurizer\.py|sentence_features\.py")),
    ("NLU: intent and FAQ answer classifier", re.compile(r"\(addons/linear_nlu\.py|\(sklearn/")),
    ("NLU: spaCy pipeline", re.compile(r"\(rasa/nlu/utils/spacy_utils\.py|\(rasa/nlu/tokenizers/")),
    ("red flags: RedFlagPolicy (re-screens the turns)", re.compile(r"^predict_action_probabilities \(addons/red_flags")),
    ("red flags: RedFlagScreen (NLU component)", re.compile(r"\(addons/red_flags\.py|\(clinic/red_flags/")),
    ("policies: RulePolicy and ensemble", re.compile(r"\(rasa/core/policies/|_predict_next_with_tracker")),
    ("NLG: filling responses", re.compile(r"\(addons/nlg\.py|\(rasa/core/nlg/")),
    ("NLU: graph runner and other components", re.compile(r"^_parse_message_with_graph |\(rasa/engine/")),
    ("events: finding event classes (rasa all_subclasses)", re.compile(r"^all_subclasses ")),
    ("REST channel, Sanic, JSON, logging", re.compile(r"\(sanic|\(rasa/core/channels/|\(addons/channels/")),
]


def categorise(stacks: Dict[str, int]) -> Dict[str, int]:
    counts: Dict[str, int] = collections.Counter()
    for stack, n in stacks.items():
        frames = stack.split(";")
        if frames[-1].startswith("serve (sanic"):
            counts["idle (event loop waiting)"] += n
            continue
        category = next((name for name, pattern in CATEGORIES if any(pattern.search(f) for f in frames)), "other")
        counts[category] += n
    return counts


def run_profile(stack: Stack, url: str, args: argparse.Namespace, workdir: Path) -> None:
    """py-spy on the Rasa server during a separate load pass (not in the measured numbers)."""
    py_spy = shutil.which("py-spy") or str(VENV_BIN / "py-spy")
    if not Path(py_spy).exists():
        log("profile skipped: py-spy is not installed (.venv/bin/pip install py-spy)")
        return
    out, rate, seconds = workdir / "rasa-profile.txt", 100, args.profile_seconds
    spy = subprocess.Popen([py_spy, "record", "-p", str(stack.processes["rasa"].pid), "-d", str(seconds),
                            "-r", str(rate), "--format", "raw", "-o", str(out), "--nonblocking"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = run_soak(url, users=args.users, seconds=seconds, script=project_script, seed=5)
    spy.wait(60)
    stacks: Dict[str, int] = {}
    for line in out.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        stacks[stack] = stacks.get(stack, 0) + int(n)
    counts = categorise(stacks)
    messages = max(1, len(results.samples))
    PROFILE.clear()
    for category, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        PROFILE.append((category, 1000 * n / rate / messages, 100 * n / max(1, sum(counts.values()))))
    log(f"profile: {messages} messages in {seconds} s; top: {PROFILE[:4]}")
    if args.profile_out:
        shutil.copy(out, args.profile_out)


PROFILE: List[Tuple[str, float, float]] = []  # (category, ms of wall time per message, % of samples)
TRAINING_CPU: Dict[str, float] = {}  # CPU seconds of the training runs


# --- Report ---------------------------------------------------------------------------------------------------


def machine() -> Dict[str, str]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    import rasa

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {
        "cores": f"{psutil.cpu_count(logical=True)} logical ({psutil.cpu_count(logical=False) or '?'} physical), {model}",
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "software": f"Python {platform.python_version()}, Rasa {rasa.__version__}, {platform.system()} {platform.release()}",
        "commit": commit or "unknown",
    }


def fmt(value: Optional[float], digits: int = 0, unit: str = "") -> str:
    if value is None or value != value:
        return "n/a"
    return f"{value:,.{digits}f}{unit}"


def verdict(ok: Optional[bool]) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**NOT met**")


def targets(project: Run, stock: Optional[Run], train_s: Optional[float], users: int, think: float) -> List[Tuple[str, str, str, Optional[bool]]]:
    s = project.row()
    ratio = s["throughput"] / stock.row()["throughput"] if stock else None
    rss = project.peak_rss.get("rasa")
    paced = project.paced.summary()["p95_ms"] if project.paced else float("nan")
    return [
        ("throughput vs stock Rasa", f">= {TARGET_RATIO:.0f}x", fmt(ratio, 2, "x"), None if ratio is None else ratio >= TARGET_RATIO),
        (f"p95 latency, {users} concurrent conversations without pauses", f"<= {TARGET_P95_MS:.0f} ms",
         fmt(s["p95_ms"], 0, " ms"), s["p95_ms"] <= TARGET_P95_MS),
        *([(f"p95 latency, {users} concurrent conversations pausing ~{think:g} s", f"<= {TARGET_P95_MS:.0f} ms",
            fmt(paced, 0, " ms"), paced <= TARGET_P95_MS)] if project.paced else []),
        ("cold start to first answer", f"<= {TARGET_COLD_START_S:.0f} s", fmt(project.cold_start_s, 1, " s"),
         None if project.cold_start_s is None else project.cold_start_s <= TARGET_COLD_START_S),
        ("training from an empty cache", f"<= {TARGET_TRAIN_S / 60:.0f} min", fmt(train_s, 0, " s"),
         None if train_s is None else train_s <= TARGET_TRAIN_S),
        ("Rasa server peak memory (RSS)", f"<= {TARGET_RSS_MB / 1024:.1f} GB", fmt(rss, 0, " MiB"),
         None if rss is None else rss <= TARGET_RSS_MB),
        ("errors (non-200 or no answer)", "0", str(s["errors"]), s["errors"] == 0),
    ]


def run_table(runs: List[Run], baseline: Optional[Run]) -> List[str]:
    lines = [
        "| deployment | msg/s | x stock | p50 ms | p95 ms | p99 ms | max ms | errors | degraded | Rasa peak RSS MiB | Rasa CPU ms/msg | actions CPU ms/msg | cold start s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        s = run.row()
        ratio = s["throughput"] / baseline.row()["throughput"] if baseline else None
        rasa_rss = sum(v for k, v in run.peak_rss.items() if k.startswith("rasa"))
        rasa_cpu = sum(v for k, v in run.cpu_ms_per_message.items() if k.startswith("rasa"))
        lines.append(
            f"| {run.label} | {fmt(s['throughput'], 1)} | {fmt(ratio, 2)} | {fmt(s['p50_ms'])} | {fmt(s['p95_ms'])} | "
            f"{fmt(s['p99_ms'])} | {fmt(s['max_ms'])} | {s['errors']} | {s['degraded']} | {fmt(rasa_rss)} | "
            f"{fmt(rasa_cpu, 1)} | {fmt(run.cpu_ms_per_message.get('actions'), 1)} | {fmt(run.cold_start_s, 1)} |"
        )
    return lines


def paced_table(runs: List[Run], args: argparse.Namespace) -> List[str]:
    paced = [run for run in runs if run.paced]
    if not paced:
        return []
    lines = [
        "", f"The same {args.users} conversations of {args.turns} messages once more, each patient pausing "
        f"{args.think / 2:g}-{args.think * 1.5:g} s (mean {args.think:g} s) to read and type before the next "
        "message, as people do:", "",
        "| deployment | msg/s | p50 ms | p95 ms | p99 ms | max ms | errors |", "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run in paced:
        p = run.paced.summary()
        lines.append(f"| {run.label} | {fmt(p['throughput'], 1)} | {fmt(p['p50_ms'])} | {fmt(p['p95_ms'])} | "
                     f"{fmt(p['p99_ms'])} | {fmt(p['max_ms'])} | {p['errors']} |")
    return lines + [""]


KIND_LABELS = {"faq": "FAQ question", "out_of_scope": "out-of-scope question", "small_talk": "small talk",
               "book": "\"I'd like to book\" (starts the form)", "answer": "answer to a form question", "other": "other"}


def kind_table(run: Run) -> List[str]:
    lines = [f"Without pauses, by message ({run.label}):", "",
             "| message | count | p50 ms | p95 ms | max ms |", "|---|---:|---:|---:|---:|"]
    for kind, (count, p50, p95, top) in run.results.by_kind().items():
        lines.append(f"| {KIND_LABELS.get(kind, kind)} | {count} | {1000 * p50:,.0f} | {1000 * p95:,.0f} | {1000 * top:,.0f} |")
    return lines + [""]


def write_report(path: Path, args: argparse.Namespace, info: Dict[str, str], project: Run, stock: Optional[Run],
                 scale: List[Run], train_s: Optional[float], stock_train_s: Optional[float], model: Path,
                 load: Tuple[float, float]) -> List[Tuple[str, str, str, Optional[bool]]]:
    checks = targets(project, stock, train_s, args.users, args.think)
    s = project.row()
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (benchmarks/bench.py) on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {info['commit']}.",
        "",
        f"- **Machine:** {info['cores']}; {info['memory']} RAM; {info['software']}.",
        f"- **Load average** (1 min) before / after the run: {load[0]:.2f} / {load[1]:.2f}"
        " (other work on the machine shares its cores and skews the numbers).",
        f"- **Load:** {args.users} concurrent conversations x {args.turns} messages, {args.rounds} round(s) "
        f"({s['messages']} messages per deployment), after a warm-up of 4 conversations that is not counted. "
        "Each simulated patient sends its next message as soon as the reply arrives (no think time), so "
        "messages/s is the throughput at saturation. The project's conversations mix FAQ questions, "
        "bookings that answer the form to the end, out-of-scope questions and small talk (benchmarks/load.py); "
        "stock Rasa gets its own intents' messages (greetings, moods, yes/no, bot challenge).",
        f"- **Model:** {model.name} trained in this run from an empty cache." if train_s is not None else
        f"- **Model:** {model} (training time not measured in this run).",
        "",
        "## Targets (issue 7)",
        "",
        "| target | wanted | measured | |",
        "|---|---|---|---|",
        *[f"| {name} | {want} | {got} | {verdict(ok)} |" for name, want, got, ok in checks],
        "",
        "## Load runs",
        "",
        *run_table([project, *([stock] if stock else []), *scale], stock),
        "",
        *paced_table([project, *([stock] if stock else []), *scale], args),
        *kind_table(project),
        "Latencies are measured by the client from sending the request to reading the whole reply. "
        "*degraded*: answered 200 but with an apology (an action or the database failed). "
        "RSS and CPU are of the process and its children (psutil); CPU ms/msg is the CPU time "
        "the process used during the measured load divided by the messages sent.",
        "",
        f"Bookings in the project run: {s['bookings_started']} started, {s['bookings_confirmed']} confirmed with a "
        f"reference, {s['stuck']} stopped without one (the others were cut off by the {args.turns}-message limit).",
        "",
        "## Training and start-up",
        "",
        "| | project | stock Rasa |",
        "|---|---:|---:|",
        f"| training from an empty cache, wall clock | {fmt(train_s, 0, ' s')} | {fmt(stock_train_s, 0, ' s')} (rasa init, incl. copying the project) |",
        f"| training, CPU time (all threads) | {fmt(TRAINING_CPU.get('project'), 0, ' s')} | {fmt(TRAINING_CPU.get('stock'), 0, ' s')} |",
        f"| cold start to first answer | {fmt(project.cold_start_s, 1, ' s')} | {fmt(stock.cold_start_s if stock else None, 1, ' s')} |",
        f"| Rasa server peak RSS under load | {fmt(project.peak_rss.get('rasa'), 0, ' MiB')} | {fmt(stock.peak_rss.get('rasa') if stock else None, 0, ' MiB')} |",
        f"| action server peak RSS under load | {fmt(project.peak_rss.get('actions'), 0, ' MiB')} | (none) |",
        "",
        "The project's cold start counts everything `make run` starts: database migration, action server, "
        "delivery worker and the Rasa server loading the model, until the first reply.",
    ]
    if FAILURES:
        lines += ["", "## Not measured", "", *[f"- {failure}" for failure in FAILURES]]
    if scale:
        lines += ["", "## Scale-out", ""]
        one, *rest = scale
        lines.append(
            "Rasa processes behind a local nginx (`ip_hash`, as deploy/nginx.conf), sharing PostgreSQL "
            "(tracker store and request database) and Redis (lock store); each simulated patient connects "
            "from its own loopback address (127.0.N.1) so that ip_hash spreads them as it spreads real patients."
        )
        for run in scale:
            share = ", ".join(f"{addr}: {n}" for addr, n in sorted(run.share.items())) or "n/a"
            lines.append(f"- {run.label}: {fmt(run.row()['throughput'], 1)} msg/s, p95 {fmt(run.row()['p95_ms'])} ms; "
                         f"requests per upstream: {share}.")
        if rest:
            gain = rest[-1].row()["throughput"] / one.row()["throughput"] if one.row()["throughput"] else float("nan")
            lines.append(f"- Two processes vs one: {gain:.2f}x throughput on {psutil.cpu_count()} cores.")
    if PROFILE:
        lines += [
            "", "## Where the Rasa server's time goes (py-spy)", "",
            f"Sampled at 100 Hz for {args.profile_seconds} s during a separate load pass ({args.users} patients holding "
            "whole conversations back to back, bookings to the end; not part of the numbers above); wall time of the "
            "server's main thread per message, by what it was doing (the first activity, in the order of "
            "benchmarks/bench.py CATEGORIES, with a frame anywhere in the sampled stack).", "",
            "| activity | ms per message | share of samples |", "|---|---:|---:|",
            *[f"| {name} | {ms:.1f} | {pct:.0f}% |" for name, ms, pct in PROFILE],
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return checks


def dump_json(path: Path, runs: List[Run], extra: Dict[str, object]) -> None:
    data = {"runs": [{"label": r.label, **r.row(), "peak_rss_mib": r.peak_rss, "cpu_ms_per_message": r.cpu_ms_per_message,
                      "cold_start_s": r.cold_start_s, "share": r.share, "by_kind": r.results.by_kind(),
                      "paced": r.paced.summary() if r.paced else None} for r in runs], **extra}
    path.write_text(json.dumps(data, indent=2, default=str))


# --- Main -------------------------------------------------------------------------------------------------------


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark the assistant against stock Rasa.")
    parser.add_argument("--users", type=int, default=20, help="concurrent conversations")
    parser.add_argument("--turns", type=int, default=10, help="messages per conversation")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --users conversations")
    parser.add_argument("--think", type=float, default=3.0,
                        help="mean seconds between a reply and the next message in the paced run (0: skip it)")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml", help="config to train (variants)")
    parser.add_argument("--model", type=Path, help="skip training and use this model")
    parser.add_argument("--skip-stock", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--profile", action="store_true", help="py-spy profile of the Rasa server")
    parser.add_argument("--profile-seconds", type=int, default=30)
    parser.add_argument("--profile-out", type=Path, help="keep py-spy's raw stacks in this file")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="environment for the project's processes (experiments)")
    parser.add_argument("--report", type=Path, default=REPORT)
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON here")
    args = parser.parse_args(argv)
    args.env = dict(item.split("=", 1) for item in args.env)
    return args


FAILURES: List[str] = []  # stages that could not be measured, for the report


def stage(name: str, function: Callable[..., T], *args: object, failed: T) -> T:
    """One optional part of the run: a failure is reported, and the rest still runs."""
    try:
        return function(*args)
    except Exception as error:  # reported in RESULTS.md and the exit status
        log(f"{name} failed: {error}")
        FAILURES.append(f"{name}: {str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__}")
        return failed


def default_model() -> Path:
    """models/vein-assistant.tar.gz, or TEST_MODEL_PATH when set (see the developers' rules)."""
    return Path(os.environ["TEST_MODEL_PATH"]) if os.environ.get("TEST_MODEL_PATH") else DEFAULT_MODEL


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    info = machine()
    load_before = os.getloadavg()[0]
    log(f"{info['cores']}; {info['memory']}; load average {load_before:.2f}")
    with tempfile.TemporaryDirectory(prefix="vein-bench-") as tmp:
        workdir = Path(tmp)
        train_s: Optional[float] = None
        if args.model:
            model = args.model
        else:
            log(f"training {args.config.name} from an empty cache ...")
            model, train_s, TRAINING_CPU["project"] = train_from_scratch(workdir, args.config)
            log(f"trained in {train_s:.0f} s ({TRAINING_CPU['project']:.0f} s CPU)")
        project = bench_project(workdir, model, args)
        stock, stock_train_s = (None, None) if args.skip_stock else stage("stock Rasa", bench_stock, workdir, args,
                                                                           failed=(None, None))
        scale = [] if args.skip_scale else stage("scale-out", bench_scale_out, workdir, model, args, failed=[])
        load_after = os.getloadavg()[0]
        checks = write_report(args.report, args, info, project, stock, scale, train_s, stock_train_s, model,
                              (load_before, load_after))
        if args.json:
            dump_json(args.json, [project, *([stock] if stock else []), *scale],
                      {"train_s": train_s, "stock_train_s": stock_train_s, "training_cpu": TRAINING_CPU, "profile": PROFILE, "env": args.env,
                       "config": str(args.config), "load": [load_before, load_after]})
    log(f"report written to {args.report}")
    for name, want, got, ok in checks:
        print(f"  {name:<45} {want:>10}  {got:>12}  {verdict(ok).strip('*')}")
    for failure in FAILURES:
        print(f"  not measured: {failure}")
    return 0 if all(ok is not False for _, _, _, ok in checks) and not FAILURES else 1


if __name__ == "__main__":
    sys.exit(main())

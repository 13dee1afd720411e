"""`make soak`: many patients for minutes, bookings included; nothing may fail or go missing.

Starts the assistant as `make run` does (ops/stack.py: action server, Rasa server,
delivery worker; SQLite stores by default, --production for PostgreSQL + Redis) with
the booking webhook pointed at a real local receiver (tests/receiver.py, Standard
Webhooks signatures checked with a generated whsec_ secret). Then --users patients hold
whole conversations back to back for --seconds (benchmarks/load.py), bookings mixed in.

Pass criteria (issue 8, part 4), written to benchmarks/SOAK.md:
- zero 5xx answers (and, reported, no other failed request);
- zero lost requests: every reference "VC-..." confirmed in a reply is in the request
  database and was delivered to the receiver (exactly once);
- resident memory of each process grows less than 10% from the end of the warm-up to
  the end of the run.
Exit 1 when any criterion fails.
"""
from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from clinic import store
from benchmarks.bench import BenchStack, cpu_seconds, default_model, fmt, machine
from benchmarks.bench import log as bench_log
from benchmarks.load import (
    BOOKING, REDIS_URL, MemorySampler, Results, drop_database, free_port, fresh_database, mib, postgres_answers,
    redis_answers, run_load, run_soak,
)
from ops.stack import ROOT, Stack, StackConfig
from tests.receiver import Receiver, new_secret

REPORT = ROOT / "benchmarks" / "SOAK.md"
SOAK_DB = "vein_soak"
MAX_GROWTH = 0.10
WINDOW_S = 15.0  # memory is averaged over this long at the end of warm-up and at the end


log = partial(bench_log, tag="soak")


@dataclass
class Delivered:
    """What became of the references patients were given."""

    confirmed: int
    unique: int
    missing_in_db: List[str]
    undelivered: List[str]
    duplicated: List[str]
    stored_total: int
    delivered_total: int


def check_requests(references: List[str], receiver: Receiver, database: str, drain_s: float) -> Delivered:
    """Wait up to drain_s for the worker, then compare replies, database and receiver."""
    unique = sorted(set(references))
    found = {ref: store.get_request(ref, url=database) for ref in unique}
    missing = [ref for ref, row in found.items() if row is None]
    ids = {ref: row.id for ref, row in found.items() if row is not None}
    deadline = time.monotonic() + drain_s
    while True:
        delivered = collections.Counter(d.webhook_id for d in list(receiver.deliveries))
        undelivered = [ref for ref, rid in ids.items() if delivered[rid] == 0]
        if not undelivered or time.monotonic() > deadline:
            break
        time.sleep(1)
    time.sleep(3)  # a duplicate would arrive within a few polls
    delivered = collections.Counter(d.webhook_id for d in list(receiver.deliveries))
    return Delivered(
        confirmed=len(references), unique=len(unique), missing_in_db=missing, undelivered=undelivered,
        duplicated=[ref for ref, rid in ids.items() if delivered[rid] > 1],
        stored_total=len(store.list_requests(url=database)), delivered_total=len(receiver.deliveries),
    )


def growth(memory: MemorySampler, name: str, warm_end: float, end: float) -> Tuple[float, float, float]:
    """(RSS MiB at the end of warm-up, at the end, relative growth)."""
    start = memory.mean_between(name, warm_end, warm_end + WINDOW_S)
    final = memory.mean_between(name, end - WINDOW_S, end)
    return mib(start), mib(final), (final - start) / start if start else float("nan")


def timeline(memory: MemorySampler, names: List[str], begin: float, end: float, step: float) -> List[str]:
    rows, t = [], begin
    while t < end:
        cells = [fmt(mib(memory.mean_between(n, t, t + step)), 0) for n in names]
        rows.append(f"| {t - begin:.0f}-{min(t + step, end) - begin:.0f} s | " + " | ".join(cells) + " |")
        t += step
    return rows


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Soak run: many concurrent conversations with bookings.")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--warmup", type=float, help="seconds of warm-up within the run (default: a fifth)")
    parser.add_argument("--drain", type=float, default=120, help="seconds to wait for deliveries afterwards")
    parser.add_argument("--model", type=Path, help="default: TEST_MODEL_PATH or models/vein-assistant.tar.gz")
    parser.add_argument("--production", action="store_true", help="PostgreSQL + Redis instead of SQLite")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    args.env = dict(item.split("=", 1) for item in args.env)
    args.warmup = args.warmup if args.warmup is not None else args.seconds / 5
    return args


def stores(args: argparse.Namespace, var_dir: Path) -> Dict[str, str]:
    if not args.production:
        return {"DATABASE_URL": f"sqlite:///{var_dir / 'requests.db'}"}
    why_not = postgres_answers() or redis_answers()
    if why_not:
        raise SystemExit(f"--production needs PostgreSQL and Redis: {why_not}")
    database = fresh_database(SOAK_DB)
    return {"DATABASE_URL": database, "TRACKER_STORE_URL": database, "LOCK_STORE_URL": f"{REDIS_URL}/7"}


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    model = args.model or default_model()
    if not model.exists():
        raise SystemExit(f"no model at {model}: run `make train` or pass --model")
    info = machine()
    with tempfile.TemporaryDirectory(prefix="vein-soak-") as tmp, Receiver(new_secret()) as receiver:
        var_dir = Path(tmp) / "var"
        env = {
            **stores(args, var_dir),
            "BOOKING_WEBHOOK_URL": receiver.url,
            "BOOKING_WEBHOOK_SECRET": receiver.secret,
            "DELIVERY_POLL_SECONDS": "0.5",
        }
        stack: Stack = BenchStack(StackConfig(rasa_port=free_port(), action_port=free_port(), web_port=free_port(),
                                              var_dir=var_dir, model_path=model, with_web=False, extra_env=env),
                                  args.env)
        try:
            log(f"starting the assistant with {model} ...")
            stack.start(timeout=300)
            pids = {name: stack.processes[name].pid for name in ("rasa", "actions", "worker") if name in stack.processes}
            url = f"{stack.rasa_url}/webhooks/rest/webhook"
            # Every code path once before memory counts (lazy imports, the first stored request,
            # date parsing): a few whole bookings first.
            log("warming up: 5 whole bookings ...")
            warm = run_load(url, users=5, turns=12, script=lambda rng, persona: ["hi", BOOKING, "thank you"], seed=3)
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            log(f"{args.users} patients for {args.seconds:.0f} s (warm-up {args.warmup:.0f} s) ...")

            def tick(results: Results) -> None:
                done = len(results.samples)
                log(f"{done} messages, {results.server_errors} 5xx, {results.errors} failed, "
                    f"{len(results.references)} bookings confirmed, Rasa RSS {mib(memory.samples['rasa'][-1][1]):.0f} MiB")

            with MemorySampler(pids, interval=1.0) as memory:
                begin = time.monotonic()
                results = run_soak(url, users=args.users, seconds=args.seconds, on_tick=tick)
                end = time.monotonic()
            cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
            log("waiting for the delivery worker ...")
            outcome = check_requests(warm.references + results.references, receiver, env["DATABASE_URL"], args.drain)
        finally:
            stack.stop()
            if args.production:
                drop_database(SOAK_DB)
    warm_end = begin + args.warmup
    memory_rows = {name: growth(memory, name, warm_end, end) for name in pids}
    second_half = {name: growth(memory, name, begin + (end - begin) / 2 - WINDOW_S, end)[2] for name in pids}
    checks = write_report(args, info, model, results, warm, outcome, memory_rows, second_half, cpu,
                          timeline(memory, list(pids), begin, end, max(30.0, args.seconds / 10)), list(pids))
    log(f"report written to {args.report}")
    for name, ok, detail in checks:
        print(f"  {name:<48} {'pass' if ok else 'FAIL'}  {detail}")
    return 0 if all(ok for _, ok, _ in checks) else 1


def write_report(args: argparse.Namespace, info: Dict[str, str], model: Path, results: Results, warm: Results,
                 outcome: Delivered, memory_rows: Dict[str, Tuple[float, float, float]], second_half: Dict[str, float],
                 cpu: Dict[str, float], rss_timeline: List[str], names: List[str]) -> List[Tuple[str, bool, str]]:
    s = results.summary()
    other_failures = s["errors"] - s["server_errors"]
    lost = len(outcome.missing_in_db) + len(outcome.undelivered)
    checks = [
        ("zero 5xx answers", s["server_errors"] == 0, f"{s['server_errors']} of {s['messages']}"),
        ("every message answered (no timeout, no 4xx)", other_failures == 0, f"{other_failures} failed"),
        ("zero lost requests (in the database and delivered)", lost == 0 and outcome.unique > 0,
         f"{outcome.unique} confirmed, {len(outcome.missing_in_db)} not stored, {len(outcome.undelivered)} not delivered"),
        ("each request delivered once", not outcome.duplicated, f"{len(outcome.duplicated)} delivered more than once"),
        *[(f"{name} RSS growth after warm-up < {MAX_GROWTH:.0%}", g < MAX_GROWTH,
           f"{a:.0f} -> {b:.0f} MiB ({g:+.1%}; second half of the run {second_half[name]:+.1%})")
          for name, (a, b, g) in memory_rows.items()],
    ]
    topology = ("PostgreSQL (tracker store and requests) + Redis (lock store)" if args.production
                else "SQLite tracker store and request database in a fresh var/, in-memory lock store (as `make run`)")
    lines = [
        "# Soak run",
        "",
        f"Written by `make soak` (benchmarks/soak.py) on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {info['commit']}.",
        "",
        f"- **Machine:** {info['cores']}; {info['memory']} RAM; {info['software']}.",
        f"- **Run:** after 5 whole bookings to warm up (every code path once), {args.users} concurrent patients "
        f"for {args.seconds:.0f} s (memory growth counted from {args.warmup:.0f} s, the end of warm-up), "
        "each holding whole conversations back to back without think time: FAQ questions, out-of-scope "
        "questions, small talk and bookings answered to the end (benchmarks/load.py).",
        f"- **Assistant:** action server, Rasa server ({model.name}) and delivery worker started as `make run` "
        f"does; {topology}. The booking webhook points at a local receiver (tests/receiver.py) that "
        "verifies every Standard Webhooks signature (generated whsec_ secret).",
        "",
        "## Result",
        "",
        "| criterion | | measured |",
        "|---|---|---|",
        *[f"| {name} | {'**pass**' if ok else '**FAIL**'} | {detail} |" for name, ok, detail in checks],
        "",
        "## Traffic",
        "",
        f"- {s['messages']} messages in {s['conversations']} conversations, {s['throughput']:.1f} messages/s.",
        f"- Latency: p50 {fmt(s['p50_ms'])} ms, p95 {fmt(s['p95_ms'])} ms, p99 {fmt(s['p99_ms'])} ms, "
        f"max {fmt(s['max_ms'])} ms (with {args.users} patients sending without pause).",
        f"- Failed requests: {s['errors']} ({s['server_errors']} 5xx); replies with an apology (degraded): {s['degraded']}.",
        f"- Bookings: {s['bookings_started']} started in the run (+{len(warm.references)} while warming up), "
        f"{outcome.confirmed} confirmed with a reference in all "
        f"({outcome.unique} distinct), {s['stuck']} ended without one; "
        f"{outcome.stored_total} requests stored, {outcome.delivered_total} deliveries accepted by the receiver.",
        "- CPU seconds used: " + ", ".join(f"{n} {v:.0f} s" for n, v in cpu.items()) + ".",
        "",
        "## Resident memory (MiB, process and children, mean per interval)",
        "",
        "| interval | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
        *rss_timeline,
    ]
    if outcome.missing_in_db or outcome.undelivered or outcome.duplicated:
        lines += ["", "## Problems", "",
                  f"- confirmed but not stored: {', '.join(outcome.missing_in_db) or 'none'}",
                  f"- stored but not delivered: {', '.join(outcome.undelivered) or 'none'}",
                  f"- delivered more than once: {', '.join(outcome.duplicated) or 'none'}"]
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text("\n".join(lines) + "\n")
    return checks


if __name__ == "__main__":
    sys.exit(main())

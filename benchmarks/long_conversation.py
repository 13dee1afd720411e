"""One patient, one long conversation of FAQ questions, on an idle server (issue 18).

Not part of `make test` or `make bench` yet: run it by hand,

    PYTHONPATH=$PWD .venv/bin/python -m benchmarks.long_conversation --messages 300

It starts the assistant as the end-to-end tests do (ops.stack.Stack, SQLite stores, a
temporary var/ folder), sends the FAQ questions of benchmarks/load.py one after another in
a single conversation, and prints the median latency of the first and last 20 messages, the
Rasa server's CPU time per message over each, and the number of events in the tracker.
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import psutil
import requests

from benchmarks.load import FAQ, free_port
from ops.stack import Stack, StackConfig

WINDOW = 20


def rasa_cpu_seconds(stack: Stack) -> float:
    """CPU time of the Rasa server process and its children."""
    root = psutil.Process(stack.processes["rasa"].pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def run(stack: Stack, messages: int, sender: str) -> Dict[str, float]:
    questions = itertools.cycle(FAQ)
    latencies: List[float] = []
    cpu: List[float] = []
    with requests.Session() as http:
        for _ in range(messages):
            before_cpu = rasa_cpu_seconds(stack)
            start = time.perf_counter()
            reply = http.post(f"{stack.rasa_url}/webhooks/rest/webhook",
                              json={"sender": sender, "message": next(questions)}, timeout=60)
            latencies.append(time.perf_counter() - start)
            cpu.append(rasa_cpu_seconds(stack) - before_cpu)
            reply.raise_for_status()
            assert reply.json(), "no reply"
        tracker = http.get(f"{stack.rasa_url}/conversations/{sender}/tracker",
                           params={"token": stack.token, "include_events": "ALL"}, timeout=60).json()
    first, last = latencies[:WINDOW], latencies[-WINDOW:]
    return {
        "first_ms": 1000 * statistics.median(first),
        "last_ms": 1000 * statistics.median(last),
        "ratio": statistics.median(last) / statistics.median(first),
        "first_cpu_ms": 1000 * statistics.mean(cpu[:WINDOW]),
        "last_cpu_ms": 1000 * statistics.mean(cpu[-WINDOW:]),
        "events": float(len(tracker.get("events", []))),
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--warm-up", type=int, default=20, help="messages in another conversation first")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as var_dir:
        stack = Stack(StackConfig(rasa_port=free_port(), action_port=free_port(), web_port=free_port(),
                                  var_dir=Path(var_dir), with_worker=False, with_web=False))
        try:
            stack.start(timeout=240)
            run(stack, args.warm_up, "warm-up")
            result = run(stack, args.messages, "long-conversation")
        finally:
            stack.stop()
    print(f"{args.messages} messages in one conversation ({result['events']:.0f} events in its tracker):")
    print(f"  median latency first {WINDOW}: {result['first_ms']:.1f} ms, last {WINDOW}: {result['last_ms']:.1f} ms"
          f" ({result['ratio']:.2f}x)")
    print(f"  Rasa CPU per message first {WINDOW}: {result['first_cpu_ms']:.1f} ms,"
          f" last {WINDOW}: {result['last_cpu_ms']:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

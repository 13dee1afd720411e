"""Ten ordinary patients beside one client flooding a single conversation (issue 18).

Not part of `make test` or `make bench` yet: run it by hand,

    PYTHONPATH=$PWD .venv/bin/python -m benchmarks.flood

It starts the assistant as the end-to-end tests do (ops.stack.Stack, SQLite stores), then
twice drives ten patients, each asking FAQ questions one after another: once alone, once
while eight streams send on one other conversation as fast as they are answered. It prints
the patients' p50/p95 latency both times, and what the flood got back (answers, "please
wait" replies, errors).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional

import requests

from benchmarks.load import FAQ, free_port
from ops.stack import Stack, StackConfig
from tests.responses import ResponseCatalog

PATIENTS = 10
FLOOD_STREAMS = 8


def p95(values: List[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def patients(url: str, messages: int) -> List[float]:
    def one(number: int) -> List[float]:
        sender, latencies = f"patient-{uuid.uuid4().hex[:8]}", []
        with requests.Session() as http:
            for turn in range(messages):
                start = time.perf_counter()
                http.post(url, json={"sender": sender, "message": FAQ[(number + turn) % len(FAQ)]},
                          timeout=60).raise_for_status()
                latencies.append(time.perf_counter() - start)
        return latencies

    with ThreadPoolExecutor(PATIENTS) as pool:
        return [latency for result in pool.map(one, range(PATIENTS)) for latency in result]


def flood(url: str, stop: threading.Event, outcomes: Dict[str, int], catalog: ResponseCatalog) -> None:
    sender = f"flood-{uuid.uuid4().hex[:8]}"

    def stream(number: int) -> None:
        with requests.Session() as http:
            while not stop.is_set():
                try:
                    reply = http.post(url, json={"sender": sender, "message": FAQ[number % len(FAQ)]}, timeout=60)
                except requests.RequestException:
                    outcomes["no answer"] = outcomes.get("no answer", 0) + 1
                    continue
                if reply.status_code != 200:
                    kind = f"HTTP {reply.status_code}"
                elif catalog.names(reply.json()) == ["utter_please_wait"]:
                    kind = "please wait"
                else:
                    kind = "answered" if reply.json() else "empty"
                outcomes[kind] = outcomes.get(kind, 0) + 1

    with ThreadPoolExecutor(FLOOD_STREAMS) as pool:
        list(pool.map(stream, range(FLOOD_STREAMS)))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=30, help="messages per patient")
    args = parser.parse_args(argv)
    catalog = ResponseCatalog.load()
    with tempfile.TemporaryDirectory() as var_dir:
        stack = Stack(StackConfig(rasa_port=free_port(), action_port=free_port(), web_port=free_port(),
                                  var_dir=Path(var_dir), with_worker=False, with_web=False))
        url = f"{stack.rasa_url}/webhooks/rest/webhook"
        try:
            stack.start(timeout=240)
            patients(url, 5)  # warm-up
            alone = patients(url, args.messages)
            stop, outcomes = threading.Event(), {}
            flooding = threading.Thread(target=flood, args=(url, stop, outcomes, catalog))
            flooding.start()
            time.sleep(1)
            beside = patients(url, args.messages)
            stop.set()
            flooding.join()
        finally:
            stack.stop()
    print(f"{PATIENTS} patients x {args.messages} FAQ messages:")
    print(f"  alone:            p50 {1000 * statistics.median(alone):.0f} ms, p95 {1000 * p95(alone):.0f} ms")
    print(f"  beside the flood: p50 {1000 * statistics.median(beside):.0f} ms, p95 {1000 * p95(beside):.0f} ms"
          f" ({p95(beside) / p95(alone):.2f}x)")
    print(f"  the flood ({FLOOD_STREAMS} streams on one conversation) got: "
          + ", ".join(f"{count} {kind}" for kind, count in sorted(outcomes.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

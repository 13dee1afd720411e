"""Load driver shared by `make bench` (benchmarks/bench.py) and `make soak` (benchmarks/soak.py).

Simulated patients talk to the REST webhook concurrently (asyncio + aiohttp):
each sends one message, waits for the reply, and sends the next, like a person
typing fast. The booking form is answered by recognising the question in the
bot's reply text (as an outside tester would), so the driver keeps working
when the form's order or wording of secondary messages changes.

Patients' names and numbers here are fictional and never printed.
"""
from __future__ import annotations

import asyncio
import itertools
import random
import re
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import aiohttp
import psutil

REFERENCE = re.compile(r"\b(VC-[0-9A-Z]{6})\b")

# --- What patients say ---------------------------------------------------------------

FAQ = [
    "what are spider veins?",
    "why do spider veins appear?",
    "are spider veins dangerous?",
    "what is sclerotherapy?",
    "how does sclerotherapy work?",
    "how long does the procedure take?",
    "is it done in a hospital?",
    "does sclerotherapy hurt?",
    "how long is the recovery?",
    "can I go to the gym afterwards?",
    "does it work?",
    "how many sessions will I need?",
    "when will I see results?",
    "is sclerotherapy safe?",
    "what are the benefits of sclerotherapy?",
]
OUT_OF_SCOPE = [
    "how much does it cost?",
    "what's the weather like tomorrow?",
    "can you recommend a good pizza place?",
    "do you take my insurance?",
    "who won the game last night?",
    "can you help me with my taxes?",
]
SMALL_TALK = ["hi", "hello there", "are you a bot?", "thanks!", "ok", "thank you", "good morning"]
GOODBYES = ["hello", "bye", "goodbye"]  # small talk outside SMALL_TALK (not openers)
BOOK = ["I'd like to book a consultation", "can I book an appointment?", "I want to schedule a visit"]
FIRST_NAMES = ["Jane", "Maria", "Ann", "Lucy", "Grace", "Helen", "Nora", "Rosa", "Clara", "Emma"]
LAST_NAMES = ["Smith", "Garcia", "Novak", "Brown", "Lopez", "Walker", "Kim", "Moreau", "Olsen", "Reyes"]

# Stock `rasa init` project: its own intents (greet, mood_*, affirm, deny, bot_challenge, goodbye).
STOCK = [
    "hello", "hi", "good morning", "I am great", "I am sad", "very good", "not good",
    "yes", "no", "are you a bot?", "perfect", "I am unhappy", "of course", "never", "bye",
]

# --- Recognising the booking form's questions -----------------------------------------

# (slot, pattern) in priority order, matched against one reply text (last reply first).
# Re-asked questions after an invalid answer match too ("doesn't look like a name").
QUESTIONS: List[Tuple[str, re.Pattern]] = [
    ("booking_confirmed", re.compile(r"check your request|is everything correct", re.I)),
    ("field_to_change", re.compile(r"what would you like to change", re.I)),
    ("contact_consent", re.compile(r"do you agree|may store the details", re.I)),
    ("patient_name", re.compile(r"full name|look like a name", re.I)),
    ("contact_method", re.compile(r"how should the clinic contact you|how the clinic should contact", re.I)),
    ("patient_phone", re.compile(r"phone number should|valid phone number", re.I)),
    ("patient_email", re.compile(r"email address", re.I)),
    ("preferred_time", re.compile(r"days and times|which days", re.I)),
    ("visit_reason", re.compile(r"what is the visit for|choose one of these", re.I)),
]


def question_asked(replies: Sequence[dict]) -> Optional[str]:
    """The form question (slot name) the bot asked in these replies, if any."""
    for message in reversed(replies):
        text = message.get("text") or ""
        for slot, pattern in QUESTIONS:
            if pattern.search(text):
                return slot
    return None


def reference_in(replies: Sequence[dict]) -> Optional[str]:
    found = REFERENCE.search(" ".join(m.get("text") or "" for m in replies))
    return found.group(1) if found else None


@dataclass
class Applicant:
    """The answers one simulated patient gives to the booking form."""

    name: str
    phone: str

    @classmethod
    def random(cls, rng: random.Random) -> "Applicant":
        # 202-555-01xx: valid US numbers reserved for fiction.
        return cls(f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", f"+1 202 555 01{rng.randrange(100):02d}")

    def answer(self, slot: str) -> str:
        return {
            "patient_name": self.name,
            "contact_method": "Phone call",
            "patient_phone": self.phone,
            "patient_email": "patient@example.org",
            "preferred_time": "next Tuesday afternoon",
            "visit_reason": "Sclerotherapy treatment",
            "contact_consent": "yes",
            "booking_confirmed": "yes",
            "field_to_change": "nothing, it's all correct",
        }[slot]


# --- Conversation scripts ------------------------------------------------------------------

BOOKING = "<booking>"  # script marker: start a booking and answer the form to the end
MAX_TURNS = 40  # a conversation that is still going after this many messages is stuck


def project_script(rng: random.Random, persona: int) -> List[str]:
    """A patient's plan: FAQ questions, a booking, out-of-scope questions and small talk."""
    kind = persona % 4
    if kind == 0:  # books: greeting, booking (8 turns), thanks
        return ["hi", BOOKING, "thank you"]
    if kind == 1:  # reads up on the treatment
        return ["hello", *rng.sample(FAQ, 6), rng.choice(OUT_OF_SCOPE), "thanks!", "bye"]
    if kind == 2:  # curious, drifts off topic
        return ["hi", "are you a bot?", *rng.sample(FAQ, 3), *rng.sample(OUT_OF_SCOPE, 3), "ok", "goodbye"]
    return [rng.choice(SMALL_TALK), *rng.sample(FAQ, 5), rng.choice(OUT_OF_SCOPE), BOOKING]


def stock_script(rng: random.Random, persona: int) -> List[str]:
    return [rng.choice(STOCK) for _ in range(12)]


Script = Callable[[random.Random, int], List[str]]

# --- Measurements ----------------------------------------------------------------------------

# Replies that mean something failed behind the webhook although it answered 200.
DEGRADED = re.compile(r"isn't available right now|something went wrong on my side|could not be saved", re.I)


@dataclass
class Sample:
    latency: float  # seconds, request sent to reply read
    status: int  # HTTP status; 0 = no answer (connection error or timeout)
    error: Optional[str] = None
    degraded: bool = False
    kind: str = ""  # what was said: faq, out_of_scope, small_talk, book, answer:<slot>, stock


@dataclass
class Results:
    samples: List[Sample] = field(default_factory=list)
    references: List[str] = field(default_factory=list)  # booking references confirmed in replies
    bookings_started: int = 0
    conversations: int = 0
    stuck: int = 0  # bookings that ended without a reference
    wall_seconds: float = 0.0

    def merge(self, other: "Results") -> None:
        self.samples += other.samples
        self.references += other.references
        self.bookings_started += other.bookings_started
        self.conversations += other.conversations
        self.stuck += other.stuck
        self.wall_seconds += other.wall_seconds

    @property
    def ok_latencies(self) -> List[float]:
        return [s.latency for s in self.samples if s.status == 200]

    def percentile(self, p: float) -> float:
        values = sorted(self.ok_latencies)
        if not values:
            return float("nan")
        # nearest-rank: the value below which p% of the samples fall
        return values[min(len(values) - 1, max(0, int(round(p / 100 * len(values) + 0.5)) - 1))]

    @property
    def errors(self) -> int:
        return sum(1 for s in self.samples if s.status != 200)

    @property
    def server_errors(self) -> int:
        return sum(1 for s in self.samples if s.status >= 500)

    @property
    def degraded(self) -> int:
        return sum(1 for s in self.samples if s.degraded)

    @property
    def throughput(self) -> float:
        return len(self.samples) / self.wall_seconds if self.wall_seconds else 0.0

    def by_kind(self) -> Dict[str, Tuple[int, float, float, float]]:
        """kind -> (messages, p50, p95, max) in seconds, answered messages only."""
        kinds: Dict[str, List[float]] = {}
        for sample in self.samples:
            if sample.status == 200:
                kinds.setdefault(sample.kind.split(":")[0] if sample.kind.startswith("answer") else sample.kind,
                                 []).append(sample.latency)
        table = {}
        for kind, values in sorted(kinds.items()):
            values.sort()
            table[kind] = (len(values), values[len(values) // 2], values[min(len(values) - 1, int(0.95 * len(values)))],
                           values[-1])
        return table

    def summary(self) -> Dict[str, float]:
        return {
            "messages": len(self.samples),
            "conversations": self.conversations,
            "p50_ms": 1000 * self.percentile(50),
            "p95_ms": 1000 * self.percentile(95),
            "p99_ms": 1000 * self.percentile(99),
            "mean_ms": 1000 * statistics.fmean(self.ok_latencies) if self.ok_latencies else float("nan"),
            "max_ms": 1000 * max(self.ok_latencies, default=float("nan")),
            "throughput": self.throughput,
            "errors": self.errors,
            "server_errors": self.server_errors,
            "degraded": self.degraded,
            "bookings_started": self.bookings_started,
            "bookings_confirmed": len(self.references),
            "stuck": self.stuck,
        }


# --- Driving conversations -----------------------------------------------------------------


class Patient:
    """One simulated patient on one HTTP session (own source address when spreading IPs)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, rng: random.Random, results: Results,
                 timeout: float = 30.0) -> None:
        self.session, self.url, self.rng, self.results = session, url, rng, results
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def say(self, sender: str, text: str, kind: str = "") -> List[dict]:
        started = time.perf_counter()
        try:
            async with self.session.post(self.url, json={"sender": sender, "message": text},
                                         timeout=self.timeout) as response:
                body = await response.read()
                latency = time.perf_counter() - started
                if response.status != 200:
                    self.results.samples.append(
                        Sample(latency, response.status, body[:200].decode(errors="replace"), kind=kind))
                    return []
                replies = _json_list(body)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            self.results.samples.append(Sample(time.perf_counter() - started, 0, type(error).__name__, kind=kind))
            return []
        degraded = any(DEGRADED.search(m.get("text") or "") for m in replies)
        self.results.samples.append(Sample(latency, 200, None if replies else "empty reply", degraded, kind))
        return replies

    async def converse(self, script: List[str], max_turns: Optional[int] = None,
                       filler: Optional[Iterator[str]] = None, think: float = 0.0) -> None:
        """Follow the script, answering any form question first; stop after max_turns
        (padding with `filler` when the script ends early) or when the script is done."""
        sender = f"load-{uuid.uuid4().hex[:16]}"
        applicant = Applicant.random(self.rng)
        plan, replies, turns, booking = list(script), [], 0, False
        self.results.conversations += 1
        while turns < (max_turns or MAX_TURNS):
            slot = question_asked(replies)
            if slot:
                text = applicant.answer(slot)
            elif plan:
                text = plan.pop(0)
                if text == BOOKING:
                    booking = True
                    self.results.bookings_started += 1
                    text = self.rng.choice(BOOK)
            elif max_turns is not None and filler is not None:
                text = next(filler)
            else:
                break
            if think and turns:
                await asyncio.sleep(think * self.rng.uniform(0.5, 1.5))  # reading and typing
            replies = await self.say(sender, text, f"answer:{slot}" if slot else kind_of(text))
            turns += 1
            reference = reference_in(replies)
            if reference:
                self.results.references.append(reference)
                booking = False
        if booking and (max_turns is None or question_asked(replies) is None):
            # the form stopped asking (or never stopped), yet no reference came
            self.results.stuck += 1


def kind_of(text: str) -> str:
    for kind, texts in (("faq", FAQ), ("out_of_scope", OUT_OF_SCOPE), ("small_talk", SMALL_TALK + GOODBYES),
                        ("book", BOOK), ("stock", STOCK)):
        if text in texts:
            return kind
    return "other"


def _json_list(body: bytes) -> List[dict]:
    import json

    parsed = json.loads(body or b"[]")
    return parsed if isinstance(parsed, list) else []


def _session(user: int, spread_ips: bool) -> aiohttp.ClientSession:
    # nginx's ip_hash keys on the first three octets: 127.0.<n>.1 spreads users over replicas.
    local = (f"127.0.{user % 250 + 1}.1", 0) if spread_ips else None
    connector = aiohttp.TCPConnector(limit=1, local_addr=local)
    return aiohttp.ClientSession(connector=connector)


async def _round(url: str, users: int, turns: int, script: Script, seed: int, spread_ips: bool,
                 timeout: float, think: float) -> Results:
    results = Results()
    sessions = [_session(u, spread_ips) for u in range(users)]
    try:
        patients = [Patient(s, url, random.Random(seed * 1000 + u), results, timeout) for u, s in enumerate(sessions)]
        fillers = [itertools.cycle(SMALL_TALK[1:] + FAQ) for _ in range(users)]
        started = time.perf_counter()
        await asyncio.gather(*(
            p.converse(script(p.rng, u), max_turns=turns, filler=fillers[u], think=think)
            for u, p in enumerate(patients)
        ))
        results.wall_seconds = time.perf_counter() - started
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    return results


def run_load(url: str, users: int = 20, turns: int = 10, rounds: int = 1, script: Script = project_script,
             seed: int = 7, spread_ips: bool = False, timeout: float = 30.0, think: float = 0.0) -> Results:
    """`rounds` times: `users` concurrent conversations of `turns` messages each (new senders each
    round); `think`: mean seconds a patient takes to read and type between messages (0: none)."""
    total = Results()
    for r in range(rounds):
        total.merge(asyncio.run(_round(url, users, turns, script, seed + r, spread_ips, timeout, think)))
    return total


async def _soak(url: str, users: int, seconds: float, script: Script, seed: int, timeout: float,
                on_tick: Optional[Callable[[Results], None]]) -> Results:
    results = Results()
    deadline = time.monotonic() + seconds
    sessions = [_session(u, False) for u in range(users)]

    async def patient(user: int, session: aiohttp.ClientSession) -> None:
        rng = random.Random(seed * 1000 + user)
        talker = Patient(session, url, rng, results, timeout)
        persona = user
        while time.monotonic() < deadline:
            await talker.converse(script(rng, persona))  # each conversation runs to its end
            persona += 1

    async def ticker() -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(10)
            if on_tick:
                on_tick(results)

    try:
        started = time.perf_counter()
        await asyncio.gather(ticker(), *(patient(u, s) for u, s in enumerate(sessions)))
        results.wall_seconds = time.perf_counter() - started
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    return results


def run_soak(url: str, users: int, seconds: float, script: Script = project_script, seed: int = 11,
             timeout: float = 60.0, on_tick: Optional[Callable[[Results], None]] = None) -> Results:
    """`users` patients holding whole conversations back to back until `seconds` have passed."""
    return asyncio.run(_soak(url, users, seconds, script, seed, timeout, on_tick))


# --- Resident memory ---------------------------------------------------------------------------


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its children (0 once it is gone)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


class MemorySampler:
    """Samples the RSS of named process trees in a background thread."""

    def __init__(self, pids: Dict[str, int], interval: float = 0.25) -> None:
        self.pids, self.interval = pids, interval
        self.samples: Dict[str, List[Tuple[float, int]]] = {name: [] for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for name, pid in self.pids.items():
                self.samples[name].append((now, tree_rss(pid)))
            self._stop.wait(self.interval)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, name: str) -> int:
        return max((rss for _, rss in self.samples[name]), default=0)

    def mean_between(self, name: str, start: float, end: float) -> float:
        values = [rss for t, rss in self.samples[name] if start <= t <= end]
        return statistics.fmean(values) if values else float("nan")


def mib(value: float) -> float:
    return value / 2 ** 20


# --- Shared infrastructure for scale-out runs ---------------------------------------------------

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379"


def free_port() -> int:
    """A port nobody listens on now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_answers(admin_url: str = POSTGRES_ADMIN_URL) -> Optional[str]:
    """None when PostgreSQL accepts a connection, else why not."""
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(admin_url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # any driver or network failure means "not here"
        return f"PostgreSQL at {admin_url} does not answer: {type(error).__name__}"


def redis_answers(url: str = REDIS_URL) -> Optional[str]:
    """None when Redis answers PING, else why not."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
        return None
    except Exception as error:
        return f"Redis at {url} does not answer: {type(error).__name__}"


def fresh_database(name: str, admin_url: str = POSTGRES_ADMIN_URL) -> str:
    """(Re)create an empty PostgreSQL database; returns its SQLAlchemy URL."""
    import sqlalchemy as sa

    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"unsafe database name {name!r}")
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(name: str, admin_url: str = POSTGRES_ADMIN_URL) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()

"""Scale-out on Rasa's own parts: two Rasa servers, one conversation.

Two Rasa server processes on different ports share one action server, PostgreSQL
(tracker store and request database, a fresh database per run) and Redis (lock
store), as deploy/docker-compose.yml runs N replicas behind nginx. One
conversation's messages go alternately to both; what one server did must be
visible to the other. Skipped only when PostgreSQL or Redis does not answer
(both run on CI).
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
import requests

from clinic import handover, store
from benchmarks.load import Applicant, drop_database, free_port, fresh_database, postgres_answers, question_asked
from benchmarks.load import redis_answers, reference_in
from ops.stack import Stack, StackConfig
from tests.responses import ResponseCatalog

pytestmark = [pytest.mark.e2e, pytest.mark.production]

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/6")


@pytest.fixture(scope="module")
def shared_stores() -> Iterator[Dict[str, str]]:
    """A fresh PostgreSQL database and a Redis lock store, or a skip saying which is missing."""
    why_not = postgres_answers(POSTGRES_URL) or redis_answers(REDIS_URL)
    if why_not:
        pytest.skip(f"{why_not}; the scale-out test needs PostgreSQL and Redis (both run on CI)")
    name = f"vein_scale_{uuid.uuid4().hex[:10]}"
    database = fresh_database(name, POSTGRES_URL)
    try:
        yield {"TRACKER_STORE_URL": database, "DATABASE_URL": database, "LOCK_STORE_URL": REDIS_URL}
    finally:
        drop_database(name, POSTGRES_URL)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, shared_stores: Dict[str, str]) -> Iterator[Tuple[Stack, str, str]]:
    """(stack, url of Rasa A, url of Rasa B): one action server, two Rasa processes."""
    stack = Stack(StackConfig(
        rasa_port=free_port(), action_port=free_port(), web_port=free_port(),
        var_dir=Path(tmp_path_factory.mktemp("scale-var")), with_web=False, with_worker=False,
        extra_env=shared_stores,
    ))
    try:
        stack.start(timeout=300)
        second = stack.start_replica("rasa-b", free_port(), timeout=300)
        yield stack, stack.rasa_url, second
    finally:
        stack.stop()


def send(url: str, sender: str, text: str) -> List[dict]:
    response = requests.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def tracker_events(url: str, token: str, sender: str) -> List[dict]:
    response = requests.get(f"{url}/conversations/{sender}/tracker", params={"token": token}, timeout=30)
    response.raise_for_status()
    return response.json()["events"]


def test_a_booking_started_on_one_server_is_finished_on_the_other(
    servers: Tuple[Stack, str, str], shared_stores: Dict[str, str]
) -> None:
    _, first, second = servers
    sender = f"scale-{uuid.uuid4().hex[:12]}"
    patient = Applicant("Nora Olsen", "+1 202 555 0143")
    replies = send(first, sender, "I'd like to book a consultation")
    asked = [question_asked(replies)]
    assert asked[0] == "patient_name", replies
    # Every answer goes to the server that did not ask the question.
    for turn in range(1, 12):
        url = (first, second)[turn % 2]
        replies = send(url, sender, patient.answer(asked[-1]))
        if reference_in(replies):
            break
        asked.append(question_asked(replies))
        assert asked[-1] is not None, f"no question and no reference after answering {asked[-2]}: {replies}"
        assert asked[-1] != asked[-2], f"{url} asked {asked[-1]} again: it did not see the answer"
    reference = reference_in(replies)
    assert reference, f"no reference after {asked}"
    assert {"patient_name", "contact_method", "patient_phone", "preferred_time", "visit_reason",
            "contact_consent", "booking_confirmed"} <= set(asked)

    stored = store.get_request(reference, url=shared_stores["DATABASE_URL"])
    assert stored is not None and stored.conversation_id == sender
    assert stored.phone == "+12025550143"


def test_two_misses_in_a_row_across_servers_offer_staff(
    servers: Tuple[Stack, str, str], responses: ResponseCatalog
) -> None:
    _, first, second = servers
    sender = f"scale-{uuid.uuid4().hex[:12]}"
    assert responses.names(send(first, sender, "/nlu_fallback")) == ["utter_ask_rephrase"]
    # Only a server that saw the first miss offers staff on the second.
    assert responses.names(send(second, sender, "/nlu_fallback")) == ["utter_offer_staff"]


def test_simultaneous_messages_to_both_servers_are_serialised_by_the_lock_store(
    servers: Tuple[Stack, str, str]
) -> None:
    stack, first, second = servers
    sender = f"scale-{uuid.uuid4().hex[:12]}"
    send(first, sender, "hello")
    # Several times, one message to each server at the same moment (a lost update is a race,
    # so one try may miss it).
    rounds = [
        {first: "what are spider veins?", second: "does sclerotherapy hurt?"},
        {first: "how long is the recovery?", second: "is sclerotherapy safe?"},
        {first: "how many sessions will I need?", second: "what causes spider veins?"},
        {first: "when will I see results?", second: "how long does the procedure take?"},
    ]
    answers: Dict[str, List[dict]] = {}
    for questions in rounds:
        start = threading.Barrier(len(questions))

        def ask(url: str, text: str) -> None:
            start.wait()
            answers[text] = send(url, sender, text)

        threads = [threading.Thread(target=ask, args=item) for item in questions.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
    asked = [text for questions in rounds for text in questions.values()]
    assert set(answers) == set(asked) and all(answers.values()), answers

    # Each server's stored turn is whole: every question is kept, followed by its own answer
    # and not interleaved with another turn (a lost update drops one).
    events = tracker_events(second, stack.token, sender)
    said = [(e["event"], e.get("text")) for e in events if e["event"] in ("user", "bot")]
    for text in asked:
        assert ("user", text) in said, f"lost the turn {text!r}: {said}"
        at = said.index(("user", text))
        assert said[at + 1] == ("bot", answers[text][0]["text"]), said
    assert sum(1 for kind, _ in said if kind == "user") == 1 + len(asked), said


def test_a_take_over_made_while_one_server_answered_holds_on_the_other(
    servers: Tuple[Stack, str, str], shared_stores: Dict[str, str], responses: ResponseCatalog
) -> None:
    """The hand-over state is in the shared database (clinic/handover.py), not in a process:
    the staff console's take-over silences both servers, a red flag is answered by either,
    and the hand back lets both answer again."""
    _, first, second = servers
    database = shared_stores["DATABASE_URL"]
    sender = f"scale-{uuid.uuid4().hex[:12]}"
    assert send(first, sender, "what are spider veins?")  # server A knows the conversation (and caches it)
    assert handover.take_over(sender, 1, "anna@clinic.example", "Anna", url=database).ok
    time.sleep(handover.HOLDER_CACHE_SECONDS + 0.5)
    assert send(second, sender, "does sclerotherapy hurt?") == []
    assert send(first, sender, "is sclerotherapy safe?") == []
    assert responses.names(send(second, sender, "my calf is hot and swollen since this morning")) == ["utter_emergency"]
    assert handover.hand_back(sender, 1, url=database)
    time.sleep(handover.HOLDER_CACHE_SECONDS + 0.5)
    assert send(first, sender, "how long is the recovery?")
    assert send(second, sender, "what causes spider veins?")

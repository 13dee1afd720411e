"""A flood on one conversation slows no one else, and no message is silently dropped
(addons/patches/admission.py, issue 18): through the REST webhook of the running assistant.

Eight clients send on one conversation at once, over and over, while another patient asks
her questions one after another. Asserted on who was admitted, never on timings: the
patient is never asked to wait, the flood is (politely, with a 200), every flood message is
either in the conversation or was answered with "please wait", and a red flag sent in the
middle of the flood gets the emergency reply.
"""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import List, Tuple

import pytest
import requests

from benchmarks.load import FAQ

pytestmark = pytest.mark.e2e

PLEASE_WAIT = "utter_please_wait"
FLOOD_STREAMS = 8


def post(stack, sender: str, text: str) -> Tuple[int, List[dict]]:
    response = requests.post(f"{stack.rasa_url}/webhooks/rest/webhook",
                             json={"sender": sender, "message": text}, timeout=60)
    return response.status_code, (response.json() if response.ok else [])


def test_a_flood_on_one_conversation_is_asked_to_wait_and_others_are_answered(stack, responses) -> None:
    flooder, patient = f"test-flood-{uuid.uuid4().hex[:8]}", f"test-patient-{uuid.uuid4().hex[:8]}"
    post(stack, flooder, "hi")
    patient_done = threading.Event()
    flood_replies: List[Tuple[int, List[dict]]] = []

    def flood(stream: int) -> None:
        number = 0
        while not patient_done.is_set() or number < 3:
            flood_replies.append(post(stack, flooder, FAQ[(stream + number) % len(FAQ)]))
            number += 1

    with ThreadPoolExecutor(FLOOD_STREAMS) as pool:
        streams = [pool.submit(flood, stream) for stream in range(FLOOD_STREAMS)]
        try:
            patient_replies = [post(stack, patient, text) for text in ["hi", *FAQ[:5], "thank you"]]
            emergency = post(stack, flooder, "my chest hurts and I can't breathe")
        finally:
            patient_done.set()
        for stream in streams:
            stream.result()

    for status, replies in patient_replies:
        assert status == 200 and replies, "the patient beside the flood got no answer"
        assert PLEASE_WAIT not in responses.names(replies), "the patient beside the flood was asked to wait"
    assert responses.names(emergency[1])[:1] == ["utter_emergency"], "a red flag in a flood must be answered"

    assert all(status == 200 and replies for status, replies in flood_replies), "a flood message got no reply"
    waits = sum(responses.names(replies) == [PLEASE_WAIT] for _, replies in flood_replies)
    assert waits, "eight clients at once on one conversation were never asked to wait"
    assert all(PLEASE_WAIT not in responses.names(replies) or len(replies) == 1 for _, replies in flood_replies)
    # never silently dropped: each flood message is in the conversation or was asked to wait
    tracker = requests.get(f"{stack.rasa_url}/conversations/{flooder}/tracker",
                           params={"token": stack.token}, timeout=30).json()
    processed = sum(event["event"] == "user" for event in tracker["events"])
    assert processed == 1 + len(flood_replies) - waits + 1  # "hi", the admitted flood, the red flag

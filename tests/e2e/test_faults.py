"""Faults behind the Rasa server: the patient is never left in silence or lost."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_rasa_restart_keeps_the_conversation(stack, sender, responses) -> None:
    assert responses.names(stack.send(sender, "/nlu_fallback")) == ["utter_ask_rephrase"]
    stack.stop_process("rasa")
    stack.start_process("rasa")
    stack.wait_ready()
    # The second miss in a row is only recognised if the first one was kept.
    assert responses.names(stack.send(sender, "/nlu_fallback")) == ["utter_offer_staff"]


def test_action_server_down_gets_an_apology_with_the_phone(stack, sender, responses) -> None:
    from clinic.settings import clinic_details

    stack.stop_process("actions")
    try:
        replies = stack.send(sender, "I'd like to book a consultation")
        assert responses.names(replies).count("utter_action_unavailable") == 1, replies  # one per message
        assert clinic_details().phone in responses.text("utter_action_unavailable")
    finally:
        stack.start_process("actions")
        stack.wait_ready()
    # Back up: the assistant answers again (the booking form it started then asks its question).
    assert responses.names(stack.send(sender, "does sclerotherapy hurt?"))[0] == "utter_faq/discomfort"


def test_a_patch_switched_off_is_off_in_the_running_server(tmp_path, sender, responses) -> None:
    """RASA_PATCH_ACTION_APOLOGY=off: the server runs Rasa's own RemoteAction.run, so with the
    action server down the patient gets no apology (the silence the patch exists for)."""
    import requests

    from ops.stack import Stack, StackConfig
    from tests.conftest import free_port

    stack = Stack(StackConfig(
        rasa_port=free_port(), action_port=free_port(), web_port=free_port(), var_dir=tmp_path,
        with_web=False, with_worker=False, extra_env={"RASA_PATCH_ACTION_APOLOGY": "off"},
    ))
    try:
        stack.start(timeout=240)
        switches = requests.get(f"{stack.rasa_url}/webhooks/rasa_patches/", timeout=30).json()["patches"]
        assert switches.pop("action_apology") is False and all(switches.values()), switches
        stack.stop_process("actions")
        replies = stack.send(sender, "I'd like to book a consultation")
        assert "utter_action_unavailable" not in responses.names(replies), replies
    finally:
        stack.stop()


def test_request_database_down_is_never_confirmed(tmp_path) -> None:
    """With the request database unreachable the patient is told so and given the phone."""
    import uuid

    import psycopg2

    from clinic.settings import clinic_details
    from ops.stack import Stack, StackConfig
    from tests.booking_driver import REFERENCE, Patient
    from tests.conftest import free_port

    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"vein_faults_{uuid.uuid4().hex[:8]}"
    try:
        connection = psycopg2.connect(admin, connect_timeout=3)
    except psycopg2.OperationalError:
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    connection.autocommit = True
    connection.cursor().execute(f"CREATE DATABASE {name}")
    stack = Stack(StackConfig(
        rasa_port=free_port(), action_port=free_port(), web_port=free_port(), var_dir=tmp_path,
        with_web=False, extra_env={"DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}"},
    ))
    try:
        stack.start(timeout=240)
        patient = Patient(stack, f"dbdown-{uuid.uuid4().hex[:8]}")
        patient.say("I'd like to book a consultation")
        patient.answer_until(lambda slot: slot == "booking_confirmed")
        # The database goes away just before the patient confirms.
        cursor = connection.cursor()
        cursor.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        replies = patient.say("/affirm")
        text = " ".join(m.get("text", "") for m in replies)
        assert not REFERENCE.search(text), text
        assert "could not" in text.lower() or "couldn't" in text.lower(), text
        assert clinic_details().phone in text
    finally:
        stack.stop()
        cursor = connection.cursor()
        cursor.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.close()

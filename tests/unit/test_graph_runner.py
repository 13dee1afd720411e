"""addons/patches/graph_runner.py gives exactly what Rasa's dask runner gives, on the trained model."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import pytest
from rasa.core.channels import UserMessage
from rasa.engine import loader
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from addons.patches.graph_runner import SequentialGraphRunner

ROOT = Path(__file__).resolve().parents[2]
MODEL = Path(os.environ.get("TEST_MODEL_PATH", ROOT / "models" / "vein-assistant.tar.gz"))
TEXTS = ["hi", "does it hurt?", "how much does it cost?", "I'd like to book", "my chest hurts and I can't breathe", ""]


@pytest.fixture(scope="module")
def runners() -> Iterator[Tuple[Any, DaskGraphRunner, SequentialGraphRunner]]:
    if not MODEL.is_file():
        pytest.fail(f"no trained model at {MODEL}: run `make test` (it trains first)")
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        metadata, dask_runner = loader.load_predict_graph_runner(Path(first), MODEL, LocalModelStorage, DaskGraphRunner)
        _, sequential = loader.load_predict_graph_runner(Path(second), MODEL, LocalModelStorage, SequentialGraphRunner)
        yield metadata, dask_runner, sequential


def parse(runner: Any, metadata: Any, text: str) -> Dict[str, Any]:
    results = runner.run(inputs={"__message__": [UserMessage(text)]}, targets=[metadata.nlu_target])
    [message] = results[metadata.nlu_target]
    return message.as_dict(only_output_properties=True)


@pytest.mark.parametrize("text", TEXTS)
def test_nlu_graph_gives_the_same_parse(runners: Tuple[Any, Any, Any], text: str) -> None:
    metadata, dask_runner, sequential = runners
    assert parse(sequential, metadata, text) == parse(dask_runner, metadata, text)


@pytest.mark.parametrize("text", TEXTS[:5])
def test_policy_graph_gives_the_same_prediction(runners: Tuple[Any, Any, Any], text: str) -> None:
    metadata, dask_runner, sequential = runners
    parse_data = parse(dask_runner, metadata, text)
    tracker = DialogueStateTracker.from_events("t", [
        ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
        UserUttered(text, parse_data["intent"], parse_data=parse_data),
    ], metadata.domain.slots)

    def predict(runner: Any) -> Any:
        prediction = runner.run(inputs={"__tracker__": tracker}, targets=[metadata.core_target])[metadata.core_target]
        return prediction.probabilities, prediction.policy_name, prediction.is_end_to_end_prediction

    assert predict(sequential) == predict(dask_runner)


def test_each_target_set_is_ordered_once_with_needs_first(runners: Tuple[Any, Any, Any]) -> None:
    metadata, _, sequential = runners
    order = sequential.execution_order((metadata.nlu_target,))
    assert order is sequential.execution_order((metadata.nlu_target,))
    nodes = sequential._graph_schema.nodes
    for position, name in enumerate(order):
        for need in nodes[name].needs.values():
            assert need not in nodes or order.index(need) < position
    assert order[-1] == metadata.nlu_target


def test_inputs_may_not_shadow_nodes(runners: Tuple[Any, Any, Any]) -> None:
    metadata, _, sequential = runners
    with pytest.raises(GraphRunError):
        sequential.run(inputs={metadata.nlu_target: "x"}, targets=[metadata.nlu_target])

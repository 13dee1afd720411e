"""addons/patches/gc_freeze.py: after a model load the objects alive are frozen; a new load unfreezes first."""
from __future__ import annotations

import gc
from typing import Any, List

import pytest

from addons.patches import gc_freeze


@pytest.fixture()
def fake_loading(monkeypatch: pytest.MonkeyPatch) -> List[Any]:
    loaded: List[Any] = []

    def load(agent: Any, *args: Any, **kwargs: Any) -> None:
        loaded.append([{"model": args} for _ in range(1000)])  # what a model leaves alive
        loaded.append(gc.get_freeze_count())

    monkeypatch.setattr(gc_freeze, "_original_load_model", load)
    yield loaded
    gc.unfreeze()  # leave the test process as it was


def test_objects_alive_after_loading_are_frozen(fake_loading: List[Any]) -> None:
    gc.unfreeze()
    gc_freeze.load_model_then_freeze(object(), "models/first")
    assert gc.get_freeze_count() >= 1000
    gc_freeze.load_model_then_freeze(object(), "models/second")
    assert fake_loading[1] == 0 and fake_loading[3] == 0  # each load ran unfrozen: an old model can be freed
    assert gc.get_freeze_count() >= 2000  # both models' objects are frozen now


def test_installed_on_the_agent() -> None:
    from rasa.core.agent import Agent

    gc_freeze.install()
    assert Agent.load_model is gc_freeze.load_model_then_freeze

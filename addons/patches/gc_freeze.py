"""Everything alive once the model is loaded is kept out of Python's full garbage collections.

The Rasa server holds about 600,000 Python objects after start-up (TensorFlow, spaCy,
Rasa, the model). Python's full collection walks all of them whenever enough new
long-lived objects have piled up, about every 1,600 messages under load here, and
stopped the server for a quarter of a second each time: every patient waiting at
that moment got a slow reply (benchmarks/TUNING.md). `gc.freeze()` after the model
is loaded moves those objects to a permanent generation the collector skips;
what patients' messages create is collected as before. Loading another model
(the HTTP API can) unfreezes first, so the old model can still be freed.
"""
from __future__ import annotations

import gc
from typing import Any

from rasa.core.agent import Agent

_original_load_model = Agent.load_model


def load_model_then_freeze(self: Agent, *args: Any, **kwargs: Any) -> None:
    gc.unfreeze()
    try:
        _original_load_model(self, *args, **kwargs)
    finally:
        gc.collect()
        gc.freeze()


def install() -> None:
    """Must run before the model is loaded (addons/patches/__init__.py says when it runs)."""
    Agent.load_model = load_model_then_freeze  # type: ignore[method-assign]


def uninstall() -> None:
    Agent.load_model = _original_load_model  # type: ignore[method-assign]

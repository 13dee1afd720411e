"""Rasa's debug log lines no longer deep-copy conversation data when nobody logs it.

Rasa 3.6 calls `copy.deepcopy` on events, states and slots to pass them to
`structlogger.debug(...)` while processing every message, whatever the log level:
the copies were made and then thrown away, about 5% of the server's time
(benchmarks/TUNING.md). In the modules below `copy` serves only those log lines
(tests/unit/test_log_copies.py checks it against the installed Rasa), so they
get a `copy` whose deepcopy hands the value itself to the logger. The logger
renders a line at once when debug logging is on, so nothing it prints changes.
"""
from __future__ import annotations

import copy
import types
from typing import Any

import rasa.core.actions.forms
import rasa.core.policies.rule_policy
import rasa.core.processor

LOGGING_ONLY_COPIES = (rasa.core.processor, rasa.core.policies.rule_policy, rasa.core.actions.forms)


def _for_the_log(value: Any, memo: Any = None) -> Any:
    return value


NO_DEEP_COPY = types.SimpleNamespace(deepcopy=_for_the_log, copy=copy.copy)


def install() -> None:
    for module in LOGGING_ONLY_COPIES:
        module.copy = NO_DEEP_COPY  # type: ignore[attr-defined]


def uninstall() -> None:
    for module in LOGGING_ONLY_COPIES:
        module.copy = copy  # type: ignore[attr-defined]

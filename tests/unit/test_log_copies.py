"""addons/patches/log_copies.py is only safe while Rasa uses `copy` solely for debug log lines."""
from __future__ import annotations

import ast
import inspect

import pytest

from addons.patches import log_copies


def copy_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "copy":
            yield node


def log_call_arguments(tree: ast.AST) -> set:
    """ids of every expression passed to structlogger.<level>(...)."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "structlogger":
            for argument in [*node.args, *(k.value for k in node.keywords)]:
                inside |= {id(n) for n in ast.walk(argument)}
    return inside


@pytest.mark.parametrize("module", log_copies.LOGGING_ONLY_COPIES, ids=lambda m: m.__name__)
def test_every_copy_in_the_module_feeds_a_log_line(module) -> None:
    tree = ast.parse(inspect.getsource(module))
    calls = list(copy_calls(tree))
    assert calls, "the module no longer copies anything: drop it from LOGGING_ONLY_COPIES"
    logged = log_call_arguments(tree)
    outside = [ast.unparse(c) for c in calls if id(c) not in logged]
    assert not outside, f"copies used for more than logging: {outside}"


def test_installed_copy_returns_the_value_and_keeps_shallow_copies() -> None:
    log_copies.install()
    value = {"a": [1]}
    for module in log_copies.LOGGING_ONLY_COPIES:
        assert module.copy.deepcopy(value) is value
        assert module.copy.copy(value) == value and module.copy.copy(value) is not value

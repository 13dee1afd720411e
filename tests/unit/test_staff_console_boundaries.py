"""The staff console reads the core (clinic/) and the staff tools' shared module, never the
Rasa server's plug-ins (addons/) or the action server (actions/)."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT


def test_the_console_imports_neither_addons_nor_actions() -> None:
    imported = set()
    for path in Path(ROOT / "staff").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert "clinic" in imported
    assert not imported & {"addons", "actions", "rasa", "rasa_sdk"}

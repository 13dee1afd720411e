"""Print the domain responses that Python code sends by name, or that the data files it
reads name (`response:` in data/declines/), and the forms' words (domain/forms.yml), one
per line.

`rasa data validate` counts a response as used only when a story or rule names it, so it
warns about every response that an action or plug-in sends (`response="utter_..."`).
tools/validate.sh passes over those warnings for the names printed here, and still fails
on a response that nothing uses.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Iterator, Set

import yaml

ROOT = Path(__file__).resolve().parent.parent
CODE = ["actions", "addons", "clinic"]
DATA_READ_BY_CODE = ["data/declines"]
# Every response here is the form actions' to send; some by names they build
# (utter_invalid_<reason>), so tests/unit/test_form_copy.py checks each one is used.
SENT_BY_FORMS = "domain/forms.yml"


def string_constants(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def responses_named_in_data(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("response"), str):
            yield node["response"]
        for value in node.values():
            yield from responses_named_in_data(value)
    elif isinstance(node, list):
        for item in node:
            yield from responses_named_in_data(item)


def responses_used_by_code() -> Set[str]:
    in_code = {
        text for folder in CODE for path in sorted((ROOT / folder).rglob("*.py"))
        for text in string_constants(path) if text.startswith("utter_") and text.isidentifier()
    }
    in_data = {
        name for folder in DATA_READ_BY_CODE for path in sorted((ROOT / folder).rglob("*.yml"))
        for name in responses_named_in_data(yaml.safe_load(path.read_text(encoding="utf-8")))
    }
    by_forms = set(yaml.safe_load((ROOT / SENT_BY_FORMS).read_text(encoding="utf-8"))["responses"])
    return in_code | in_data | by_forms


if __name__ == "__main__":
    sys.stdout.write("".join(f"{name}\n" for name in sorted(responses_used_by_code())))

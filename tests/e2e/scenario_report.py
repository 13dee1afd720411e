"""Summarise a run of tests/e2e/test_scenarios.py (its JUnit XML) as Markdown.

    PYTHONPATH=$PWD .venv/bin/python -m pytest -q -p no:cacheprovider \
        tests/e2e/test_scenarios.py --junitxml=/tmp/scenarios.xml
    PYTHONPATH=$PWD .venv/bin/python -m tests.e2e.scenario_report /tmp/scenarios.xml "title" > report.md

Per category: scenarios, passed, failed, skipped, pass rate; then one line per
scenario with its purpose and, when it failed, the turn and first broken expectation.
"""
from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ElementTree
from collections import OrderedDict
from typing import Dict, List, Tuple

from tests.e2e.test_scenarios import SCENARIOS

ID = re.compile(r"test_scenario\[(?P<id>[^\]]+)\]")


def outcomes(junit_path: str) -> Dict[str, Tuple[str, str]]:
    """test id -> (passed|failed|skipped|error, first lines of the failure)."""
    found: Dict[str, Tuple[str, str]] = {}
    for case in ElementTree.parse(junit_path).getroot().iter("testcase"):
        match = ID.search(case.get("name", ""))
        if not match:
            continue
        status, detail = "passed", ""
        for tag in ("failure", "error", "skipped"):
            element = case.find(tag)
            if element is not None:
                status = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                detail = _why(element.text or element.get("message", ""))
                break
        found[match.group("id")] = (status, detail)
    return found


def _why(text: str) -> str:
    lines = [line.strip() for line in text.splitlines()]
    turn = next((line for line in lines if line.startswith("turn ")), "")
    expected = [line[len("expected -> "):] for line in lines if line.startswith("expected -> ")]
    if not turn:
        return next((line for line in lines if line), "")[:200]
    said = next((line[len("bot said: "):] for line in lines if line.startswith("bot said: ")), "")
    said = said if len(said) <= 160 else said[:157] + "..."
    return (f"{turn}; " + "; ".join(expected[:2]) + (" …" if len(expected) > 2 else "")
            + (f"\n  - bot said: {said}" if said else ""))


def render(junit_path: str, title: str) -> str:
    results = outcomes(junit_path)
    by_category: "OrderedDict[str, List]" = OrderedDict()
    for scenario in sorted(SCENARIOS, key=lambda s: s.category):  # file order within a category
        by_category.setdefault(scenario.category, []).append(scenario)
    out = [f"# {title}", "", "| category | scenarios | passed | failed | skipped | pass rate |", "|---|---|---|---|---|---|"]
    totals = [0, 0, 0, 0]
    for category, scenarios in by_category.items():
        states = [results.get(s.test_id, ("missing", ""))[0] for s in scenarios]
        passed, skipped = states.count("passed"), states.count("skipped")
        failed = len(states) - passed - skipped
        run = len(states) - skipped
        rate = f"{100 * passed / run:.0f}%" if run else "-"
        out.append(f"| {category} | {len(states)} | {passed} | {failed} | {skipped} | {rate} |")
        for i, value in enumerate((len(states), passed, failed, skipped)):
            totals[i] += value
    run = totals[0] - totals[3]
    out.append(f"| **all** | {totals[0]} | {totals[1]} | {totals[2]} | {totals[3]} | "
               f"{100 * totals[1] / run:.0f}% |" if run else "| **all** | 0 | 0 | 0 | 0 | - |")
    for category, scenarios in by_category.items():
        out += ["", f"## {category}", ""]
        for scenario in scenarios:
            status, detail = results.get(scenario.test_id, ("missing", ""))
            mark = {"passed": "PASS", "skipped": "SKIP"}.get(status, "FAIL" if status == "failed" else status.upper())
            line = f"- **{mark}** `{scenario.id}`: {scenario.purpose}"
            if detail and status != "passed":
                line += f"\n  - {detail}"
            out.append(line)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "Scenario run"))

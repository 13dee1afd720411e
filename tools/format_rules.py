"""Write a ConText rule file one rule a line, so a clinician reads it as a table.

    .venv/bin/python -m tools.format_rules data/red_flags/en/context.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

# Rules grouped by category, in the order a reader meets them in data/red_flags/README.md.
CATEGORY_ORDER = ("NEGATED_EXISTENCE", "RESOLVED", "PSEUDO", "TERMINATE", "ANXIETY", "MILD", "ACUTE", "ONGOING",
                  "HISTORICAL", "RECURRENCE", "HYPOTHETICAL", "ASKED_AFTER", "POSSIBLE_EXISTENCE", "FAMILY")
KEY_ORDER = ("literal", "category", "direction", "pattern", "max_scope", "allowed_types", "metadata")


def formatted(rules: list) -> str:
    lines = []
    rank = {category: i for i, category in enumerate(CATEGORY_ORDER)}
    for rule in sorted(rules, key=lambda r: rank.get(r["category"], len(rank))):
        ordered = {k: rule[k] for k in KEY_ORDER if k in rule}
        ordered.update({k: v for k, v in rule.items() if k not in ordered})
        lines.append("  " + json.dumps(ordered, ensure_ascii=False))
    return '{"context_rules": [\n' + ",\n".join(lines) + "\n]}\n"


def main(paths: list) -> int:
    for name in paths:
        path = Path(name)
        rules = json.loads(path.read_text(encoding="utf-8"))["context_rules"]
        path.write_text(formatted(rules), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

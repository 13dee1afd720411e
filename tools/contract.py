"""The project's copy of the product contract its tests check against (tests/contract.yml).

The contract lives outside the repository (../shared/product: the clinic's article,
its facts, the intent names). The tests must run in a fresh clone without it, so the
project keeps what they need, in its own form: the fact ids, which facts each FAQ
answer may use, the conversation intents, and fingerprints (not the words) of every
five-word run of the article, so an answer that copies the article is still caught.

    .venv/bin/python -m tools.contract ../shared/product     # rewrite tests/contract.yml
"""
from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path
from typing import Dict, List, Set

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "tests" / "contract.yml"
FACT_ID = re.compile(r"\bF\d+\b")
RUN = 5  # words in a run that counts as copying


def runs_of(text: str) -> Set[str]:
    """Every run of RUN words of a text, lower case, as used to detect copying."""
    words = re.findall(r"[a-z']+", text.lower())
    return {" ".join(words[i:i + RUN]) for i in range(len(words) - RUN + 1)}


def fingerprint(run: str) -> str:
    return hashlib.sha256(run.encode("utf-8")).hexdigest()[:16]


def _faq_facts(intents_md: str) -> Dict[str, List[str]]:
    rows = re.findall(r"^\| (faq/\w+) \|.*\| ([F\d ]+) \|$", intents_md, re.M)
    return {name: sorted(set(FACT_ID.findall(ids)), key=lambda f: int(f[1:])) for name, ids in rows}


def _conversation_intents(intents_md: str) -> List[str]:
    section = intents_md.split("## Conversation")[1].split("## Red flags")[0]
    names: Set[str] = set()
    for first_cell in re.findall(r"^\| ([a-z_, ]+) \|", section, re.M):
        names |= {n.strip() for n in first_cell.split(",") if n.strip() and n.strip() != "intent"}
    return sorted(names)


def build(product: Path) -> dict:
    intents_md = (product / "intents.md").read_text(encoding="utf-8")
    facts = sorted(set(FACT_ID.findall((product / "facts.md").read_text(encoding="utf-8"))),
                   key=lambda f: int(f[1:]))
    article = (product / "article.txt").read_text(encoding="utf-8")
    return {
        "fact_ids": facts,
        "faq_facts": _faq_facts(intents_md),
        "conversation_intents": _conversation_intents(intents_md),
        "article_run_fingerprints": sorted(fingerprint(r) for r in runs_of(article)),
    }


def main(argv: List[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    contract = build(Path(argv[0]))
    header = ("# The product contract as the tests use it; written by `python -m tools.contract "
              "<product dir>`\n# from ../shared/product (see tools/contract.py). Do not edit by hand.\n")
    CONTRACT.write_text(header + yaml.safe_dump(contract, sort_keys=False, width=100), encoding="utf-8")
    print(f"wrote {CONTRACT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

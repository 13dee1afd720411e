"""The assistant's knowledge stays tied to the clinic's approved facts."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Set

import pytest
import yaml

from clinic.languages import variation_language
from tools.contract import fingerprint, runs_of

ROOT = Path(__file__).resolve().parents[2]
# The project's copy of the product contract (tools/contract.py writes it from ../shared).
CONTRACT = yaml.safe_load((ROOT / "tests" / "contract.yml").read_text())
FACT_ID = re.compile(r"\bF\d+\b")


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def contract_faq_facts() -> Dict[str, Set[str]]:
    """faq/<name> -> the fact ids its answer may use."""
    return {name: set(ids) for name, ids in CONTRACT["faq_facts"].items()}


def contract_intents() -> Set[str]:
    return set(CONTRACT["conversation_intents"]) | {"faq"}


def faq_responses() -> Dict[str, List[dict]]:
    return load_yaml(ROOT / "data" / "responses" / "faq.yml")["responses"]


def project_facts() -> Dict[str, dict]:
    return load_yaml(ROOT / "data" / "facts.yml")["facts"]


def nlu_examples(path: Path) -> Dict[str, List[str]]:
    examples: Dict[str, List[str]] = {}
    for block in load_yaml(path).get("nlu", []):
        if "intent" in block:
            lines = [line[2:].strip() for line in block["examples"].splitlines() if line.startswith("- ")]
            examples.setdefault(block["intent"], []).extend(lines)
    return examples


def training_examples() -> Dict[str, List[str]]:
    merged: Dict[str, List[str]] = {}
    for path in sorted((ROOT / "data" / "nlu").rglob("*.yml")):  # data/nlu/es/ too
        for intent, lines in nlu_examples(path).items():
            merged.setdefault(intent, []).extend(lines)
    return merged


def test_project_facts_match_the_contract_ids() -> None:
    assert set(project_facts()) == set(CONTRACT["fact_ids"])
    for fact_id, fact in project_facts().items():
        assert fact["fact"].strip() and fact["section"].strip(), fact_id


def test_every_contract_intent_is_in_the_domain() -> None:
    from rasa.shared.importers.importer import TrainingDataImporter

    importer = TrainingDataImporter.load_from_config(
        str(ROOT / "config.yml"), str(ROOT / "domain"), [str(ROOT / "data")]
    )
    domain_intents = set(importer.get_domain().intents)
    assert contract_intents() - domain_intents == set()
    assert {"greet", "book_appointment", "medical_emergency", "out_of_scope"} <= contract_intents()


@pytest.mark.parametrize("faq_intent", sorted(contract_faq_facts()))
def test_each_faq_answer_cites_exactly_its_contract_facts(faq_intent: str) -> None:
    variations = faq_responses().get(f"utter_{faq_intent}")
    assert variations, f"no answer for {faq_intent}"
    for variation in variations:
        cited = set((variation.get("metadata") or {}).get("facts") or [])
        assert cited, f"{faq_intent} names no fact"
        assert cited <= set(project_facts()), f"{faq_intent} names unknown facts {cited - set(project_facts())}"
        assert cited == contract_faq_facts()[faq_intent]


def test_no_answer_without_a_contract_intent() -> None:
    answered = {name.removeprefix("utter_") for name in faq_responses()}
    assert answered == set(contract_faq_facts())


# The next steps every FAQ answer offers, in each reply language (its `language` variation).
FAQ_BUTTON_TITLES = {"en": ["Book a consultation", "Ask another question"],
                     "es": ["Agendar una consulta", "Hacer otra pregunta"]}


@pytest.mark.parametrize("name", sorted(faq_responses()))
def test_faq_answers_are_short_and_plain(name: str) -> None:
    for variation in faq_responses()[name]:
        text = variation["text"]
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s]
        assert 1 <= len(sentences) <= 3, text
        words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text)  # letters of any language ("válvulas")
        assert len(words) <= 45, text
        # Short words and sentences: about what a 13-year-old reads easily.
        assert sum(len(w) for w in words) / len(words) < 5.6, text
        titles = [b["title"] for b in variation.get("buttons", [])]
        assert titles == FAQ_BUTTON_TITLES[variation_language(variation)]


def test_answers_never_copy_the_article_wording() -> None:
    article_runs = set(CONTRACT["article_run_fingerprints"])
    for name, variations in faq_responses().items():
        for variation in variations:
            copied = {run for run in runs_of(variation["text"]) if fingerprint(run) in article_runs}
            assert not copied, f"{name} copies the article: {copied}"


def test_the_copy_test_catches_a_copied_sentence() -> None:
    # Five words in a row from the first sentence of the clinic's article.
    assert any(fingerprint(run) in set(CONTRACT["article_run_fingerprints"]) for run in
               runs_of("web-like veins that show up on the outer layer"))


def test_enough_varied_training_examples() -> None:
    examples = training_examples()
    for faq_intent in contract_faq_facts():
        assert len(set(examples.get(faq_intent, []))) >= 30, faq_intent
    assert len(set(examples.get("out_of_scope", []))) >= 100


def test_held_out_set_is_big_enough_and_never_trained_on() -> None:
    held_out = nlu_examples(ROOT / "tests" / "nlu" / "heldout.yml")
    for faq_intent in contract_faq_facts():
        assert len(held_out.get(faq_intent, [])) >= 10, faq_intent
    assert len(held_out.get("out_of_scope", [])) >= 40
    trained = {t.lower().strip() for lines in training_examples().values() for t in lines}
    leaked = {t for lines in held_out.values() for t in lines if t.lower().strip() in trained}
    assert not leaked, f"held-out examples found in training data: {sorted(leaked)[:10]}"


@pytest.mark.parametrize("held_out_file", sorted((ROOT / "tests" / "nlu").glob("*.yml")), ids=lambda p: p.name)
def test_no_held_out_example_is_trained_on(held_out_file) -> None:
    held_out = nlu_examples(held_out_file)
    trained = {t.lower().strip() for lines in training_examples().values() for t in lines}
    leaked = {t for lines in held_out.values() for t in lines if t.lower().strip() in trained}
    assert not leaked, f"{held_out_file.name} examples found in training data: {sorted(leaked)[:10]}"

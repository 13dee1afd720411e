"""The forms' words (domain/forms.yml) and the actions that use them.

Rasa's validator sees only responses named in rules and stories; these checks do
the same for the responses the form actions dispatch, in both directions.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Set

import pytest
import yaml

from actions import forms
from actions.parsers import Invalid
from actions.parsers import answers

ROOT = Path(__file__).resolve().parents[2]
COPY = yaml.safe_load((ROOT / "domain" / "forms.yml").read_text(encoding="utf-8"))["responses"]
DOMAIN = yaml.safe_load((ROOT / "domain" / "domain.yml").read_text(encoding="utf-8"))
ACTION_SOURCES = [ROOT / "actions" / "forms.py", ROOT / "actions" / "booking.py"]
PARSER_SOURCES = sorted((ROOT / "actions" / "parsers").glob("*.py"))


def _source(paths: list) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in paths)


def named_by_actions() -> Set[str]:
    """Every response an action can dispatch."""
    actions = _source(ACTION_SOURCES)
    found = set(re.findall(r'"(utter_[a-z_]+)"', actions))  # each name written out in full
    reasons = set(re.findall(r'Invalid\(\s*"(\w+)"', _source(PARSER_SOURCES) + actions))
    reasons |= set(re.findall(r'field_miss_response = "(\w+)"', actions))
    found |= {f"utter_invalid_{reason}" for reason in reasons}
    found |= {f"utter_invalid_{reason}" for reason in re.findall(r'"(phone_\w+)"', _source(PARSER_SOURCES))}
    found |= {f"utter_changed_{field}" for field in forms.FIELDS}
    found |= {f"utter_consent_{topic}" for topic, _ in answers.CONSENT_TOPICS}
    return found


def asked_by_forms() -> Set[str]:
    """utter_ask_<slot> and utter_ask_<form>_<slot> for the forms' slots without an ask action."""
    asked = set()
    for form, spec in DOMAIN["forms"].items():
        for slot in spec["required_slots"]:
            if f"action_ask_{slot}" not in DOMAIN["actions"]:
                asked |= {f"utter_ask_{slot}", f"utter_ask_{form}_{slot}"}
    return asked


def test_every_response_an_action_names_exists() -> None:
    assert named_by_actions() - set(COPY) == set()


def test_every_response_in_forms_yml_is_used() -> None:
    assert set(COPY) - named_by_actions() - asked_by_forms() == set()


def test_every_question_of_a_form_has_its_words() -> None:
    for form, spec in DOMAIN["forms"].items():
        for slot in spec["required_slots"]:
            assert (f"action_ask_{slot}" in DOMAIN["actions"] or f"utter_ask_{slot}" in COPY
                    or f"utter_ask_{form}_{slot}" in COPY), (form, slot)


def test_no_patient_facing_sentence_is_left_in_the_actions() -> None:
    # dispatcher.utter_message(text=...) would bypass domain/forms.yml.
    assert "utter_message(text=" not in _source(ACTION_SOURCES)


def test_consent_text_is_pinned_to_its_version() -> None:
    """Patients agreed to the exact text of a version, in their language: a changed text
    needs a new version."""
    digests = {}
    for variation in COPY["utter_ask_contact_consent"]:
        language = forms._language_of_variation(variation)
        digests[forms.consent_version(language)] = hashlib.sha256(variation["text"].encode()).hexdigest()
    assert digests == {
        "2026-11-v1": "574bb14a5c128ff7057540361d32add826e8546d3a8ce75df77e05e3f942ed7c",
        "2026-11-v1/es": "ea93eb46fa46073c6422d38b0933088710b3cecae9d70aff9e7b06474cd7c17a",
    }, "The consent text changed: give it a new CONSENT_VERSION and pin the new text here."


def test_the_labels_shown_back_are_the_button_titles() -> None:
    assert forms.method_label("sms") == "text message"
    assert forms.reason_label("follow_up") == "Follow-up visit"


# --- Both languages ---------------------------------------------------------------------------
SPANISH_CONDITION = [{"type": "slot", "name": "language", "value": "es"}]


def _placeholders(text: str) -> Set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def _by_language(name: str) -> dict:
    return {forms._language_of_variation(v): v for v in COPY[name]}


def test_every_response_has_one_english_and_one_spanish_variation() -> None:
    for name, variations in COPY.items():
        assert [v.get("condition") for v in variations] == [None, SPANISH_CONDITION], name


def _shape(payload: str) -> str:
    """An intent ("/affirm") or a placeholder ("{number_e164}") as it is; words as "words"."""
    return payload if payload.startswith(("/", "{")) else "words"


@pytest.mark.parametrize("name", sorted(COPY))
def test_the_spanish_variation_has_the_same_values_and_buttons(name: str) -> None:
    english, spanish = _by_language(name)["en"], _by_language(name)["es"]
    assert _placeholders(spanish["text"]) == _placeholders(english["text"])
    english_buttons, spanish_buttons = english.get("buttons", []), spanish.get("buttons", [])
    assert [_shape(b["payload"]) for b in spanish_buttons] == [_shape(b["payload"]) for b in english_buttons]
    for ours, theirs in zip(spanish_buttons, english_buttons):
        if _shape(theirs["payload"]) == "words":  # the patient's words, in Spanish
            assert ours["payload"] != theirs["payload"], ours
        else:
            assert ours["payload"] == theirs["payload"], ours
    titles = [b["title"] for b in spanish_buttons]
    assert titles != [b["title"] for b in english_buttons] or titles in ([], ["No"])


def test_each_spanish_button_sends_words_read_as_the_english_buttons_words() -> None:
    """Clicking a Spanish button fills the slot as clicking its English twin does."""
    readers = {"utter_ask_contact_method": answers.parse_method, "utter_ask_visit_reason": answers.parse_reason,
               "utter_ask_field_to_change": answers.field_named,
               "utter_ask_callback_form_field_to_change": answers.field_named,
               "utter_ask_callback_topic": lambda text: bool(forms.SKIP.search(text))}
    for name, read in readers.items():
        pairs = zip(_by_language(name)["es"]["buttons"], _by_language(name)["en"]["buttons"])
        for ours, theirs in pairs:
            meaning = read(theirs["payload"])
            assert meaning not in (None, False) and not isinstance(meaning, Invalid), (name, theirs)
            assert read(ours["payload"]) == meaning, (name, ours)


def test_the_spanish_labels_read_as_what_they_label() -> None:
    # The summary's contact and reason words are the Spanish button titles, read back by the parsers.
    assert forms.method_label("sms", "es") == "mensaje de texto"
    assert forms.reason_label("follow_up", "es") == "Visita de control"
    for method in ("phone", "sms", "email"):
        assert answers.parse_method(forms.method_label(method, "es")) == method
    for reason in ("spider_vein_consultation", "sclerotherapy_treatment", "follow_up", "other"):
        assert answers.parse_reason(forms.reason_label(reason, "es")) == reason


def test_the_spanish_change_buttons_name_their_field() -> None:
    for name in ("utter_ask_field_to_change", "utter_ask_callback_form_field_to_change"):
        for button in _by_language(name)["es"]["buttons"]:
            assert answers.field_named(button["title"]) == answers.field_named(button["payload"]), button

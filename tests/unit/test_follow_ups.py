"""Follow-ups without a topic of their own are answered against the last FAQ answer; any
other reply in between ends the context."""
from __future__ import annotations

from typing import Dict, List

import pytest
import yaml

from actions.follow_ups import NO_CONTEXT, NO_MORE, answer_for, follow_ups, kind_of, last_topic
from tests.responses import ROOT


def _bot(response: str) -> Dict:
    return {"event": "bot", "metadata": {"utter_action": response}}


def _user(text: str) -> Dict:
    return {"event": "user", "text": text}


@pytest.mark.parametrize("text, kind", [
    ("tell me more", "more"), ("go on", "more"), ("why?", "why"), ("how come", "why"),
    ("what about afterwards?", "afterwards"), ("and after that?", "afterwards"), ("and then what", "afterwards"),
])
def test_the_kind_of_follow_up(text: str, kind: str) -> None:
    assert kind_of(text) == kind


def test_the_context_is_the_last_answer_and_only_if_it_was_an_faq_answer() -> None:
    events: List[Dict] = [_user("does it hurt"), _bot("utter_faq/discomfort"), _user("what about afterwards?")]
    assert last_topic(events) == "discomfort"
    assert answer_for(last_topic(events), "afterwards") == "utter_faq/downtime"
    changed = [_user("does it hurt"), _bot("utter_faq/discomfort"), _user("hi"), _bot("utter_greet"), _user("why?")]
    assert answer_for(last_topic(changed), "why") == NO_CONTEXT


def test_a_follow_up_the_facts_cannot_answer_says_so() -> None:
    assert answer_for("causes", "why") == NO_MORE


def test_every_follow_up_names_faq_answers_that_exist() -> None:
    answers = yaml.safe_load((ROOT / "data" / "responses" / "faq.yml").read_text())["responses"]
    topics = {name.split("/", 1)[1] for name in answers}
    assert set(follow_ups()) == topics
    for topic, targets in follow_ups().items():
        assert set(targets) <= {"more", "why", "afterwards"}, topic
        assert set(targets.values()) <= topics, topic

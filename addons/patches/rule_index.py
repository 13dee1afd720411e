"""RulePolicy checks only the rules whose last turn can follow the conversation's last action.

Rasa 3.6's `RulePolicy._get_possible_keys` starts from every memorised rule and checks each
against the conversation's last state on every prediction (2-4 a message). The first check
of a rule that names a previous action fails unless it is the conversation's previous action
(`_does_rule_match_state`: a value a rule sets must be equal), so here the rules are grouped
once by the previous action their last state names, and the first check starts from the
group of the conversation's previous action plus the rules that name none. The same keys
survive as without the index; only rules that would fail the first check are skipped.
With the clinic's details, declines, follow-ups and the forms the model has about 150 rules,
and this first pass was most of the policy's time.
"""
from __future__ import annotations

from typing import Any, Dict, FrozenSet, List, Optional, Set, Text

from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.constants import PREVIOUS_ACTION
from rasa.shared.nlu.constants import ACTION_NAME

_original_get_possible_keys = RulePolicy._get_possible_keys
_INDEXES = "_clinic_rule_indexes"  # on the policy: id(lookup) -> (size, index)
UNNAMED = None  # the group of rules whose last state names no previous action


def _named_previous_action(policy: RulePolicy, rule_key: Text) -> Optional[Text]:
    last_state = policy._rule_key_to_state(rule_key)[-1]
    name = (last_state.get(PREVIOUS_ACTION) or {}).get(ACTION_NAME)
    return name if isinstance(name, str) and name else UNNAMED


def _index(policy: RulePolicy, lookup: Dict[Text, Any]) -> Dict[Optional[Text], FrozenSet[Text]]:
    indexes = policy.__dict__.setdefault(_INDEXES, {})
    cached = indexes.get(id(lookup))
    if cached is not None and cached[0] == len(lookup):
        return cached[1]
    groups: Dict[Optional[Text], Set[Text]] = {UNNAMED: set()}
    for rule_key in lookup:
        groups.setdefault(_named_previous_action(policy, rule_key), set()).add(rule_key)
    index = {name: frozenset(keys) for name, keys in groups.items()}
    indexes[id(lookup)] = (len(lookup), index)
    return index


def _get_possible_keys(self: RulePolicy, lookup: Dict[Text, Any], states: List[Dict[Text, Any]]) -> Set[Text]:
    if not states:
        return _original_get_possible_keys(self, lookup, states)
    index = _index(self, lookup)
    previous_action = (states[-1].get(PREVIOUS_ACTION) or {}).get(ACTION_NAME)
    possible_keys: Set[Text] = set(index[UNNAMED]) | index.get(previous_action, frozenset())
    for turn, state in enumerate(reversed(states)):
        possible_keys = {key for key in possible_keys if self._is_rule_applicable(key, turn, state)}
    return possible_keys


def install() -> None:
    RulePolicy._get_possible_keys = _get_possible_keys  # type: ignore[method-assign]


def uninstall() -> None:
    RulePolicy._get_possible_keys = _original_get_possible_keys  # type: ignore[method-assign]

"""Reading patients' answers: plain functions from text to a value or a reason.

No Rasa here: actions/forms.py turns a result into slots, and an `Invalid`
reason into the response `utter_invalid_<reason>` of domain/forms.yml.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Union


@dataclass(frozen=True)
class Invalid:
    """Not a usable answer.

    `reason` names the reply (utter_invalid_<reason> in domain/forms.yml) and
    `values` fills its {placeholders}. `attempt`: the text clearly tried to
    answer (digits for a phone, an @ for an email, a date), so it is a miss even
    when the intent classifier took it for something else.
    """

    reason: str
    values: Mapping[str, str] = field(default_factory=dict)
    attempt: bool = False


Parsed = Union[Dict[str, Any], Invalid]

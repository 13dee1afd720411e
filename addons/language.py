"""The conversation's language inside the Rasa server: the last NLU component.

`ConversationLanguage` is the one place that sets the `language` entity, which fills
the slot `language` (from_entity) that every bilingual response is conditioned on.
It emits the entity only when a message is evidence enough (clinic/language.py), so
otherwise the slot keeps its value: the conversation keeps its language.

- A request for a language ("English please", "en español", "habla español?"), or the
  classifier's `set_language` on a short message naming one, becomes the intent
  `set_language` with that language; the rule in data/rules/language.yml confirms it
  in the new language. The widget's toggle sends `/set_language{"language":"es"}`,
  which Rasa's payload parser turns into the same intent and entity.
- An emergency or safety-net message the red-flag rules found (the screen, just before,
  leaves their language on the message) gets the language its words are in, so the
  emergency reply is in it; the classifier's alarm alone follows the ordinary rule.
- Any other message: the language only when confidently detected on three or more
  words without the other language's grammar words.

Button payloads ("/...") are left alone: they carry their intent and entities.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES, INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from addons.red_flags import ALARM_INTENTS, ALARM_LANGUAGE
from clinic.language import detector, language_to_set, named_language, requested_language, words_of

LANGUAGE_ENTITY = "language"
SET_LANGUAGE_INTENT = "set_language"


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR],
    is_trainable=False,
)
class ConversationLanguage(GraphComponent):
    """Sets the `language` entity when a message gives reason to; after the red-flag screen."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # The classifier's set_language counts as a request only on a message this short
        # that names one language ("can we do this in spanish"): "sorry my english is bad,
        # what are spider veins" names English too, and is a question.
        return {"max_classified_request_words": 8}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.config = {**self.get_default_config(), **config}
        detector()  # lingua's models load with the model, not on a patient's first message

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "ConversationLanguage":
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text or text.startswith("/"):
                continue
            intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            alarm = intent in ALARM_INTENTS
            requested = None if alarm else self._requested(text, intent)
            if requested:
                _set_intent(message, SET_LANGUAGE_INTENT)
                _set_language(message, requested)
            else:
                _set_language(message, language_to_set(text, message.get(ALARM_LANGUAGE) if alarm else None))
        return messages

    def _requested(self, text: str, intent: Optional[str]) -> Optional[str]:
        requested = requested_language(text)
        if requested is None and intent == SET_LANGUAGE_INTENT \
                and len(words_of(text)) <= self.config["max_classified_request_words"]:
            requested = named_language(text)
        return requested


def _set_intent(message: Message, intent: str) -> None:
    chosen = {INTENT_NAME_KEY: intent, PREDICTED_CONFIDENCE_KEY: 1.0}
    ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != intent]
    message.set(INTENT, chosen, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [chosen, *ranking], add_to_output=True)


def _set_language(message: Message, language: Optional[str]) -> None:
    """The message's `language` entity: this one, or none (the slot keeps its value)."""
    entities = [e for e in message.get(ENTITIES) or [] if e.get("entity") != LANGUAGE_ENTITY]
    if language:
        entities.append({"entity": LANGUAGE_ENTITY, "value": language, "start": 0, "end": 0,
                         "confidence_entity": 1.0, "extractor": ConversationLanguage.__name__})
    message.set(ENTITIES, entities, add_to_output=True)

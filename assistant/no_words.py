"""A message without a single letter or digit ("???", "😢😢😢", "...") is not understood.

DIET has no features for such a text and still answers with some intent: "😢😢😢" was
``goodbye`` ("Tot ziens"), "???" ``bot_challenge``. This classifier, last in the
pipeline, makes it ``nlu_fallback`` with certainty, so the counsellor gets the
not-understood reply (or, inside a protocol, the question explained again), never a
reply to something that was not said. Any text with a word or number is left alone.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message


def has_no_words(text: str | None) -> bool:
    """No letter and no digit in any script: punctuation, emoji and white space only."""
    return not any(character.isalnum() for character in text or "")


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class NoWordsFallback(GraphComponent):
    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> NoWordsFallback:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if has_no_words(message.get(TEXT)):
                fallback = {INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME, PREDICTED_CONFIDENCE_KEY: 1.0}
                ranking = [r for r in message.get(INTENT_RANKING_KEY) or []
                           if r.get(INTENT_NAME_KEY) != DEFAULT_NLU_FALLBACK_INTENT_NAME]
                message.set(INTENT, fallback, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [fallback, *ranking], add_to_output=True)
        return messages

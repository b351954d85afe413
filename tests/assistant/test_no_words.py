"""A message without a letter or a digit is nlu_fallback (assistant/no_words.py):
the component on its own, and in the trained model that CI serves."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa.shared.nlu.training_data.message import Message

from assistant.no_words import NoWordsFallback, has_no_words

NO_WORDS = ["???", "😢😢😢", "...", "!", "👍", "   ", ":-("]
WORDS = ["ja", "112", "2", "زوجها يضربها", "ok?", "hallo!"]


@pytest.mark.parametrize("text", NO_WORDS)
def test_no_words(text: str) -> None:
    assert has_no_words(text)


@pytest.mark.parametrize("text", WORDS)
def test_a_word_or_number_in_any_script(text: str) -> None:
    assert not has_no_words(text)


def test_the_guess_becomes_nlu_fallback_and_a_word_keeps_its_intent() -> None:
    guessed = {"name": "goodbye", "confidence": 0.93}
    crying = Message(data={"text": "😢😢😢", "intent": guessed, "intent_ranking": [guessed]})
    yes = Message(data={"text": "ja", "intent": {"name": "affirm", "confidence": 0.99}})
    NoWordsFallback().process([crying, yes])
    assert crying.get("intent") == {"name": "nlu_fallback", "confidence": 1.0}
    assert [r["name"] for r in crying.get("intent_ranking")] == ["nlu_fallback", "goodbye"]
    assert yes.get("intent") == {"name": "affirm", "confidence": 0.99}


def test_the_trained_model_does_not_understand_what_has_no_words(agent: Any) -> None:
    async def parse(texts: list[str]) -> list[str]:
        return [(await agent.parse_message(text))["intent"]["name"] for text in texts]

    assert asyncio.run(parse(["???", "😢😢😢", "..."])) == ["nlu_fallback"] * 3
    assert asyncio.run(parse(["ja", "hallo"])) == ["affirm", "greet"]

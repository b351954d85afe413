"""assistant.server: the action server's answer is validated as Rasa does it, with a
validator built once (bench/results.md: `jsonschema.validate` re-checked the schema
against the metaschema on every action call)."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from assistant import server

VALID = {"events": [{"event": "slot", "name": "x", "value": 1, "timestamp": None}],
         "responses": [{"text": "hoi", "buttons": [{"title": "Ja", "payload": "/ja"}]}]}
INVALID = [{"events": "nope"}, {"events": [{"event": 5}]}, {"responses": [{"text": 3}]},
           {"events": [{"name": "x"}]}]


def _outcome(validate, result):
    action = RemoteAction.__new__(RemoteAction)
    try:
        return validate(action, result)
    except ValidationError as error:
        return ("rejected", error.message, list(error.path))


@pytest.fixture
def patched(monkeypatch):
    original = RemoteAction._validate_action_result
    monkeypatch.setattr(RemoteAction, "_validate_action_result", original)
    server._cached_action_result_validation()
    return original, RemoteAction._validate_action_result


@pytest.mark.parametrize("result", [VALID, *INVALID])
def test_same_verdict_and_message_as_rasa(patched, result):
    original, cached = patched
    assert cached is not original
    assert _outcome(cached, result) == _outcome(original, result)


def test_invalid_answer_still_rejected(patched):
    _, cached = patched
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        cached(RemoteAction.__new__(RemoteAction), {"events": "nope"})

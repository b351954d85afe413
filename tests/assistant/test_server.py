"""assistant.server: the action server's answer is validated as Rasa does it, with a
validator built once (bench/results.md: `jsonschema.validate` re-checked the schema
against the metaschema on every action call)."""

from __future__ import annotations

import asyncio
import gc

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


def sdk_events() -> list[dict]:
    """One event of every kind rasa_sdk can send, as the action server sends it."""
    from datetime import datetime

    from rasa_sdk import events as e

    return [
        e.ActionExecuted("action_x", policy="p", confidence=0.9, timestamp=1.0), e.ActionExecutionRejected("action_x"),
        e.ActionReverted(), e.ActiveLoop("protocol_form"), e.ActiveLoop(None), e.AgentUttered("hoi", {"x": 1}),
        e.AllSlotsReset(), e.BotUttered("hoi", {"buttons": []}, {"m": 1}), e.ConversationPaused(),
        e.ConversationResumed(), e.FollowupAction("action_x"), e.Form("protocol_form"), e.Form(None),
        e.FormValidation(False), e.LoopInterrupted(True), e.ReminderCancelled("r", "i", [{"entity": "a", "value": 1}]),
        e.ReminderScheduled("i", datetime(2026, 12, 6, 12, 0), name="r"), e.Restarted(), e.SessionStarted(),
        e.SlotSet("protocol_answers", [{"step": "a", "answer": "ja"}]), e.SlotSet("misses", 1.0), e.SlotSet("x"),
        e.StoryExported(), e.UserUtteranceReverted(),
        e.UserUttered("ja", {"intent": {"name": "affirm", "confidence": 1.0}, "entities": []}, input_channel="rest"),
    ]


def wrong_events() -> list:
    """Events Rasa's schema rejects, or might: every property of every kind given values of
    the wrong type, unknown kinds, no kind, and things that are not events at all."""
    item = RemoteAction.action_response_format_spec()["properties"]["events"]["items"]
    found: list = [{}, {"event": "onbekend"}, {"event": 5}, {"event": None}, "slot", 3, None, [],
                   {"event": ["slot"]}, {"event": {"const": "slot"}}]
    for branch in item["oneOf"]:
        kind = branch["properties"]["event"]["const"]
        for name in [*branch["properties"], "timestamp", "metadata"]:
            if name != "event":
                found += [{"event": kind, name: wrong} for wrong in (5, 2.5, "x", None, True, [], [1], {}, {"a": 1})]
    return found


def test_every_event_the_sdk_sends_is_checked_per_kind_and_accepted():
    """The fast path is taken for real answers (else the speed-up is silently gone)."""
    from jsonschema import validators

    schema = RemoteAction.action_response_format_spec()
    shown_valid = server._fast_action_result_check(schema, validators.validator_for(schema))
    answer = {"events": sdk_events(), "responses": VALID["responses"]}
    assert validators.validator_for(schema)(schema).is_valid(answer)
    assert shown_valid(answer)


def test_the_per_kind_check_never_accepts_what_the_whole_schema_rejects():
    from jsonschema import validators

    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    full, shown_valid = cls(schema), server._fast_action_result_check(schema, cls)
    answers = [{"events": [event]} for event in [*wrong_events(), *sdk_events()]]
    answers += [{"events": [*sdk_events(), event]} for event in wrong_events()[:40]]
    answers += [{"events": {"event": "slot"}}, {"responses": "x"}, {"responses": [3]}, [], "x"]
    disagreements = [answer for answer in answers if shown_valid(answer) and not full.is_valid(answer)]
    assert disagreements == []
    # Both verdicts occur among these, and each valid one is shown valid by the fast path.
    assert {full.is_valid(answer) for answer in answers} == {True, False}
    assert [a for a in answers if full.is_valid(a) and not shown_valid(a)] == []


@pytest.mark.parametrize("result", [{"events": [event]} for event in wrong_events()[::25]])
def test_a_wrong_event_gets_the_same_verdict_and_message_as_rasa(patched, result):
    original, cached = patched
    assert _outcome(cached, result) == _outcome(original, result)


# --------------------------------------------------------------------------- payloads without NLU

#: Every payload the assistant's buttons send, typed variants, and texts that must still go
#: through the whole pipeline (typed Dutch, an unknown intent, a broken payload).
PARSED_TEXTS = [
    "/affirm", "/deny", '/kies{"keuze": "later"}', '/kies{"keuze": "ja"}', "/melding_eergerelateerd_geweld",
    "/acuut_gevaar", "  /deny  ", "/affirm@0.4", '/kies{"keuze": "x"}toegevoegd', '/kies{"onbekend": "x"}',
    "/onbekende_intent", "/", "/affirm{geen json", "/ hallo", "ja", "hallo, ik wil iets melden",
    "een bewoonster wordt door haar broer bedreigd omdat ze niet wil trouwen",
]


def domain_payloads(domain) -> list[str]:
    return sorted({button["payload"] for variants in domain.responses.values() for variant in variants
                   for button in variant.get("buttons") or []})


@pytest.fixture
def payload_parsing(monkeypatch):
    from rasa.core.processor import MessageProcessor

    original = MessageProcessor._parse_message_with_graph
    monkeypatch.setattr(MessageProcessor, "_parse_message_with_graph", original)
    server._intent_payloads_without_nlu()
    return original, MessageProcessor._parse_message_with_graph


def _parse(parse, processor, text: str) -> dict:
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.core.trackers import DialogueStateTracker

    message = UserMessage(text, sender_id="test-server")
    return parse(processor, message, DialogueStateTracker.from_events("test-server", []))


def test_a_payload_parses_as_the_whole_pipeline_parses_it(agent, payload_parsing):
    original, patched = payload_parsing
    texts = [*domain_payloads(agent.processor.domain), *PARSED_TEXTS]
    assert len(texts) > len(PARSED_TEXTS) + 5, "the domain's buttons should be among the payloads"
    for text in texts:
        assert _parse(patched, agent.processor, text) == _parse(original, agent.processor, text), text


def test_only_typed_text_runs_the_nlu_pipeline(agent, payload_parsing, monkeypatch):
    _, patched = payload_parsing
    runner = agent.processor.graph_runner
    runs = []
    real_run = runner.run
    monkeypatch.setattr(runner, "run", lambda *args, **kwargs: runs.append(1) or real_run(*args, **kwargs))
    # "/affirm{geen json" unpacks as affirm, as Rasa's own handler does (the test above).
    for text in ("/affirm", '/kies{"keuze": "later"}', "/melding_mensenhandel", "/affirm{geen json"):
        assert _parse(patched, agent.processor, text)["intent"]["confidence"] == 1.0
    assert runs == []
    for text in ("ja", "/onbekende_intent", "/ hallo"):
        _parse(patched, agent.processor, text)
    assert len(runs) == 3


# --------------------------------------------------------------------------- garbage collection


def test_what_the_model_load_leaves_is_kept_out_of_garbage_collection(monkeypatch):
    """A full collection walked the loaded model, TensorFlow and spaCy (~650,000 objects,
    ~0.3 s with the GIL held) in the middle of a turn; frozen, the collector skips them."""
    import rasa.core.run

    calls = []

    async def load(*args, **kwargs):
        model = {"weights": [[0.5] for _ in range(3)]}  # containers the collector tracks
        calls.append((args, kwargs, model))
        return model

    monkeypatch.setattr(rasa.core.run, "load_agent_on_start", load)
    server._freeze_after_model_load()
    assert rasa.core.run.load_agent_on_start is not load
    agent = asyncio.run(rasa.core.run.load_agent_on_start("models/x.tar.gz", None, None, app="app", loop=None))
    assert calls == [(("models/x.tar.gz", None, None), {"app": "app", "loop": None}, agent)]
    tracked = gc.get_objects()
    assert not any(o is agent or o is agent["weights"] or o is agent["weights"][0] for o in tracked)
    later = {"after": [1]}  # what a turn makes is still collected as before
    assert any(o is later for o in gc.get_objects())

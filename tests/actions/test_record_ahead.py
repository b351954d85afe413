"""The decision is written while Rasa completes the form (``record_actions.record_ahead``).

The last answer's validation starts the write; ``action_record_decision``, Rasa's next
call in the same turn, then finds it delivered or waits for it, and never sends a second
one. One decision, one incident, one reference: the two calls must build the same
payload, so they must agree on the idempotency key.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rasa_sdk import FormValidationAction
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import ActionRecordDecision, ValidateProtocolForm
from tests.actions.conftest import FakeApi
from tests.actions.helpers import DOMAIN, action_event, form_tracker, make_tracker, run, run_validation, texts
from tests.actions.test_record_actions import ANSWERS

EGG = "eergerelateerd_geweld"
#: The protocol's answers up to its last question, veilige_opvang (answered "nee" below).
BEFORE_LAST = ANSWERS[:-1]
AT_LAST_QUESTION = {"protocol": EGG, "protocol_step": "veilige_opvang", "protocol_answers": BEFORE_LAST,
                    "acute": True, "location": "TERAPEL", "misses": 0.0}
STARTED = [action_event("action_start_protocol", 42.5)]
META = {"location": "TERAPEL"}


def last_answer() -> Any:
    """Rasa's call to validate_protocol_form with the answer to the protocol's last question."""
    return form_tracker(requested="protocol_answer", candidates={"protocol_answer": "nee"},
                        slots=AT_LAST_QUESTION, text="nee", intent="deny", events_before=STARTED, metadata=META)


def record_tracker(validation_events: list[dict[str, Any]]) -> Any:
    """Rasa's next call, action_record_decision, with the slots the validation set (as JSON)."""
    slots = json.loads(json.dumps({**AT_LAST_QUESTION, **{e["name"]: e["value"] for e in validation_events
                                                          if e.get("event") == "slot"}}))
    return make_tracker(text="nee", intent="deny", slots=slots, metadata=META, events_before=STARTED)


def incident_posts(api: FakeApi) -> list[dict[str, Any]]:
    return [r["body"] for r in api.requests if r["method"] == "POST" and r["path"] == "/api/v1/incidents"]


def test_the_last_answer_writes_the_decision_and_the_record_action_adds_nothing(fake_api: FakeApi) -> None:
    validation_events, _ = run_validation(ValidateProtocolForm(), last_answer())
    assert {"event": "slot", "timestamp": None, "name": "protocol_answer", "value": "klaar"} in validation_events
    (written,) = incident_posts(fake_api)
    assert written["outcome"] == "melding_veilig_thuis_acuut"
    assert written["steps"] == [*BEFORE_LAST, {"step": "veilige_opvang", "answer": "nee"}]

    events, messages = run(ActionRecordDecision(), record_tracker(validation_events))
    assert events[0] == SlotSet("incident_reference", "EGG-20261129-0001")
    assert texts(messages)[-1] == "Referentie van het vastgelegde besluit: EGG-20261129-0001"
    assert len(incident_posts(fake_api)) == 1, "action_record_decision posted the decision a second time"
    assert len(fake_api.incidents) == 1


def test_the_record_action_waits_for_the_write_in_flight(fake_api: FakeApi) -> None:
    """As in the action server: both calls on one event loop, the API slow to answer."""
    fake_api.delay = 0.3

    async def turn() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        validation_events = await FormValidationAction.run(
            ValidateProtocolForm(), CollectingDispatcher(), last_answer(), DOMAIN)
        dispatcher = CollectingDispatcher()
        events = await ActionRecordDecision().run(dispatcher, record_tracker(validation_events), DOMAIN)
        return events, dispatcher.messages

    events, messages = asyncio.run(turn())
    assert events[0] == SlotSet("incident_reference", "EGG-20261129-0001")
    assert texts(messages)[-1] == "Referentie van het vastgelegde besluit: EGG-20261129-0001"
    assert len(incident_posts(fake_api)) == 1


def test_an_answer_that_does_not_finish_the_protocol_writes_nothing(fake_api: FakeApi) -> None:
    slots = {**AT_LAST_QUESTION, "protocol_step": "afweging_onveilig", "protocol_answers": BEFORE_LAST[:-1]}
    tracker = form_tracker(requested="protocol_answer", candidates={"protocol_answer": "ja"}, slots=slots,
                           text="ja", intent="affirm", events_before=STARTED, metadata=META)
    run_validation(ValidateProtocolForm(), tracker)
    assert incident_posts(fake_api) == []

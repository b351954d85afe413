"""Shared data and helpers for the action-server tests (trackers, running actions)."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

SERVICE_TOKEN = "test-service-token"

LOCATIONS = [
    {"code": "TERAPEL", "name": "Ter Apel", "aliases": ["ter apel", "azc ter apel"]},
    {"code": "BUDEL", "name": "Budel-Cranendonck", "aliases": ["budel"]},
    {"code": "ZWOLLE", "name": "Zwolle", "aliases": []},
]
HOLDERS = {
    "TERAPEL": [
        {"position": "contactpersoon_veiligheid", "name": "Ineke Veldman", "phone": "06-11111111"},
        {"position": "aandachtsfunctionaris", "name": "Sanne Bakker", "phone": None},
    ],
    "BUDEL": [],
    "ZWOLLE": [],
}

#: Answers of an EGG run up to its last question (afweging_duurzaam).
EGG_ANSWERS_BEFORE_LAST = [{"step": "acuut_gevaar", "answer": "nee"},
                           {"step": "vorm_dreiging", "answer": "bedreiging"},
                           {"step": "wie_slachtoffer", "answer": "volwassene"},
                           {"step": "gesprek_veilig", "answer": "ja"},
                           {"step": "afweging_vermoeden", "answer": "ja"},
                           {"step": "afweging_onveilig", "answer": "nee"},
                           {"step": "afweging_hulp", "answer": "ja"},
                           {"step": "afweging_aanvaard", "answer": "ja"}]

#: The domain parts that FormValidationAction reads (the form's required slots).
DOMAIN: dict[str, Any] = {
    "forms": {"protocol_form": {"required_slots": ["location", "protocol_answer"]}},
    "slots": {
        "location": {"type": "text", "mappings": [{"type": "from_entity", "entity": "location"},
                                                   {"type": "custom"}]},
        "protocol_answer": {"type": "text", "mappings": [
            {"type": "from_text", "conditions": [{"active_loop": "protocol_form",
                                                   "requested_slot": "protocol_answer"}]}]},
    },
}

NUMBER_PROTOCOL = """
id: testprotocol
version: "0.1.0"
title: Testprotocol
summary: Alleen voor tests van de engine.
intent: melding_test
start: welkom
required_referrals: []
forbidden_advice: []
reference_prefix: TEST
steps:
  - id: welkom
    kind: instruction
    text: Lees dit eerst.
    help: Uitleg.
    source: seed_letter
    next: dagen
  - id: dagen
    kind: number
    text: Hoeveel dagen geleden gebeurde het?
    help: Typ het aantal dagen als getal.
    source: movisie
    ranges:
      - {min: 0, max: 7, next: kort}
      - {min: 8, next: lang}
  - id: kort
    kind: outcome
    outcome: binnen_een_week
    title: Binnen een week
    text: Binnen een week.
    source: movisie
    referrals: [centrum_seksueel_geweld]
  - id: lang
    kind: outcome
    outcome: na_een_week
    title: Na een week
    text: Na een week.
    source: movisie
    verify: true
    referrals: [slachtofferhulp]
"""


# --------------------------------------------------------------------------- trackers


def user_event(text: str, intent: str | None, entities: list[dict] | None = None,
               metadata: dict | None = None, timestamp: float = 100.0,
               input_channel: str = "rest") -> dict[str, Any]:
    return {"event": "user", "timestamp": timestamp, "text": text, "input_channel": input_channel,
            "parse_data": {"intent": {"name": intent, "confidence": 1.0}, "entities": entities or [],
                           "text": text},
            "metadata": metadata or {}}


def make_tracker(
    *,
    text: str = "",
    intent: str | None = None,
    entities: list[dict] | None = None,
    metadata: dict | None = None,
    slots: dict[str, Any] | None = None,
    events_before: list[dict[str, Any]] | None = None,
    events_after: list[dict[str, Any]] | None = None,
    active_loop: dict[str, Any] | None = None,
    sender_id: str = "conv-1",
    confidence: float = 1.0,
    input_channel: str = "rest",
) -> Tracker:
    """A tracker as the action server receives it after the latest user message."""
    latest = {"intent": {"name": intent, "confidence": confidence}, "entities": entities or [], "text": text,
              "message_id": "m1", "metadata": metadata or {}}
    events = [*(events_before or []), user_event(text, intent, entities, metadata, input_channel=input_channel),
              *(events_after or [])]
    return Tracker.from_dict({
        "sender_id": sender_id,
        "slots": dict(slots or {}),
        "latest_message": latest,
        "events": events,
        "active_loop": active_loop or {},
        "latest_action_name": "action_listen",
    })


def action_event(name: str, timestamp: float = 50.0) -> dict[str, Any]:
    return {"event": "action", "name": name, "timestamp": timestamp}


def slot_event(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value, "timestamp": 101.0}


def form_tracker(*, requested: str, candidates: dict[str, Any], slots: dict[str, Any], text: str,
                 intent: str | None, entities: list[dict] | None = None,
                 events_before: list[dict[str, Any]] | None = None, confidence: float = 1.0,
                 metadata: dict | None = None) -> Tracker:
    """The temporary tracker Rasa's FormAction sends to ``validate_protocol_form``:
    ..., SlotSet(requested_slot), ActionExecuted(protocol_form), SlotSet(candidate)..."""
    tail = [slot_event("requested_slot", requested), action_event("protocol_form", 102.0),
            *(slot_event(k, v) for k, v in candidates.items())]
    all_slots = {**slots, "requested_slot": requested, **candidates}
    return make_tracker(text=text, intent=intent, entities=entities, slots=all_slots,
                        events_before=events_before, events_after=tail,
                        active_loop={"name": "protocol_form"}, confidence=confidence, metadata=metadata)


def run(action: Any, tracker: Tracker, domain: dict[str, Any] | None = None
        ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Runs an action; returns (events, messages)."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain if domain is not None else DOMAIN))
    return events, dispatcher.messages


def run_validation(action: Any, tracker: Tracker, domain: dict[str, Any] | None = None
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Runs only the validation of a form validation action (rasa_sdk's own
    ``FormValidationAction.run``), without the next question our override asks
    after it (``actions.form_questions``, tested on its own); returns (events, messages)."""
    from rasa_sdk import FormValidationAction

    dispatcher = CollectingDispatcher()
    events = asyncio.run(FormValidationAction.run(action, dispatcher, tracker,
                                                  domain if domain is not None else DOMAIN))
    return events, dispatcher.messages


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages]

"""validate_protocol_form asks the form's next question itself (one action-server
call per turn): the exact events and messages of a whole run, validation and question."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from rasa_sdk.events import ActiveLoop, SlotSet

from actions import ValidateProtocolForm
from actions.form_questions import form_ends, slot_to_ask
from actions.presenter import ACUTE_TEXT
from knowledge import Knowledge
from tests.actions.conftest import FakeApi
from tests.actions.helpers import EGG_ANSWERS_BEFORE_LAST, form_tracker, make_tracker, run, run_validation, texts

EGG = "eergerelateerd_geweld"
RUN = "run-7@42.0"
START = {"protocol": EGG, "protocol_step": "acuut_gevaar", "protocol_answers": [], "acute": False,
         "location": "TERAPEL", "misses": 0.0, "protocol_run": RUN}
META = {"location": "TERAPEL", "staff_id": "mdw-7f3k"}
FIRST_QUESTION = ("Is er op dit moment direct gevaar voor de bewoner of voor anderen?\n\n"
                  "Bron: Handelingsprotocol: acute en structurele onveiligheid")
ASKED = SlotSet("requested_slot", "protocol_answer")


def answer(text: str, intent: str, slots: dict, entities: list[dict] | None = None):
    tracker = form_tracker(requested="protocol_answer", candidates={"protocol_answer": text}, slots=slots,
                           text=text, intent=intent, entities=entities, metadata=META)
    return run(ValidateProtocolForm(), tracker)


def question(knowledge: Knowledge, step: str) -> str:
    return knowledge.protocols[EGG].steps[step].text


def test_an_answer_is_validated_then_the_next_question_asked_after_the_instructions(knowledge: Knowledge) -> None:
    events, messages = answer("/affirm", "affirm", START)
    validated, _ = run_validation(ValidateProtocolForm(), form_tracker(
        requested="protocol_answer", candidates={"protocol_answer": "/affirm"}, slots=START, text="/affirm",
        intent="affirm", metadata=META))
    # The validation's own events (tested in test_form_actions), then the slot asked.
    assert SlotSet("protocol_step", "vorm_dreiging") in validated
    assert events == [*validated, ASKED]
    steps = knowledge.protocols[EGG].steps
    # 112 first (the contract), then the instruction passed on the way, then the question.
    assert texts(messages) == [
        ACUTE_TEXT,
        f"{steps['bel_112'].text}\nWaarom: {steps['bel_112'].help}\n\nBron: {steps['bel_112'].source.title}",
        messages[2]["text"],
    ]
    assert messages[2]["text"].startswith(question(knowledge, "vorm_dreiging"))
    assert messages[2]["buttons"][0] == {"title": "Bedreiging", "payload": '/kies{"keuze": "bedreiging"}'}


def test_a_misunderstood_answer_is_explained_and_the_same_question_asked_without_instructions(
        knowledge: Knowledge) -> None:
    slots = {**START, "protocol_step": "vorm_dreiging", "acute": True,
             "protocol_answers": [{"step": "acuut_gevaar", "answer": "ja"}]}
    # (Not "geen idee": that picks the option for not knowing, see test_typed_answers.)
    events, messages = answer("pfff, lastig", "nlu_fallback", slots)
    assert events == [SlotSet("protocol_answer", None), SlotSet("misses", 1.0), ASKED]
    assert messages[0]["text"].startswith("Dat heb ik niet goed begrepen.")
    assert len(messages) == 2 and messages[1]["text"].startswith(question(knowledge, "vorm_dreiging"))


def test_the_last_answer_asks_nothing_and_lets_the_form_complete() -> None:
    slots = {**START, "protocol_step": "afweging_duurzaam", "protocol_answers": EGG_ANSWERS_BEFORE_LAST}
    events, messages = answer("ja", "affirm", slots)
    assert events[0] == SlotSet("protocol_answer", "klaar")
    assert not [e for e in events if e.get("name") == "requested_slot"]
    assert messages == []


def test_stop_ends_the_form_without_a_question() -> None:
    events, messages = answer("stop", "stop", START)
    assert [e for e in events if e["name"] == "requested_slot"] == [SlotSet("requested_slot", None)]
    assert ASKED not in events
    assert len(messages) == 1


def test_a_valid_location_is_followed_by_the_first_question(fake_api: FakeApi) -> None:
    tracker = form_tracker(requested="location", candidates={"location": "Ter Apel"},
                           slots={**START, "location": None}, text="Ter Apel", intent="inform")
    events, messages = run(ValidateProtocolForm(), tracker)
    assert events == [SlotSet("location", "TERAPEL"), ASKED]
    assert texts(messages) == [FIRST_QUESTION]


def test_an_unknown_location_is_refused_and_asked_again(fake_api: FakeApi) -> None:
    tracker = form_tracker(requested="location", candidates={"location": "Amsterdam"},
                           slots={**START, "location": None}, text="Amsterdam", intent="inform")
    events, messages = run(ValidateProtocolForm(), tracker)
    assert events == [SlotSet("location", None), SlotSet("requested_slot", "location")]
    assert texts(messages)[0] == "De locatie 'Amsterdam' ken ik niet."
    assert [b["payload"] for b in messages[1]["buttons"]] == [
        '/kies{"keuze": "TERAPEL"}', '/kies{"keuze": "BUDEL"}', '/kies{"keuze": "ZWOLLE"}']


def test_the_answer_is_logged_before_the_question_that_follows_it(tmp_path: Path) -> None:
    answer("nee", "deny", START)
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        stored = [json.loads(p)["event"] for (p,) in db.execute("SELECT payload FROM outbox ORDER BY id")]
    assert [(e["type"], e.get("step")) for e in stored] == [
        ("answer_given", "acuut_gevaar"), ("started", None), ("question_asked", "vorm_dreiging")]


# --------------------------------------------------------------------------- the decision, as Rasa makes it


@pytest.mark.parametrize(("events", "ends"), [
    ([SlotSet("requested_slot", None)], True),
    ([ActiveLoop(None)], True),
    ([SlotSet("requested_slot", None), SlotSet("requested_slot", "location")], False),
    ([SlotSet("misses", 1.0)], False),
    ([], False),
])
def test_form_ends_like_rasas_is_done(events: list[dict], ends: bool) -> None:
    assert form_ends(events) is ends


def test_the_slot_asked_is_the_first_empty_required_slot_unless_the_validation_chose() -> None:
    required = ["location", "protocol_answer"]
    assert slot_to_ask(make_tracker(slots={"location": None}), required, []) == "location"
    assert slot_to_ask(make_tracker(slots={"location": "TERAPEL"}), required, []) == "protocol_answer"
    assert slot_to_ask(make_tracker(slots={"location": "TERAPEL", "protocol_answer": "klaar"}),
                       required, []) is None
    assert slot_to_ask(make_tracker(slots={"location": None}), required,
                       [SlotSet("requested_slot", "protocol_answer")]) == "protocol_answer"
    assert slot_to_ask(make_tracker(slots={}), required, [SlotSet("requested_slot", None)]) is None

"""The guidance-session log from the actions: the exact Rasa events each action returns
AND the session events it stored in the outbox (read from the per-test outbox file,
where the conftest keeps them undelivered), the consent rule, and delivery in order."""

from __future__ import annotations

import asyncio
import json
import random
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.events import SlotSet

from actions import (
    ActionRecordDecision,
    ActionStartProtocol,
    ValidateProtocolForm,
    knowledge_cache,
    session_events,
)
from actions.api_client import ApiError
from actions.engine import ProtocolEngine, ProtocolState
from actions.outbox import DELIVERED, PENDING, REJECTED, Outbox, get_outbox
from actions.presenter import ACUTE_TEXT
from actions.session_events import FREE_TEXT_NOTE, NO_CONSENT_NOTE, NOT_RECORDED_NOTE
from actions.session_log import SessionEvent, idempotency_key
from knowledge import Knowledge, load_protocol_file
from tests.actions.conftest import FakeApi
from tests.actions.helpers import action_event, form_tracker, make_tracker, run, run_validation, texts

EGG = "eergerelateerd_geweld"
LHBTI = "lhbti_ondersteuning"
RUN = "run-7@42.0"
META = {"location": "TERAPEL", "staff_id": "mdw-7f3k"}
# META: a REST conversation claiming a staff id. The channel proves nobody, so every event
# records the staff id "unverified" (issue 14); tests/actions/test_tracker_utils.py
# covers the verified channels.
START = {"protocol": EGG, "protocol_step": "acuut_gevaar", "protocol_answers": [], "acute": False,
         "location": "TERAPEL", "misses": 0.0, "protocol_run": RUN}
AT_GESPREK = {**START, "protocol_step": "gesprek_veilig",
              "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"},
                                   {"step": "vorm_dreiging", "answer": "bedreiging"},
                                   {"step": "wie_slachtoffer", "answer": "volwassene"}]}
REPORT = "een bewoonster vertelt dat haar broer haar bedreigt omdat ze niet met haar neef wil trouwen"

EGG_STARTED = ("Ik volg het protocol Eergerelateerd geweld. Past dit niet bij de situatie, typ dan 'stop' "
               "en beschrijf de situatie opnieuw.")


# --------------------------------------------------------------------------- reading the outbox


def rows(path: Path) -> list[tuple[str, dict[str, Any], str | None]]:
    if not path.exists():
        return []  # nothing was ever stored
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT kind, payload, order_key FROM outbox ORDER BY id").fetchall()
    return [(kind, json.loads(payload), order) for kind, payload, order in found]


def logged(path: Path) -> list[dict[str, Any]]:
    """The session-event bodies stored, oldest first."""
    return [payload for kind, payload, _ in rows(path) if kind == "session_event"]


def logged_events(path: Path) -> list[dict[str, Any]]:
    return [payload["event"] for payload in logged(path)]


def raw_outbox(path: Path) -> str:
    """Everything the outbox holds, as text (for "this value is nowhere")."""
    return json.dumps(rows(path), ensure_ascii=False)


def answer(text: str, intent: str | None, slots: dict[str, Any], entities: list[dict] | None = None,
           metadata: dict | None = None) -> tuple[list[dict], list[dict]]:
    tracker = form_tracker(requested="protocol_answer", candidates={"protocol_answer": text}, slots=slots,
                           text=text, intent=intent, entities=entities, metadata=metadata)
    return run_validation(ValidateProtocolForm(), tracker)


def kies(value: str) -> list[dict]:
    return [{"entity": "keuze", "value": value}]


# --------------------------------------------------------------------------- started


def test_start_logs_started_with_who_where_and_the_run(outbox_file: Path) -> None:
    tracker = make_tracker(text=REPORT, intent="melding_eergerelateerd_geweld", metadata=META)
    events, messages = run(ActionStartProtocol(), tracker)
    assert texts(messages) == [EGG_STARTED]  # which protocol, nothing else
    assert events == [
        SlotSet("protocol", EGG), SlotSet("protocol_step", "acuut_gevaar"), SlotSet("protocol_answers", []),
        SlotSet("acute", False), SlotSet("protocol_answer", None), SlotSet("misses", 0.0),
        SlotSet("incident_reference", None), SlotSet("protocol_run", "run-1@100.0"),
        SlotSet("location", "TERAPEL"),
    ]
    started = SessionEvent("started", text="Eergerelateerd geweld")
    assert logged(outbox_file) == [{
        "idempotency_key": idempotency_key("conv-1", "open:run-1@100.0:0", started),
        "conversation_id": "conv-1", "run_id": "run-1@100.0", "location": "TERAPEL", "protocol": EGG,
        "protocol_version": "1.2.0", "staff_id": "unverified", "channel": "rest",
        "event": {"type": "started", "text": "Eergerelateerd geweld"},
    }]
    # Delivered in order per conversation.
    assert [order for _, _, order in rows(outbox_file)] == ["conversation:conv-1"]


def test_start_with_danger_now_logs_the_112_advice(outbox_file: Path) -> None:
    tracker = make_tracker(text="haar broer staat nu met een mes voor haar deur", metadata=META,
                           intent="melding_eergerelateerd_geweld")
    events, messages = run(ActionStartProtocol(), tracker)
    assert texts(messages) == [ACUTE_TEXT, EGG_STARTED]  # 112 first
    assert SlotSet("acute", True) in events
    # The report answered "Is er op dit moment direct gevaar?": logged as its answer, 112 once.
    assert logged_events(outbox_file) == [{"type": "started", "text": "Eergerelateerd geweld"},
                                          {"type": "advice_shown", "text": ACUTE_TEXT},
                                          {"type": "answer_given", "step": "acuut_gevaar", "answer": "ja"}]


def test_why_another_protocol_leads_is_logged_with_the_start(outbox_file: Path) -> None:
    """The reviewer sees why the meldcode was followed for a report about a pregnancy."""
    tracker = make_tracker(text="een man slaat zijn zwangere vrouw", metadata=META,
                           intent="melding_ongewenste_zwangerschap")
    _, messages = run(ActionStartProtocol(), tracker)
    reason = messages[1]["text"]
    assert reason.startswith("De melding noemt geweld tegen haar.")
    assert logged_events(outbox_file) == [{"type": "started", "text": "Huiselijk geweld en kindermishandeling"},
                                          {"type": "advice_shown", "text": reason}]
    assert {p["protocol"] for p in logged(outbox_file)} == {"huiselijk_geweld"}


def test_a_second_protocol_in_the_conversation_is_a_second_run(outbox_file: Path) -> None:
    first = make_tracker(text=REPORT, intent="melding_eergerelateerd_geweld", metadata=META)
    second = make_tracker(text="ze is ook zwanger en wil het niet", intent="melding_ongewenste_zwangerschap",
                          metadata=META, events_before=[action_event("action_start_protocol", 42.0)] * 5)
    run(ActionStartProtocol(), first)
    events, _ = run(ActionStartProtocol(), second)
    assert SlotSet("protocol_run", "run-6@100.0") in events
    assert [(p["protocol"], p["run_id"]) for p in logged(outbox_file)] == [
        (EGG, "run-1@100.0"), ("ongewenste_zwangerschap", "run-6@100.0")]


def test_without_a_location_started_waits_for_the_first_question(outbox_file: Path) -> None:
    tracker = make_tracker(text=REPORT, intent="melding_eergerelateerd_geweld")
    events, _ = run(ActionStartProtocol(), tracker)
    assert SlotSet("protocol_run", "run-1@100.0") in events
    assert logged(outbox_file) == []

    # The form asked the location (validated: TERAPEL), then the first question.
    slots = {**START, "protocol_run": "run-1@100.0"}
    events, messages = run(ValidateProtocolForm(), make_tracker(slots=slots))
    assert events == [SlotSet("requested_slot", "protocol_answer")]
    assert logged_events(outbox_file) == [
        {"type": "started", "text": "Eergerelateerd geweld"},
        {"type": "question_asked", "step": "acuut_gevaar", "text": messages[0]["text"]},
    ]
    # Same key for started wherever it is logged: at most one per run.
    assert logged(outbox_file)[0]["idempotency_key"] == idempotency_key(
        "conv-1", "open:run-1@100.0:0", SessionEvent("started"))


# --------------------------------------------------------------------------- questions


def test_each_question_is_logged_with_the_exact_text_shown_once_per_ask(outbox_file: Path) -> None:
    tracker = make_tracker(slots=START, metadata=META)
    _, messages = run(ValidateProtocolForm(), tracker)
    run(ValidateProtocolForm(), tracker)  # Rasa retrying the same action: stored once
    assert messages[0]["text"] == ("Is er op dit moment direct gevaar voor de bewoner of voor anderen?\n\n"
                                   "Bron: Handelingsprotocol: acute en structurele onveiligheid")
    assert logged_events(outbox_file) == [
        {"type": "started", "text": "Eergerelateerd geweld"},
        {"type": "question_asked", "step": "acuut_gevaar", "text": messages[0]["text"]},
    ]
    # Asked again later (after a miss): a new event; started is not repeated.
    later = make_tracker(slots={**START, "misses": 1.0}, metadata=META,
                         events_before=[action_event("action_listen", 90.0)])
    run(ValidateProtocolForm(), later)
    assert [e["type"] for e in logged_events(outbox_file)] == ["started", "question_asked", "question_asked"]
    assert {p["staff_id"] for p in logged(outbox_file)} == {"unverified"}
    assert {p["run_id"] for p in logged(outbox_file)} == {RUN}


def test_instructions_passed_on_the_way_are_logged_as_advice(outbox_file: Path) -> None:
    slots = {**START, "protocol_step": "vorm_dreiging", "acute": True,
             "protocol_answers": [{"step": "acuut_gevaar", "answer": "ja"}]}
    _, messages = run(ValidateProtocolForm(), make_tracker(slots=slots))
    assert len(messages) == 2
    assert logged_events(outbox_file)[1:] == [
        {"type": "advice_shown", "step": "bel_112", "text": messages[0]["text"]},
        {"type": "question_asked", "step": "vorm_dreiging", "text": messages[1]["text"]},
    ]


# --------------------------------------------------------------------------- answers


def test_a_suicidality_report_with_a_plan_logs_its_own_112_step_as_shown(outbox_file: Path) -> None:
    tracker = make_tracker(text="hij heeft een afscheidsbrief geschreven en een touw gekocht", metadata=META,
                           intent="melding_suicidaliteit")
    _, messages = run(ActionStartProtocol(), tracker)
    shown = texts(messages)[0]
    assert shown.startswith("Bel nu 112 en vraag om een ambulance")
    assert logged_events(outbox_file) == [{"type": "started", "text": "Suïcidaliteit en zelfbeschadiging"},
                                          {"type": "advice_shown", "text": shown},
                                          {"type": "answer_given", "step": "acuut_gevaar", "answer": "ja"}]


def test_an_accepted_answer_is_logged(outbox_file: Path) -> None:
    events, messages = answer("nee", "deny", START)
    assert messages == []
    assert events == [
        SlotSet("protocol_answer", None), SlotSet("protocol", EGG), SlotSet("protocol_step", "vorm_dreiging"),
        SlotSet("protocol_answers", [{"step": "acuut_gevaar", "answer": "nee"}]), SlotSet("acute", False),
        SlotSet("misses", 0.0),
    ]
    assert logged_events(outbox_file) == [{"type": "answer_given", "step": "acuut_gevaar", "answer": "nee"}]


def test_an_acute_answer_is_logged_with_the_112_advice(outbox_file: Path) -> None:
    _, messages = answer("ja", "affirm", START)
    assert texts(messages) == [ACUTE_TEXT]
    assert logged_events(outbox_file) == [
        {"type": "answer_given", "step": "acuut_gevaar", "answer": "ja"},
        {"type": "advice_shown", "step": "acuut_gevaar", "text": ACUTE_TEXT},
    ]


def test_a_choice_is_logged_by_its_value(outbox_file: Path) -> None:
    slots = {**START, "protocol_step": "vorm_dreiging", "protocol_answers": [{"step": "acuut_gevaar",
                                                                              "answer": "nee"}]}
    answer('/kies{"keuze": "bedreiging"}', "kies", slots, entities=kies("bedreiging"))
    assert logged_events(outbox_file) == [{"type": "answer_given", "step": "vorm_dreiging",
                                           "answer": "bedreiging"}]


def test_a_free_text_answer_is_never_logged(outbox_file: Path) -> None:
    slots = {**START, "protocol_step": "vorm_anders",
             "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"},
                                  {"step": "vorm_dreiging", "answer": "anders"}]}
    events, _ = answer("verzoek om maagdelijkheidsverklaring", None, slots)
    # The decision keeps it (in the slots, then the incident); the session log does not.
    assert SlotSet("protocol_answers", [*slots["protocol_answers"], {
        "step": "vorm_anders", "answer": "verzoek om maagdelijkheidsverklaring"}]) in events
    assert logged_events(outbox_file) == [{"type": "answer_given", "step": "vorm_anders",
                                           "text": FREE_TEXT_NOTE}]
    assert "maagdelijkheid" not in raw_outbox(outbox_file)


def test_a_misunderstood_answer_logs_nothing_but_danger_logs_112(outbox_file: Path, fake_api: FakeApi) -> None:
    answer("misschien wel", None, START)
    assert logged(outbox_file) == []
    _, messages = answer("hij slaat haar nu", "acuut_gevaar", AT_GESPREK)
    assert texts(messages) == [ACUTE_TEXT]
    assert logged_events(outbox_file) == [{"type": "advice_shown", "step": "gesprek_veilig", "text": ACUTE_TEXT}]


# --------------------------------------------------------------------------- consent (AVG art. 9)


def walk(engine: ProtocolEngine, slots: dict[str, Any], choices: dict[str, str]) -> dict[str, Any]:
    """Answers every question through validate_protocol_form until the outcome:
    yes/no by ``choices`` (default "nee"), a choice by ``choices`` (default the first option)."""
    for _ in range(30):
        state = ProtocolState.from_slots(slots)
        assert state is not None
        step = engine.step(state)
        if step.kind == "outcome":
            return slots
        value = choices.get(step.id, "nee" if step.kind == "yes_no" else step.options[0].value)
        if step.kind == "yes_no":
            events, _ = answer(value, "affirm" if value == "ja" else "deny", slots)
        else:
            events, _ = answer(f'/kies{{"keuze": "{value}"}}', "kies", slots, entities=kies(value))
        slots = {**slots, **{e["name"]: e["value"] for e in events if e.get("event") == "slot"}}
    raise AssertionError("no outcome reached")


LHBTI_START = {"protocol": LHBTI, "protocol_step": "acuut_gevaar", "protocol_answers": [], "acute": False,
               "location": "TERAPEL", "misses": 0.0, "protocol_run": RUN}


def test_without_consent_grond_registratie_is_never_logged(outbox_file: Path, engine: ProtocolEngine,
                                                            fake_api: FakeApi) -> None:
    finished = walk(engine, LHBTI_START, {"toestemming_registratie": "nee", "wie_dreigt": "geen_dreiging"})
    run(ActionRecordDecision(), make_tracker(slots=finished, metadata=META))
    payloads = logged(outbox_file)
    assert payloads, "the run is logged"
    assert "grond_registratie" not in raw_outbox(outbox_file)
    assert {"type": "answer_given", "step": "toestemming_registratie", "answer": "nee"} in logged_events(outbox_file)
    assert all(e.get("answer") not in {"lhbti", "bekering", "geloof_verlaten"} for e in logged_events(outbox_file))


def test_with_consent_the_ground_is_in_the_decision_and_never_in_the_log(outbox_file: Path,
                                                                         engine: ProtocolEngine) -> None:
    """The log of a privacy protocol starts before consent is asked, so it is neutral
    throughout; with consent the incident holds the ground (tests/actions/test_privacy_record.py)."""
    walk(engine, LHBTI_START, {"toestemming_registratie": "ja", "grond_registratie": "bekering",
                               "wie_dreigt": "geen_dreiging"})
    assert {"type": "answer_given", "step": "grond_registratie", "text": NO_CONSENT_NOTE} in logged_events(outbox_file)
    assert "bekering" not in json.dumps(logged(outbox_file), ensure_ascii=False)
    assert {p["protocol"] for p in logged(outbox_file)} == {"algemene_veiligheid"}
    # The decision, written ahead of the reply by the last answer's validation (record_ahead).
    (incident,) = [payload for kind, payload, _ in rows(outbox_file) if kind == "incident"]
    assert {"step": "grond_registratie", "answer": "bekering"} in incident["steps"]


#: Words from which orientation or religion could be read in a record.
REVEALING = re.compile(r"lhbt|lgbt|\bcoc\b|roze|homo|lesb|bisek|trans|orient|geloof|bekeer|bekering|religi",
                       re.IGNORECASE)


def test_a_privacy_protocols_log_never_holds_its_texts(outbox_file: Path, engine: ProtocolEngine,
                                                       fake_api: FakeApi) -> None:
    """Every event of a consent-refused LHBTI run, from the start of the run to the recorded
    decision: filed under the neutral category, no text or answer that names the ground."""
    run(ActionStartProtocol(), make_tracker(text="een homoseksuele bewoner wordt bedreigd door zijn broer",
                                            intent="melding_lhbti", metadata=META))
    run(ValidateProtocolForm(), make_tracker(slots=LHBTI_START, metadata=META))  # the first question
    finished = walk(engine, LHBTI_START, {"toestemming_registratie": "nee", "wie_dreigt": "familie"})
    run(ActionRecordDecision(), make_tracker(slots=finished, metadata=META))
    events = logged_events(outbox_file)
    assert {e["type"] for e in events} >= {"started", "question_asked", "answer_given", "advice_shown", "outcome",
                                          "incident_recorded"}
    assert {p["protocol"] for p in logged(outbox_file)} == {"algemene_veiligheid"}
    assert {"type": "started", "text": "Veiligheid van een bewoner"} in events
    assert {"type": "answer_given", "step": "wie_dreigt", "answer": "familie"} in events
    assert not REVEALING.findall(raw_outbox(outbox_file))


GATED = """
id: toestemmingtest
version: "0.1.0"
title: Toestemmingstest
summary: Alleen voor tests; het stap-met-toestemming is hier ook zonder toestemming bereikbaar.
intent: melding_toestemmingtest
start: toestemming
required_referrals: []
forbidden_advice: []
reference_prefix: TOE
steps:
  - id: toestemming
    kind: yes_no
    text: Geeft de bewoner toestemming?
    help: Ja of nee.
    source: coa
    next: {ja: grond, nee: grond}
  - id: grond
    kind: choice
    recorded_only_if: toestemming
    text: Waarover?
    help: Kies.
    source: coa
    options:
      - {value: geheimgeloof, label: Geheim, next: klaar}
  - id: klaar
    kind: outcome
    outcome: klaar
    title: Klaar
    text: Klaar.
    source: coa
"""


def test_the_engines_consent_rule_decides_even_when_the_protocol_lets_the_step_through(
        outbox_file: Path, knowledge: Knowledge, tmp_path: Path) -> None:
    path = tmp_path / "toestemmingtest.yml"
    path.write_text(GATED, encoding="utf-8")
    gated = load_protocol_file(path, knowledge.organisations, knowledge.sources, check_invariants=False)
    knowledge_cache.set_knowledge(Knowledge(protocols={**knowledge.protocols, gated.id: gated},
                                            organisations=knowledge.organisations, sources=knowledge.sources))
    slots = {**START, "protocol": gated.id, "protocol_step": "toestemming"}
    slots = walk(ProtocolEngine(knowledge_cache.get_knowledge()), slots, {"toestemming": "nee"})
    assert logged_events(outbox_file) == [
        {"type": "answer_given", "step": "toestemming", "answer": "nee"},
        {"type": "answer_given", "step": "grond", "text": NO_CONSENT_NOTE},
    ]
    assert "geheimgeloof" not in raw_outbox(outbox_file)


# --------------------------------------------------------------------------- control and look-ups


def test_stop_is_logged(outbox_file: Path) -> None:
    events, messages = answer("stop", "stop", AT_GESPREK)
    assert texts(messages) == ["Het protocol is gestopt. Er is niets vastgelegd."]
    assert SlotSet("protocol_run", None) in events and SlotSet("requested_slot", None) in events
    assert logged_events(outbox_file) == [
        {"type": "stopped", "step": "gesprek_veilig", "text": "Het protocol is gestopt. Er is niets vastgelegd."}]


def test_stop_with_danger_logs_the_112_advice_first(outbox_file: Path) -> None:
    answer("stop maar, hij staat nu met een mes voor de deur", "stop", AT_GESPREK)
    assert [e["type"] for e in logged_events(outbox_file)] == ["advice_shown", "stopped"]
    assert logged_events(outbox_file)[0]["text"] == ACUTE_TEXT


def test_terug_and_opnieuw_are_logged_with_the_question_asked_next(outbox_file: Path) -> None:
    answer("terug", "terug", AT_GESPREK)
    answer("opnieuw", "opnieuw", {**AT_GESPREK, "protocol_step": "vorm_dreiging",
                                  "protocol_answers": AT_GESPREK["protocol_answers"][:1]})
    assert logged_events(outbox_file) == [
        {"type": "step_back", "step": "wie_slachtoffer",
         "text": "Terug naar de vorige vraag. Uw vorige antwoord is gewist."},
        {"type": "restarted", "step": "acuut_gevaar",
         "text": "We beginnen opnieuw met het protocol Eergerelateerd geweld. Eerdere antwoorden tellen niet mee."},
    ]


def test_a_look_up_inside_the_form_is_logged_by_the_answer_shown(outbox_file: Path) -> None:
    events, messages = answer("wat is stap 4 van de meldcode?", "vraag_stap", AT_GESPREK)
    assert events == [SlotSet("protocol_answer", None)]
    assert logged_events(outbox_file) == [
        {"type": "lookup_answered", "step": "gesprek_veilig", "text": "\n\n".join(texts(messages))}]


# --------------------------------------------------------------------------- the decision


ANSWERS = [{"step": "acuut_gevaar", "answer": "ja"}, {"step": "vorm_dreiging", "answer": "bedreiging"},
           {"step": "wie_slachtoffer", "answer": "volwassene"}, {"step": "gesprek_veilig", "answer": "ja"},
           {"step": "afweging_vermoeden", "answer": "ja"}, {"step": "afweging_onveilig", "answer": "ja"},
           {"step": "veilige_opvang", "answer": "nee"}]
FINISHED = {**START, "protocol_step": "melding_veilig_thuis_acuut", "protocol_answers": ANSWERS, "acute": True,
            "protocol_answer": "klaar"}


def finished_tracker() -> Any:
    return make_tracker(text="/deny", intent="deny", slots=FINISHED, metadata=META,
                        events_before=[action_event("action_start_protocol", 42.0)])


def test_the_decision_logs_outcome_advice_and_the_incident_reference(outbox_file: Path, fake_api: FakeApi,
                                                                     engine: ProtocolEngine) -> None:
    events, messages = run(ActionRecordDecision(), finished_tracker())
    assert events[0] == SlotSet("incident_reference", "EGG-20261129-0001")
    assert SlotSet("protocol_run", None) in events
    state = ProtocolState.from_slots(FINISHED)
    decision = engine.decision(state)
    passed = engine.pending_instructions(state)
    outcome = decision.outcome_step
    shown = texts(messages)
    expected = [
        *({"type": "advice_shown", "step": s.id, "text": t} for s, t in zip(passed, shown, strict=False)),
        {"type": "outcome", "step": outcome.id, "outcome": "melding_veilig_thuis_acuut", "text": shown[len(passed)]},
        *({"type": "advice_shown", "step": outcome.id, "text": line} for line in decision.actions),
        {"type": "advice_shown", "step": outcome.id, "text": shown[len(passed) + 2]},  # whom to contact
        {"type": "advice_shown", "step": outcome.id, "text": shown[len(passed) + 3]},  # whom to involve
        {"type": "incident_recorded", "step": outcome.id, "incident_reference": "EGG-20261129-0001"},
    ]
    assert decision.actions and shown[len(passed)].startswith("Uitkomst: ")
    assert shown[len(passed) + 2].startswith("Neem contact op met:") and "Betrek op" in shown[len(passed) + 3]
    assert logged_events(outbox_file) == expected
    assert {(p["run_id"], p["staff_id"], p["location"]) for p in logged(outbox_file)} == {(RUN, "unverified",
                                                                                             "TERAPEL")}


def test_a_queued_decision_logs_the_provisional_reference(outbox_file: Path, api_down: None) -> None:
    events, _ = run(ActionRecordDecision(), finished_tracker())
    provisional = events[0]["value"]
    assert str(provisional).startswith("VOORLOPIG-")
    assert logged_events(outbox_file)[-1] == {"type": "incident_recorded", "step": "melding_veilig_thuis_acuut",
                                              "incident_reference": provisional}


def test_a_rejected_decision_logs_an_error(outbox_file: Path, fake_api: FakeApi) -> None:
    fake_api.fail_status = 422
    events, _ = run(ActionRecordDecision(), finished_tracker())
    assert events[0] == SlotSet("incident_reference", None)
    assert logged_events(outbox_file)[-1] == {"type": "error", "step": "melding_veilig_thuis_acuut",
                                              "text": NOT_RECORDED_NOTE}


# --------------------------------------------------------------------------- delivery order


def event_body(conversation: str, n: int) -> dict[str, Any]:
    return {"idempotency_key": f"{conversation}-{n}", "conversation_id": conversation, "location": "TERAPEL",
            "protocol": EGG, "protocol_version": "1.0.0", "event": {"type": "question_asked", "step": f"s{n}"}}


class Recorder:
    """A session_event sender: fails the keys in ``fail`` (once each, or always with 4xx)."""

    def __init__(self, fail: dict[str, int | None] | None = None, jitter: float = 0.0) -> None:
        self.fail = dict(fail or {})
        self.jitter = jitter
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, payload: dict[str, Any]) -> dict[str, Any]:
        key = payload["idempotency_key"]
        if self.jitter:
            time.sleep(random.uniform(0, self.jitter))
            if random.random() < 0.3:
                raise ApiError("flaky on purpose")
        if key in self.fail:
            status = self.fail[key]
            if status is None:
                del self.fail[key]
            raise ApiError("failing on purpose", status)
        with self.lock:
            self.sent.append(key)
        return {"session_id": "s", "seq": len(self.sent)}


def test_a_later_event_waits_for_an_earlier_one_of_its_conversation(tmp_path: Path) -> None:
    sender = Recorder(fail={"a-1": None})
    box = Outbox(tmp_path / "o.db", senders={"session_event": sender}, base_delay=60)
    try:
        for body in (event_body("a", 1), event_body("a", 2), event_body("b", 1)):
            box.enqueue("session_event", body["idempotency_key"], body, wake=False)
        box.deliver_due()
        assert sender.sent == ["b-1"]  # a-1 failed (backoff), a-2 held back behind it
        assert box.held_back("a-2") and box.get("a-2").status == PENDING
        assert box.deliver("a-2").status == PENDING  # not even on an explicit try
        assert box.next_due_in() > 1  # a held-back row does not make the loop spin
        box.deliver("a-1")
        box.deliver_due()
        assert sender.sent == ["b-1", "a-1", "a-2"]
    finally:
        box.close()


def test_a_rejected_event_does_not_hold_the_later_ones_back(tmp_path: Path) -> None:
    sender = Recorder(fail={"a-1": 422})
    box = Outbox(tmp_path / "o.db", senders={"session_event": sender})
    try:
        for n in (1, 2):
            box.enqueue("session_event", f"a-{n}", event_body("a", n), wake=False)
        box.deliver_due()
        assert box.get("a-1").status == REJECTED and box.get("a-2").status == DELIVERED
    finally:
        box.close()


def test_incidents_are_not_ordered(tmp_path: Path) -> None:
    sender = Recorder(fail={"i-1": None})
    box = Outbox(tmp_path / "o.db", senders={"incident": sender}, base_delay=60)
    try:
        for n in (1, 2):
            box.enqueue("incident", f"i-{n}", {"conversation_id": "a", "idempotency_key": f"i-{n}"}, wake=False)
        box.deliver_due()
        assert sender.sent == ["i-2"]
    finally:
        box.close()


def test_two_delivery_loops_on_one_file_keep_each_conversations_order(tmp_path: Path) -> None:
    sender = Recorder(jitter=0.005)
    boxes = [Outbox(tmp_path / "o.db", senders={"session_event": sender}, base_delay=0.01, max_delay=0.02,
                    idle_poll=0.05) for _ in range(2)]
    try:
        for box in boxes:
            box.start()
        for n in range(1, 31):
            for conversation in ("a", "b"):
                body = event_body(conversation, n)
                boxes[n % 2].enqueue("session_event", body["idempotency_key"], body)
        deadline = time.monotonic() + 30
        while boxes[0].pending_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert boxes[0].pending_count() == 0
        assert_each_conversation_in_order(sender.sent)
    finally:
        for box in boxes:
            box.close()


def assert_each_conversation_in_order(sent: list[str]) -> None:
    first = list(dict.fromkeys(sent))  # the same row may go out twice (idempotent)
    for conversation in ("a", "b"):
        mine = [k for k in first if k.startswith(f"{conversation}-")]
        assert mine == [f"{conversation}-{n}" for n in range(1, 31)]


def test_an_outbox_file_from_before_the_order_key_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
                idempotency_key TEXT NOT NULL UNIQUE, payload TEXT NOT NULL, created_at REAL NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL, delivered_at REAL,
                failed_at REAL, last_error TEXT, result TEXT);
        """)
        db.execute("INSERT INTO outbox (kind, idempotency_key, payload, created_at, next_attempt_at)"
                   " VALUES ('session_event', 'a-1', ?, 0, 0)", (json.dumps(event_body("a", 1)),))
    sender = Recorder()
    box = Outbox(path, senders={"session_event": sender})
    try:
        body = event_body("a", 2)
        box.enqueue("session_event", "a-2", body, wake=False)
        box.deliver_due()
        assert sender.sent == ["a-1", "a-2"]
    finally:
        box.close()


def test_two_delivery_loops_with_batches_keep_each_conversations_order(tmp_path: Path) -> None:
    sender = Recorder()
    batches: list[list[str]] = []

    def batch(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        time.sleep(random.uniform(0, 0.005))
        if random.random() < 0.3:
            raise ApiError("flaky on purpose")  # all or nothing, as the API's transaction
        batches.append([p["idempotency_key"] for p in payloads])
        return [sender(p) for p in payloads]

    boxes = [Outbox(tmp_path / "o.db", senders={"session_event": sender}, batch_senders={"session_event": batch},
                    base_delay=0.01, max_delay=0.02, idle_poll=0.05) for _ in range(2)]
    try:
        for box in boxes:
            box.start()
        for n in range(1, 31, 3):  # an action stores a few events at once
            for conversation in ("a", "b"):
                bodies = [event_body(conversation, m) for m in range(n, n + 3)]
                boxes[n % 2].enqueue_many("session_event", [(b["idempotency_key"], b) for b in bodies])
        deadline = time.monotonic() + 30
        while boxes[0].pending_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert boxes[0].pending_count() == 0
        assert any(len(b) > 1 for b in batches), "some went in batches"
        assert_each_conversation_in_order(sender.sent)
    finally:
        for box in boxes:
            box.close()


def test_the_events_of_one_action_are_stored_in_one_transaction(outbox_file: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    run = session_events.Run(conversation_id="conv-tx", run_id=RUN, location="TERAPEL", protocol=EGG,
                             protocol_version="1.0.0", staff_id=None, channel="rest")
    events = [(f"m:{n}", SessionEvent("advice_shown", step="s", text=f"advies {n}")) for n in range(4)]
    box = get_outbox(start=False)
    monkeypatch.setattr(box, "start", lambda: None)  # no delivery loop writing meanwhile
    statements: list[str] = []
    box._db.set_trace_callback(statements.append)
    threads: list[Any] = []
    to_thread = asyncio.to_thread

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        threads.append(func)
        return await to_thread(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counting)
    asyncio.run(session_events._store(run, events))
    box._db.set_trace_callback(None)
    assert len(threads) == 1
    assert sum(1 for s in statements if s == "COMMIT") == 1
    assert [p["event"]["text"] for p in logged(outbox_file)] == [f"advies {n}" for n in range(4)]

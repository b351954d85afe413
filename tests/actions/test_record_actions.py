"""action_record_decision: the recorded payload, the outcome messages and the events."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from rasa_sdk.events import SlotSet

from actions import ActionRecordDecision, outbox
from knowledge import Knowledge
from tests.actions.conftest import FakeApi
from tests.actions.helpers import EGG_ANSWERS_BEFORE_LAST, SERVICE_TOKEN, action_event, make_tracker, run, texts

EGG = "eergerelateerd_geweld"
ANSWERS = [{"step": "acuut_gevaar", "answer": "ja"},
           {"step": "vorm_dreiging", "answer": "bedreiging"},
           {"step": "wie_slachtoffer", "answer": "volwassene"},
           {"step": "gesprek_veilig", "answer": "ja"},
           {"step": "afweging_vermoeden", "answer": "ja"},
           {"step": "afweging_onveilig", "answer": "ja"},
           {"step": "veilige_opvang", "answer": "nee"}]
FINISHED = {"protocol": EGG, "protocol_step": "melding_veilig_thuis_acuut", "protocol_answers": ANSWERS,
            "acute": True, "location": "TERAPEL", "protocol_answer": "klaar", "misses": 0.0}
RESET = [SlotSet("protocol", None), SlotSet("protocol_step", None), SlotSet("protocol_answers", None),
         SlotSet("protocol_answer", None), SlotSet("acute", False), SlotSet("misses", 0.0),
         SlotSet("protocol_run", None)]


@pytest.fixture(autouse=True)
def _own_outbox(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """Every test records through its own outbox file (never the repository's var/)."""
    monkeypatch.setenv("COA_OUTBOX_PATH", str(tmp_path / "outbox.db"))
    outbox.close_outbox()
    yield
    outbox.close_outbox()


def is_incident_post(request: dict[str, Any]) -> bool:
    # Session events may reach the fake API too (the outbox's delivery loop); these
    # tests are about the incident.
    return request["method"] == "POST" and request["path"] == "/api/v1/incidents"


def finished_tracker(slots: dict[str, Any] = FINISHED, sender_id: str = "conv-1"):
    return make_tracker(text="/affirm", intent="affirm", slots=slots, sender_id=sender_id,
                        metadata={"location": "TERAPEL"},
                        events_before=[action_event("action_start_protocol", 42.5)])


def test_records_the_decision_and_ends_with_the_reference(fake_api: FakeApi, knowledge: Knowledge) -> None:
    events, messages = run(ActionRecordDecision(), finished_tracker())
    assert events == [SlotSet("incident_reference", "EGG-20261129-0001"), *RESET]

    (post,) = [r for r in fake_api.requests if is_incident_post(r)]
    assert post["path"] == "/api/v1/incidents"
    assert post["authorization"] == f"Bearer {SERVICE_TOKEN}"
    body = post["body"]
    assert body.pop("idempotency_key").startswith(f"{EGG}:")
    assert body == {
        "conversation_id": "conv-1", "location": "TERAPEL", "protocol": EGG, "protocol_version": "1.2.0",
        "acute": True, "referrals": ["politie", "veilig_thuis", "lec_egg", "slachtofferhulp"],
        "steps": ANSWERS, "outcome": "melding_veilig_thuis_acuut", "channel": "rest",
        "staff_id": "unverified"}

    outcome = knowledge.protocols[EGG].steps["melding_veilig_thuis_acuut"]
    said = texts(messages)
    assert said[0] == f"Uitkomst: {outcome.text}\n\nBron: {outcome.source.title}"
    assert said[1] == "Wat u nu doet:\n" + "\n".join(f"- {a}" for a in outcome.actions)
    assert said[2].splitlines() == [
        "Neem contact op met:",
        "- Politie: 112 (spoed; geen spoed: 0900-8844)",
        "- Veilig Thuis: 0800-2000 (gratis, 24/7; bij spoed eerst 112)",
        "- Landelijk Expertisecentrum Eergerelateerd Geweld (LEC EGG): 088-9648550 (nummer verifiëren)",
        "- Slachtofferhulp Nederland: 0900-0101",
    ]
    assert said[3].splitlines() == [
        "Betrek op Ter Apel:",
        "- contactpersoon veiligheid: Ineke Veldman (06-11111111)",
        "- aandachtsfunctionaris huiselijk geweld en kindermishandeling: Sanne Bakker",
        "Is niemand bereikbaar (buiten kantoortijd, verlof)? Wacht dan niet: Veilig Thuis (0800-2000) "
        "en bij direct gevaar 112 zijn dag en nacht bereikbaar.",
        "Ik geef advies; het besluit neemt u samen met hen.",
    ]
    assert said[-1] == "Referentie van het vastgelegde besluit: EGG-20261129-0001"
    assert len(said) == 5


def test_a_verified_counsellors_follow_ups_are_fetched_while_the_decision_is_written(fake_api: FakeApi) -> None:
    """Teams: the counsellor's other due follow-up is asked after the advice; it was fetched
    (and Teams' reference stored) beside the write, not after it."""
    fake_api.delay = 0.3  # every request of the fake API
    fake_api.due_follow_ups = [
        {"id": "fu-7", "action": "Veilig Thuis gebeld", "reference": "EGG-20261201-0003", "overdue": False,
         "due_at": "2026-12-05T09:30:00+00:00", "status": "open", "organisation": None}]
    metadata = {"channel": "teams", "tenant": "11111111-2222-4333-8444-555555555555", "staff_id": "9f2c4e1a",
                "location": "TERAPEL", "conversation_reference": {"conversation_id": "a:1xyz", "bot_id": "28:bot"}}
    tracker = make_tracker(text="/affirm", intent="affirm", slots=FINISHED, sender_id="teams-a:1xyz",
                           metadata=metadata, input_channel="teams",
                           events_before=[action_event("action_start_protocol", 42.5)])
    events, messages = run(ActionRecordDecision(), tracker)

    assert texts(messages)[-2:] == ["Referentie van het vastgelegde besluit: EGG-20261129-0001",
                                    "Is Veilig Thuis gebeld voor EGG-20261201-0003? (termijn 05-12-2026 10:30)"]
    assert events[-3:] == [SlotSet("follow_up_asked", True), SlotSet("follow_up_id", "fu-7"),
                           SlotSet("follow_up_reason", None)]
    arrived = {(r["method"], r["path"].split("?")[0]): r["arrived"] for r in fake_api.requests}
    write = arrived[("POST", "/api/v1/incidents")]
    # Each arrived while the write was still being answered (sequential: a delay or more later).
    assert arrived[("GET", "/api/v1/chat/follow-ups")] - write < fake_api.delay / 2
    assert arrived[("PUT", "/api/v1/teams/conversations")] - write < fake_api.delay / 2


def test_instructions_passed_just_before_the_outcome_are_shown_first(fake_api: FakeApi) -> None:
    slots = {**FINISHED, "protocol_step": "melding_veilig_thuis_hulp_volgen", "acute": False,
             "protocol_answers": [*EGG_ANSWERS_BEFORE_LAST, {"step": "afweging_duurzaam", "answer": "ja"}]}
    _, messages = run(ActionRecordDecision(), finished_tracker(slots))
    assert texts(messages)[0].startswith("Uitkomst: Meld bij Veilig Thuis en ga door met de hulp")


def test_a_retried_action_does_not_duplicate_the_incident(fake_api: FakeApi) -> None:
    first, _ = run(ActionRecordDecision(), finished_tracker())
    again, _ = run(ActionRecordDecision(), finished_tracker())
    assert first == again
    # The outbox knows the key was delivered: the retry does not even post again.
    keys = [r["body"]["idempotency_key"] for r in fake_api.requests if is_incident_post(r)]
    assert len(keys) == 1
    assert len(fake_api.incidents) == 1


def test_a_retried_action_with_a_fresh_outbox_gets_the_same_incident(fake_api: FakeApi, tmp_path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    first, _ = run(ActionRecordDecision(), finished_tracker())
    monkeypatch.setenv("COA_OUTBOX_PATH", str(tmp_path / "other-outbox.db"))
    again, _ = run(ActionRecordDecision(), finished_tracker())
    assert first == again
    keys = [r["body"]["idempotency_key"] for r in fake_api.requests if is_incident_post(r)]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert len(fake_api.incidents) == 1


def test_another_run_in_the_same_conversation_is_a_new_incident(fake_api: FakeApi) -> None:
    run(ActionRecordDecision(), finished_tracker())
    later = finished_tracker()
    later.events.insert(-1, action_event("action_start_protocol", 99.0))
    events, _ = run(ActionRecordDecision(), later)
    assert events[0] == SlotSet("incident_reference", "EGG-20261129-0002")


def test_when_the_api_fails_the_decision_is_queued_and_the_counsellor_is_told(
    fake_api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    fake_api.fail_status = 500
    with caplog.at_level(logging.WARNING):
        events, messages = run(ActionRecordDecision(), finished_tracker())
    key = next(r for r in fake_api.requests if is_incident_post(r))["body"]["idempotency_key"]
    provisional = outbox.provisional_reference(key)
    assert events == [SlotSet("incident_reference", provisional), *RESET]
    said = texts(messages)
    assert said[0].startswith("Uitkomst: ")
    assert "0800-2000" in said[2]
    assert "- contactpersoon veiligheid (namen konden niet worden opgehaald)" in said[3]
    assert said[-1].startswith("Het besluit is veilig bewaard, maar nog niet in de registratie vastgelegd")
    assert f"Voorlopige referentie: {provisional}." in said[-1]
    assert "er gaat niets verloren" in said[-1]
    assert outbox.get_outbox().get(key).status == outbox.PENDING
    assert "decision queued in the outbox" in caplog.text and "melding_veilig_thuis_acuut" not in caplog.text

    # The API comes back: the loop delivers it, once.
    fake_api.fail_status = None
    box = outbox.get_outbox()
    assert box.deliver(key).status == outbox.DELIVERED
    assert box.get(key).status == outbox.DELIVERED
    assert len(fake_api.incidents) == 1


def test_a_momentary_server_error_is_tried_once_more_before_the_counsellor_is_told(fake_api: FakeApi) -> None:
    # The API on SQLite answers 500 "database is locked" when two writes overlap.
    fake_api.fail_incident_posts = 1
    events, messages = run(ActionRecordDecision(), finished_tracker())
    posts = [r for r in fake_api.requests if is_incident_post(r)]
    assert len(posts) == 2 and len(fake_api.incidents) == 1
    reference = next(iter(fake_api.incidents.values()))["reference"]
    assert events[0] == SlotSet("incident_reference", reference)
    assert "Voorlopige referentie" not in texts(messages)[-1] and reference in texts(messages)[-1]


def test_a_rejected_decision_is_reported_as_not_recorded(fake_api: FakeApi) -> None:
    fake_api.fail_status = 422
    events, messages = run(ActionRecordDecision(), finished_tracker())
    assert events[0] == SlotSet("incident_reference", None)
    assert texts(messages)[-1].startswith("Let op: het besluit kon nog niet worden vastgelegd")
    key = next(r for r in fake_api.requests if is_incident_post(r))["body"]["idempotency_key"]
    assert outbox.get_outbox().get(key).status == outbox.REJECTED


def test_when_the_api_is_down_the_advice_is_still_given_and_the_decision_queued(api_down: None) -> None:
    events, messages = run(ActionRecordDecision(), finished_tracker())
    assert str(events[0]["value"]).startswith("VOORLOPIG-")
    assert "Betrek op TERAPEL:" in texts(messages)[3]
    assert "Voorlopige referentie: VOORLOPIG-" in texts(messages)[-1]
    # The decision waits in the outbox (next to the session log's events).
    assert [i.kind for i in outbox.get_outbox().items(outbox.PENDING)].count("incident") == 1


def test_nothing_is_recorded_after_a_stop(fake_api: FakeApi) -> None:
    slots = {"location": "TERAPEL", "protocol": None, "protocol_step": None, "protocol_answers": None}
    events, messages = run(ActionRecordDecision(), finished_tracker(slots))
    assert (events, messages, fake_api.requests) == ([], [], [])


def test_nothing_is_recorded_before_an_outcome(fake_api: FakeApi) -> None:
    slots = {**FINISHED, "protocol_step": "acuut_gevaar", "protocol_answers": []}
    events, messages = run(ActionRecordDecision(), finished_tracker(slots))
    assert (events, messages, fake_api.requests) == ([], [], [])


# --------------------------------------------------------------------------- second topic


def test_a_pending_second_topic_is_offered_after_the_reference(fake_api: FakeApi) -> None:
    slots = {**FINISHED, "pending_protocol": "ongewenste_zwangerschap"}
    events, messages = run(ActionRecordDecision(), finished_tracker(slots))
    assert events == [SlotSet("incident_reference", "EGG-20261129-0001"), *RESET,
                      SlotSet("pending_protocol", None), SlotSet("offered_protocol", "ongewenste_zwangerschap")]
    assert messages[-2]["text"] == "Referentie van het vastgelegde besluit: EGG-20261129-0001"
    assert messages[-1]["text"] == "Wilt u nu ook het protocol Ongewenste zwangerschap doorlopen?"
    assert messages[-1]["buttons"] == [
        {"title": "Start: Ongewenste zwangerschap", "payload": "/melding_ongewenste_zwangerschap"},
        {"title": "Nu niet", "payload": "/deny"}]


def test_the_offer_has_the_contract_buttons(fake_api: FakeApi) -> None:
    slots = {**FINISHED, "pending_protocol": "seksueel_geweld"}
    _, messages = run(ActionRecordDecision(), finished_tracker(slots))
    assert messages[-1]["text"] == "Wilt u nu ook het protocol Seksueel geweld doorlopen?"
    assert messages[-1]["buttons"] == [{"title": "Start: Seksueel geweld", "payload": "/melding_seksueel_geweld"},
                                       {"title": "Nu niet", "payload": "/deny"}]


def test_after_stop_nothing_is_recorded_but_the_second_topic_is_offered(fake_api: FakeApi) -> None:
    slots = {"location": "TERAPEL", "pending_protocol": "lhbti_ondersteuning"}
    events, messages = run(ActionRecordDecision(), finished_tracker(slots))
    assert events == [SlotSet("pending_protocol", None), SlotSet("offered_protocol", "lhbti_ondersteuning")]
    assert texts(messages) == ["Wilt u nu ook het protocol LHBTI-bewoners en bekeerlingen doorlopen?"]
    assert fake_api.requests == []


def test_the_finished_protocol_itself_is_not_offered_again(fake_api: FakeApi) -> None:
    slots = {**FINISHED, "pending_protocol": EGG}
    events, messages = run(ActionRecordDecision(), finished_tracker(slots))
    assert events[-1] == SlotSet("pending_protocol", None)
    assert "Wilt u nu ook" not in texts(messages)[-1]


def test_the_lhbti_record_without_consent_holds_no_ground(fake_api: FakeApi, caplog) -> None:
    answers = [{"step": "acuut_gevaar", "answer": "nee"}, {"step": "toestemming_registratie", "answer": "nee"},
               {"step": "wie_bewoner", "answer": "volwassene"},
               {"step": "wie_dreigt", "answer": "geen_dreiging"}, {"step": "andere_woonplek", "answer": "nee"}]
    slots = {**FINISHED, "protocol": "lhbti_ondersteuning", "protocol_step": "uitkomst_steun", "acute": False,
             "protocol_answers": answers}
    with caplog.at_level(logging.DEBUG):
        run(ActionRecordDecision(), finished_tracker(slots))
    (post,) = [r for r in fake_api.requests if is_incident_post(r)]
    assert post["body"]["steps"] == answers


def test_the_consented_ground_is_recorded_but_never_logged(fake_api: FakeApi, caplog) -> None:
    answers = [{"step": "acuut_gevaar", "answer": "nee"}, {"step": "toestemming_registratie", "answer": "ja"},
               {"step": "grond_registratie", "answer": "geloof_verlaten"},
               {"step": "wie_bewoner", "answer": "volwassene"},
               {"step": "wie_dreigt", "answer": "geen_dreiging"}, {"step": "andere_woonplek", "answer": "nee"}]
    slots = {**FINISHED, "protocol": "lhbti_ondersteuning", "protocol_step": "uitkomst_steun", "acute": False,
             "protocol_answers": answers}
    fake_api.fail_status = 422
    # FastAPI echoes the rejected input in a 422; none of it may reach the log.
    fake_api.fail_body = {"detail": [{"type": "value_error", "loc": ["body", "steps", 2],
                                      "msg": "Value error, unknown", "input": answers[2]}]}
    with caplog.at_level(logging.DEBUG):
        run(ActionRecordDecision(), finished_tracker(slots))
    (post,) = [r for r in fake_api.requests if is_incident_post(r)]
    assert {"step": "grond_registratie", "answer": "geloof_verlaten"} in post["body"]["steps"]
    assert "geloof_verlaten" not in caplog.text
    assert "body.steps.2: Value error, unknown" in caplog.text


LHBTI_REFUSED = {"protocol": "lhbti_ondersteuning", "protocol_step": "uitkomst_steun", "acute": False,
                 "location": "TERAPEL", "protocol_answer": "klaar", "misses": 0.0,
                 "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"},
                                      {"step": "toestemming_registratie", "answer": "nee"},
                                      {"step": "wie_bewoner", "answer": "volwassene"},
                                      {"step": "wie_dreigt", "answer": "familie"},
                                      {"step": "andere_woonplek", "answer": "nee"}]}


def test_without_consent_the_decision_is_posted_under_the_neutral_category(fake_api: FakeApi,
                                                                           knowledge: Knowledge) -> None:
    """Issue 12 part 3: the counsellor gets the whole advice; the record names neither the
    protocol nor the LHBTI organisations, and the counsellor is told how it was filed."""
    _, messages = run(ActionRecordDecision(), finished_tracker(LHBTI_REFUSED))
    (post,) = [r for r in fake_api.requests if is_incident_post(r)]
    body = post["body"]
    assert body.pop("idempotency_key").startswith("algemene_veiligheid:")
    assert body == {
        "conversation_id": "conv-1", "location": "TERAPEL", "protocol": "algemene_veiligheid",
        "protocol_version": "1.2.0", "acute": False, "referrals": ["veilig_thuis", "politie"],
        "steps": LHBTI_REFUSED["protocol_answers"], "outcome": "steun_op_locatie", "channel": "rest",
        "staff_id": "unverified"}
    said = texts(messages)
    assert "Roze in Blauw" in "\n".join(said) and "COC" in "\n".join(said)
    assert said[-2] == ("De bewoner gaf geen toestemming: het besluit is vastgelegd als 'Veiligheid van een "
                        "bewoner', zonder de reden van de steun en zonder de organisaties die die reden verraden.\n"
                        "Referentie van het vastgelegde besluit: EGG-20261129-0001")
    # Threats from the family: the honour-based violence protocol is offered next (hand_over).
    assert said[-1] == "Wilt u nu ook het protocol Eergerelateerd geweld doorlopen?"

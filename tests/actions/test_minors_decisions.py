"""Minors and the morning-after pill through the engine and the presenter (issue 13
parts 3 and 4): every run of every protocol that answers "amv" ends in a decision that
refers to Nidos, and the advice the counsellor gets lists Nidos with the other
organisations; the pregnancy protocol's morning-after-pill answer is decided without a
weeks question, and sex that was not consensual offers the sexual-violence protocol."""

from __future__ import annotations

import pytest

from actions import presenter
from actions.engine import ProtocolEngine, ProtocolState, UserInput
from knowledge import Knowledge, iter_paths, load_knowledge

OZ = "ongewenste_zwangerschap"


def walk_path(engine: ProtocolEngine, protocol_id: str, path) -> ProtocolState:
    """Answers every question of ``path`` with its button (a choice value, ja/nee, a number)."""
    state = engine.start(protocol_id)
    for item in path[:-1]:
        if item.step.kind == "instruction":
            continue
        answer = "vrije tekst" if item.step.kind == "text" else str(item.answer)
        turn = engine.answer(state, UserInput(text=answer, keuze=answer))
        assert turn.understood, (item.step.id, answer)
        state = turn.state
    assert engine.is_finished(state)
    return state


def amv_paths(knowledge: Knowledge, protocol_id: str) -> list:
    return [p for p in iter_paths(knowledge.protocols[protocol_id])
            if any(item.step.kind == "choice" and item.answer == "amv" for item in p)]


@pytest.mark.parametrize("protocol_id", sorted(load_knowledge().protocols))
def test_every_amv_run_refers_to_nidos_in_the_decision_and_the_advice(engine: ProtocolEngine,
                                                                       knowledge: Knowledge,
                                                                       protocol_id: str) -> None:
    paths = amv_paths(knowledge, protocol_id)
    assert paths, f"{protocol_id} never asks whether the victim is an unaccompanied minor"
    for path in paths:
        decision = engine.decision(walk_path(engine, protocol_id, path))
        assert "nidos" in decision.referrals, [i.step.id for i in path]
        assert "nidos" in decision.payload()["referrals"]
    # the advice of the last run names the guardian among the organisations to contact
    messages = presenter.outcome(decision, knowledge, location_name="Ter Apel", holders=[])
    contacts = next(m["text"] for m in messages if m["text"].startswith("Neem contact op met:"))
    assert knowledge.organisations["nidos"].name in contacts


def test_the_morning_after_pill_is_decided_without_a_weeks_question(engine: ProtocolEngine) -> None:
    state = engine.answer(engine.start(OZ), UserInput("nee")).state
    assert state.step == "morning_afterpil"
    turn = engine.answer(state, UserInput("ja, het condoom is gisteren gescheurd"))
    assert turn.understood and [s.id for s in turn.instructions] == ["noodanticonceptie"]
    assert turn.step.id == "nood_wie"
    state = engine.answer(turn.state, UserInput('/kies{"keuze": "volwassene"}', "kies", "volwassene")).state
    assert state.step == "seks_vrijwillig"
    consensual = engine.decision(engine.answer(state, UserInput("ja")).state)
    assert consensual.outcome == "noodanticonceptie" and consensual.hand_overs == ()
    assert consensual.referrals == ["gza", "fiom", "siriz"]
    assert [s["step"] for s in consensual.steps] == ["acuut_gevaar", "morning_afterpil", "nood_wie",
                                                     "seks_vrijwillig"]
    forced = engine.decision(engine.answer(state, UserInput("nee")).state)
    assert forced.outcome == "noodanticonceptie_seksueel_geweld"
    assert forced.hand_overs == ("seksueel_geweld",)
    assert {"centrum_seksueel_geweld", "veilig_thuis", "gza"} <= set(forced.referrals)


def test_a_pregnancy_under_16_offers_the_sexual_violence_protocol(engine: ProtocolEngine,
                                                                  knowledge: Knowledge) -> None:
    oz = knowledge.protocols[OZ]
    path = next(p for p in iter_paths(oz)
                if {i.step.id: i.answer for i in p}.get("leeftijd") == 0
                and not any(i.step.hand_over and i.step.hand_over != "seksueel_geweld" for i in p))
    decision = engine.decision(walk_path(engine, OZ, path))
    assert decision.hand_overs == ("seksueel_geweld",)
    assert "veilig_thuis" in decision.referrals

"""Consent that holds (issue 12 part 3): a privacy protocol's decision recorded without
the resident's consent names neither the protocol nor anything from which orientation
or religion can be read; with consent it is recorded in full. Over every path."""

from __future__ import annotations

import json
import re

import pytest

from actions.engine import ProtocolEngine, ProtocolState, record_id
from knowledge import Knowledge, iter_paths, load_knowledge

LHBTI = "lhbti_ondersteuning"
#: Words (and ids) from which orientation or religion could be read in a record.
REVEALING = re.compile(r"lhbt|lgbt|\bcoc\b|roze|homo|lesb|bisek|transg|orient|geloof|bekeer|bekering|religi",
                       re.IGNORECASE)


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge()


@pytest.fixture(scope="module")
def engine(knowledge: Knowledge) -> ProtocolEngine:
    return ProtocolEngine(knowledge)


def finished_states(knowledge: Knowledge, protocol_id: str) -> list[ProtocolState]:
    """One finished run per path of the protocol graph."""
    states = []
    for path in iter_paths(knowledge.protocols[protocol_id]):
        answers = [{"step": p.step.id, "answer": p.answer} for p in path if p.step.is_question]
        states.append(ProtocolState(protocol=protocol_id, step=path[-1].step.id, answers=answers))
    return states


def consented(state: ProtocolState) -> bool:
    return {"step": "toestemming_registratie", "answer": "ja"} in state.answers


def test_every_privacy_protocol_is_filed_under_a_neutral_category(knowledge: Knowledge) -> None:
    private = [p for p in knowledge.protocols.values() if p.privacy is not None]
    assert [p.id for p in private] == [LHBTI]
    for protocol in private:
        assert record_id(protocol) in knowledge.categories
        assert not REVEALING.search(record_id(protocol) + knowledge.record_title(record_id(protocol)))


def test_without_consent_no_field_of_the_record_reveals_orientation_or_religion(
        knowledge: Knowledge, engine: ProtocolEngine) -> None:
    refused = [s for s in finished_states(knowledge, LHBTI) if not consented(s)]
    assert len(refused) >= 5  # acute or not, every kind of threat, both outcomes
    for state in refused:
        payload = engine.decision(state).payload()
        assert payload["protocol"] == "algemene_veiligheid"
        assert not REVEALING.findall(json.dumps(payload)), payload
        assert {s["step"] for s in payload["steps"]} <= {"acuut_gevaar", "toestemming_registratie", "wie_bewoner",
                                                         "ouders_dreigen", "wie_dreigt", "andere_woonplek"}
        assert {"step": "toestemming_registratie", "answer": "nee"} in payload["steps"]


def test_without_consent_the_counsellor_still_gets_the_whole_advice(knowledge: Knowledge,
                                                                    engine: ProtocolEngine) -> None:
    state = next(s for s in finished_states(knowledge, LHBTI)
                 if not consented(s) and {"step": "wie_dreigt", "answer": "familie"} in s.answers)
    decision = engine.decision(state)
    assert decision.protocol == LHBTI
    assert {"coc", "lgbt_asylum_support", "roze_in_blauw", "veilig_thuis"} <= set(decision.referrals)
    payload = decision.payload()
    assert payload["referrals"] == [r for r in decision.referrals
                                    if r not in ("coc", "lgbt_asylum_support", "roze_in_blauw")]
    assert "veilig_thuis" in payload["referrals"] and "politie" in payload["referrals"]
    assert payload["outcome"] == decision.outcome and payload["acute"] == decision.acute


def test_with_consent_the_record_is_the_protocols_own(knowledge: Knowledge, engine: ProtocolEngine) -> None:
    agreed = [s for s in finished_states(knowledge, LHBTI) if consented(s)]
    assert agreed
    for state in agreed:
        decision = engine.decision(state)
        payload = decision.payload()
        assert payload["protocol"] == LHBTI
        assert payload["referrals"] == decision.referrals
        assert payload["steps"] == decision.steps


def test_protocols_without_a_privacy_block_are_recorded_unchanged(knowledge: Knowledge,
                                                                  engine: ProtocolEngine) -> None:
    for protocol_id, protocol in knowledge.protocols.items():
        if protocol.privacy is not None:
            continue
        state = finished_states(knowledge, protocol_id)[0]
        decision = engine.decision(state)
        assert decision.payload()["protocol"] == protocol_id == record_id(protocol)
        assert decision.payload()["steps"] == decision.steps

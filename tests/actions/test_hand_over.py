"""Hand-over between protocols from the knowledge (``hand_over`` on a step, issue 13):
trafficking signals in the pregnancy protocol offer the trafficking protocol right
after the decision; family threats in the LHBTI protocol offer honour-based violence."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from actions import ActionRecordDecision, outbox
from actions.engine import ProtocolEngine, ProtocolState
from knowledge import Knowledge, KnowledgeError, iter_paths, load_knowledge
from knowledge.loader import PACKAGE_DIR
from tests.actions.conftest import FakeApi
from tests.actions.helpers import action_event, make_tracker, run

OZ = "ongewenste_zwangerschap"


@pytest.fixture(autouse=True)
def _own_outbox(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("COA_OUTBOX_PATH", str(tmp_path / "outbox.db"))
    outbox.close_outbox()
    yield
    outbox.close_outbox()


def finished(knowledge: Knowledge, protocol_id: str, through: str | None) -> ProtocolState:
    """A finished run of ``protocol_id`` whose path passes ``through`` (or avoids every hand-over)."""
    for path in iter_paths(knowledge.protocols[protocol_id]):
        ids = {item.step.id for item in path}
        handing = {item.step.id for item in path if item.step.hand_over}
        if (through in ids) if through else not handing:
            answers = [{"step": p.step.id, "answer": p.answer} for p in path if p.step.is_question]
            return ProtocolState(protocol=protocol_id, step=path[-1].step.id, answers=answers)
    raise AssertionError(f"no path of {protocol_id} through {through}")


def test_the_decision_names_the_protocols_handed_over_to(knowledge: Knowledge) -> None:
    engine = ProtocolEngine(knowledge)
    assert engine.decision(finished(knowledge, OZ, "mensenhandel_melden")).hand_overs[0] == "mensenhandel"
    assert engine.decision(finished(knowledge, OZ, None)).hand_overs == ()
    lhbti = engine.decision(finished(knowledge, "lhbti_ondersteuning", "familie_eergerelateerd"))
    assert lhbti.hand_overs == ("eergerelateerd_geweld",)


def tracker_for(state: ProtocolState, pending: str | None = None):
    slots: dict[str, Any] = {**state.to_slots(), "location": "TERAPEL", "protocol_answer": "klaar", "misses": 0.0,
                             "pending_protocol": pending}
    return make_tracker(text="/deny", intent="deny", slots=slots, metadata={"location": "TERAPEL"},
                        events_before=[action_event("action_start_protocol", 42.5)])


def test_after_the_decision_the_hand_over_is_offered_once(fake_api: FakeApi, knowledge: Knowledge) -> None:
    _, messages = run(ActionRecordDecision(), tracker_for(finished(knowledge, OZ, "mensenhandel_melden"),
                                                          pending="seksueel_geweld"))
    offers = [{"text": m["text"], "buttons": m["buttons"]} for m in messages
              if str(m.get("text", "")).startswith("Wilt u nu ook het protocol")]
    trafficking = knowledge.protocols["mensenhandel"]
    assert offers == [{"text": f"Wilt u nu ook het protocol {trafficking.title} doorlopen?",
                       "buttons": [{"title": f"Start: {trafficking.title}", "payload": f"/{trafficking.intent}"},
                                   {"title": "Nu niet", "payload": "/deny"}]}]


def test_without_a_hand_over_the_second_topic_is_offered(fake_api: FakeApi, knowledge: Knowledge) -> None:
    _, messages = run(ActionRecordDecision(), tracker_for(finished(knowledge, OZ, None), pending="seksueel_geweld"))
    offers = [m for m in messages if str(m.get("text", "")).startswith("Wilt u nu ook het protocol")]
    assert [o["buttons"][0]["payload"] for o in offers] == ["/melding_seksueel_geweld"]


def test_a_hand_over_to_an_unknown_protocol_is_refused(tmp_path) -> None:
    root = tmp_path / "knowledge"
    shutil.copytree(PACKAGE_DIR, root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = root / "protocols" / f"{OZ}.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("hand_over: mensenhandel", "hand_over: mensenhandl"),
                    encoding="utf-8")
    with pytest.raises(KnowledgeError, match="hand_over 'mensenhandl'"):
        load_knowledge(root)


def test_domestic_violence_with_honour_motives_hands_over_to_honour_based_violence(knowledge: Knowledge) -> None:
    engine = ProtocolEngine(knowledge)
    decision = engine.decision(finished(knowledge, "huiselijk_geweld", "overdracht_eergerelateerd_geweld"))
    assert decision.outcome == "overdracht_eergerelateerd_geweld"
    assert decision.hand_overs == ("eergerelateerd_geweld",)

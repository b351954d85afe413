"""action_session_start: a new Rasa session after a quiet spell, with exact events."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, SessionStarted, SlotSet

from actions import ActionSessionStart
from tests.actions.helpers import run, texts

RUN_SLOTS = {"protocol": "lhbti_ondersteuning", "protocol_step": "toestemming_vastleggen",
             "protocol_answers": [{"step": "acuut_gevaar", "answer": "nee"}], "protocol_run": "run-7",
             "location": "TERAPEL", "requested_slot": "protocol_answer", "acute": False,
             "session_started_metadata": {"location": "TERAPEL"}, "pending_protocol": None}


def expired(slots: dict[str, Any], active_loop: dict[str, Any] | None) -> Tracker:
    """The tracker Rasa sends when the last session expired: before the new message."""
    return Tracker.from_dict({
        "sender_id": "conv-9", "slots": slots, "latest_message": {}, "events": [],
        "active_loop": active_loop or {}, "latest_action_name": "action_listen",
    })


def carried(slots: dict[str, Any]) -> list[dict[str, Any]]:
    return [SlotSet(name, value) for name, value in slots.items() if value is not None]


def test_an_open_run_goes_on_where_it_was() -> None:
    events, messages = run(ActionSessionStart(), expired(RUN_SLOTS, {"name": "protocol_form"}))
    assert events == [SessionStarted(), *carried(RUN_SLOTS), ActiveLoop("protocol_form"),
                      ActionExecuted("action_listen")]
    assert texts(messages) == [
        "We gaan verder met het protocol LHBTI-bewoners en bekeerlingen, bij de vraag waar u was; het gesprek "
        "lag een tijd stil en er is nog niets vastgelegd. Wilt u niet verder, typ dan 'stop'."]


def test_the_general_path_goes_on_too() -> None:
    slots = {**RUN_SLOTS, "protocol": "algemene_veiligheid", "protocol_step": "wie"}
    events, messages = run(ActionSessionStart(), expired(slots, {"name": "protocol_form"}))
    assert ActiveLoop("protocol_form") in events
    assert "Algemene veiligheidsstappen" in texts(messages)[0]


def test_without_an_open_run_it_is_rasas_own_session_start() -> None:
    """A new conversation, a run that ended (the form closed) or another form: the slots
    are carried over and nothing is said."""
    finished = {**RUN_SLOTS, "requested_slot": None, "incident_reference": "LHB-20261207-AB12"}
    for slots, loop in (({}, None), (finished, None), (RUN_SLOTS, {"name": "follow_up_reason_form"})):
        events, messages = run(ActionSessionStart(), expired(slots, loop))
        assert events == [SessionStarted(), *carried(slots), ActionExecuted("action_listen")]
        assert messages == []

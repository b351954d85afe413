"""Slot, form and action names shared with the Rasa domain (docs/INTERFACES.md)."""

from __future__ import annotations

from typing import Any

LOCATION = "location"
PROTOCOL = "protocol"
PROTOCOL_STEP = "protocol_step"
PROTOCOL_ANSWERS = "protocol_answers"
PROTOCOL_ANSWER = "protocol_answer"
ACUTE = "acute"
INCIDENT_REFERENCE = "incident_reference"
MISSES = "misses"
PENDING_PROTOCOL = "pending_protocol"
#: The protocol offered after the decision ("Wilt u nu ook het protocol … doorlopen?").
OFFERED_PROTOCOL = "offered_protocol"
#: The run marker of the protocol run in progress (session log ``run_id``).
PROTOCOL_RUN = "protocol_run"
REQUESTED_SLOT = "requested_slot"

FORM = "protocol_form"
#: Value of ``protocol_answer`` once an outcome is reached: the form is complete.
DONE = "klaar"

#: Rasa's own: wait for the next message.
ACTION_LISTEN = "action_listen"
ACTION_START_PROTOCOL = "action_start_protocol"
ACTION_ACUTE_DANGER = "action_acute_danger"
ACTION_RECORD_DECISION = "action_record_decision"
ACTION_NOT_UNDERSTOOD = "action_niet_begrepen"
ACTION_ANSWER_OFFER = "action_aanbod_beantwoorden"
ACTION_GREET = "action_begroeten"

STOP_INTENT = "stop"
RESTART_INTENT = "opnieuw"
BACK_INTENT = "terug"


def cleared_protocol() -> dict[str, Any]:
    """Slot values of "no protocol running" (location is kept for the conversation)."""
    return {
        PROTOCOL: None,
        PROTOCOL_STEP: None,
        PROTOCOL_ANSWERS: None,
        PROTOCOL_ANSWER: None,
        ACUTE: False,
        MISSES: 0.0,
        PROTOCOL_RUN: None,
    }

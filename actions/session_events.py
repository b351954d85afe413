"""What happened in a protocol run, as guidance-session log events (issue 5.1).

The actions call one function here per thing that happened; this module turns
it into ``SessionEvent``s (``actions.session_log``) and stores them in the
durable outbox (``actions.outbox``, kind ``session_event``; the events of one
action in one transaction), whose background loop delivers them to
``POST /api/v1/sessions/events/batch`` (a conversation's pending events in one
request). Nothing here waits for the API, and nothing here raises: the session
log must never cost the counsellor the safety advice.

Run and order
    ``action_start_protocol`` makes a *run id* (``new_run_id``) and keeps it in
    the ``protocol_run`` slot; every event of the run carries it, so a second
    protocol in the same conversation is a second session. The outbox delivers
    a conversation's events one after the other, oldest first, so the API's
    ``seq`` follows the conversation.

Idempotency
    Each event's key is derived from the conversation, a *marker* and the
    event: the marker names the moment (the tracker's size and latest event
    time, plus the event's place in this action's list), so a retried action
    stores nothing twice and the same question asked again later is a new event.
    ``started`` uses the run id as its marker: it is logged by
    ``action_start_protocol`` when the location is known there, else with the
    run's first question (once the form knows the location); the same key
    makes the second try a no-op.

Privacy (AVG art. 9)
    An answer is logged only when the decision would record it (the engine's
    consent rule, ``ProtocolEngine.recordable``); free-text answers are never
    logged (the decision holds them); never the counsellor's own words (a
    look-up is logged by the answer shown, not by the question typed).
    A protocol with a ``privacy`` block (LHBTI and converts) is logged under its
    neutral category from the first event, because the log starts before the
    resident is asked for consent: step ids, the answers of its neutral steps and
    the 112 advice, never its texts (they say what the support is about).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from rasa_sdk import Tracker

from actions import presenter
from actions import slots as names
from actions.engine import Decision, EngineError, ProtocolState, Turn, record_id
from actions.knowledge_cache import get_engine
from actions.outbox import get_outbox
from actions.session_log import SessionEvent, event_payload
from actions.tracker_utils import action_timestamp, metadata_location, staff_id
from knowledge import Protocol, Step

logger = logging.getLogger(__name__)

KIND = "session_event"
#: ``answer_given`` of a free-text step: the answer itself is only in the decision.
FREE_TEXT_NOTE = "Vrij tekstantwoord: staat alleen in het vastgelegde besluit."
#: ``answer_given`` of a consent-gated step without consent.
NO_CONSENT_NOTE = "Antwoord niet vastgelegd: geen toestemming van de bewoner."
NOT_RECORDED_NOTE = "Het besluit is niet vastgelegd (de registratie weigerde het of was onbereikbaar)."
#: The text of an event of a privacy protocol (see the module's "Privacy").
PRIVATE_NOTE = "Tekst niet in het logboek: dit protocol gaat over bijzondere persoonsgegevens."
_CODE = re.compile(r"^[A-Za-z0-9_-]{2,32}$")


@dataclass(frozen=True)
class Run:
    """Who, where and what: the fields every event of one protocol run carries."""

    conversation_id: str
    run_id: str | None
    location: str
    protocol: str
    protocol_version: str
    staff_id: str | None
    channel: str | None
    #: Steps whose answers a privacy protocol's log may keep; None: not a privacy protocol.
    neutral_steps: tuple[str, ...] | None = None


# --------------------------------------------------------------------------- markers


def moment(tracker: Tracker) -> str:
    """Names the point in the conversation an action runs at: stable when Rasa
    retries the action, different for every later action."""
    events = tracker.events or []
    stamp = next((e.get("timestamp") for e in reversed(events) if e.get("timestamp") is not None), None)
    return f"{len(events)}@{stamp!r}"


def new_run_id(tracker: Tracker) -> str:
    """The run id of a protocol started now (kept in the ``protocol_run`` slot)."""
    return "run-" + moment(tracker)


def run_id_of(tracker: Tracker) -> str | None:
    """The run in progress: the slot, else (a run started before the slot existed)
    the time of the latest ``action_start_protocol``."""
    value = tracker.get_slot(names.PROTOCOL_RUN)
    if value:
        return str(value)
    started = action_timestamp(tracker, names.ACTION_START_PROTOCOL)
    return None if started is None else f"run-{started!r}"


def _run(tracker: Tracker, protocol_id: str | None, *, run_id: str | None = None,
         location: str | None = None) -> Run | None:
    """None when there is nothing to file the event under (no protocol or no location yet)."""
    location = location or tracker.get_slot(names.LOCATION)
    protocol = get_engine().knowledge.guide(protocol_id or "")
    if not location or protocol is None:
        return None
    return Run(
        conversation_id=tracker.sender_id,
        run_id=run_id or run_id_of(tracker),
        location=str(location),
        protocol=record_id(protocol),
        protocol_version=protocol.version,
        # Pseudonymous id from a verified channel, else "unverified"; never a name.
        staff_id=staff_id(tracker),
        channel=tracker.get_latest_input_channel() or None,
        neutral_steps=protocol.privacy.neutral_steps if protocol.privacy else None,
    )


_NEUTRAL_TEXTS = frozenset({None, presenter.ACUTE_TEXT, FREE_TEXT_NOTE, NO_CONSENT_NOTE, NOT_RECORDED_NOTE})


def _private(run: Run, event: SessionEvent) -> SessionEvent:
    """A privacy protocol's event as its log may keep it (see the module's "Privacy")."""
    if run.neutral_steps is None:
        return event
    if event.type == "started":
        return replace(event, text=get_engine().knowledge.record_title(run.protocol))
    text = event.text if event.text in _NEUTRAL_TEXTS else PRIVATE_NOTE
    keep_answer = event.answer is None or event.step in run.neutral_steps
    return replace(event, text=text if keep_answer else NO_CONSENT_NOTE,
                   answer=event.answer if keep_answer else None)


# --------------------------------------------------------------------------- storing


def payloads(run: Run, events: Sequence[tuple[str, SessionEvent]]) -> list[dict[str, Any]]:
    """``(marker, event)`` pairs -> ``POST /sessions/events`` bodies."""
    return [
        event_payload(run.conversation_id, marker=marker, run_id=run.run_id, location=run.location,
                      protocol=run.protocol, protocol_version=run.protocol_version, event=_private(run, event),
                      staff_id=run.staff_id, channel=run.channel)
        for marker, event in events
    ]


def _enqueue_now(bodies: list[dict[str, Any]]) -> None:
    # One transaction (one fsync) and one wake of the delivery loop for all of them.
    get_outbox().enqueue_many(KIND, [(str(body["idempotency_key"]), body) for body in bodies])


async def _store(run: Run | None, events: Sequence[tuple[str, SessionEvent]]) -> None:
    if run is None or not events:
        return
    bodies = payloads(run, events)
    try:
        # SQLite with synchronous=FULL: a few milliseconds, off the event loop.
        await asyncio.to_thread(_enqueue_now, bodies)
    except (sqlite3.Error, OSError, ValueError) as error:
        # Only what identifies the events, never their text or answers.
        logger.warning("session events not stored: conversation=%s types=%s: %s", run.conversation_id,
                       ",".join(e.type for _, e in events), error)


def _numbered(tag: str, tracker: Tracker, events: Sequence[SessionEvent]) -> list[tuple[str, SessionEvent]]:
    base = f"{tag}:{moment(tracker)}"
    return [(f"{base}:{index}", event) for index, event in enumerate(events)]


def _opening(run_id: str | None, protocol: Protocol, acute_shown: bool,
             reason: str | None = None) -> list[tuple[str, SessionEvent]]:
    """``started`` (and the 112 advice given with the start, and why this protocol leads
    when the report seemed to ask for another), keyed by the run."""
    marker = f"open:{run_id}"
    events = [(f"{marker}:0", SessionEvent("started", text=protocol.title))]
    if acute_shown:
        events.append((f"{marker}:1", _acute(None, protocol.id)))
    if reason:
        events.append((f"{marker}:2", SessionEvent("advice_shown", text=reason)))
    return events


def _acute(step: str | None, protocol_id: str) -> SessionEvent:
    """The 112 advice as it was shown in a run of ``protocol_id``."""
    text = presenter.acute_danger(get_engine().acute_step(protocol_id))["text"]
    return SessionEvent("advice_shown", step=step, text=text)


def _instruction_events(instructions: Sequence[Step], shown: Sequence[str]) -> list[SessionEvent]:
    """The instruction steps passed, with their texts as shown (the first messages)."""
    return [SessionEvent("advice_shown", step=s.id, text=text)
            for s, text in zip(instructions, shown, strict=False)]


def _texts(messages: Sequence[dict[str, Any]]) -> str:
    return "\n\n".join(str(m.get("text") or "") for m in messages if m.get("text"))


# --------------------------------------------------------------------------- what happened


async def run_started(tracker: Tracker, run_id: str, state: ProtocolState, *, acute_shown: bool,
                      reason: str | None = None, answered: Turn | None = None) -> None:
    """``action_start_protocol``: the run begins. Logged now when the channel says
    where (else with the first question, see ``question_asked``). ``reason``: the text
    shown when this protocol leads instead of the one the report seemed to ask for;
    ``answered``: the report's own answer to the first question (``state``'s step)."""
    location = metadata_location(tracker) or tracker.get_slot(names.LOCATION)
    if not location or not _CODE.match(location):
        return  # a name, not a code: the form validates it first
    run = _run(tracker, state.protocol, run_id=run_id, location=location.upper())
    if run is None:
        return
    events = _opening(run_id, get_engine().protocol(state.protocol), acute_shown, reason)
    if answered is not None:
        events.append((f"open:{run_id}:3", _answer_event(get_engine().step(state), answered)))
    await _store(run, events)


async def question_asked(tracker: Tracker, state: ProtocolState, step: Step,
                         messages: Sequence[dict[str, Any]], instructions: Sequence[Step]) -> None:
    """A question asked by the form (``actions.form_questions``): the instructions passed on the way (advice)
    and the question, with exactly the texts shown (``messages``)."""
    run = _run(tracker, state.protocol)
    if run is None:
        return
    shown = [str(m.get("text") or "") for m in messages]
    events = _instruction_events(instructions, shown)
    events.append(SessionEvent("question_asked", step=step.id, text=shown[-1] if shown else step.text))
    opening = _opening(run.run_id, get_engine().protocol(state.protocol), False)
    await _store(run, [*opening, *_numbered("ask", tracker, events)])


async def answer_given(tracker: Tracker, before: ProtocolState, turn: Turn) -> None:
    """``validate_protocol_form``: an accepted answer (and 112 when it means danger now)."""
    try:
        step = get_engine().step(before)
        event = _answer_event(step, turn)
    except EngineError:
        return
    events = [event, _acute(step.id, before.protocol)] if turn.acute else [event]
    await _store(_run(tracker, before.protocol), _numbered("answer", tracker, events))


def _answer_event(step: Step, turn: Turn) -> SessionEvent:
    """The answer to ``step`` as the log may keep it: never free text, never a ground
    recorded without consent."""
    if step.kind == "text":
        return SessionEvent("answer_given", step=step.id, text=FREE_TEXT_NOTE)
    if not get_engine().recordable(turn.state, step.id):
        return SessionEvent("answer_given", step=step.id, text=NO_CONSENT_NOTE)
    return SessionEvent("answer_given", step=step.id, answer=turn.answer)


async def acute_advice(tracker: Tracker, state: ProtocolState) -> None:
    """Danger now reported while a question was open: 112 was said."""
    await _store(_run(tracker, state.protocol), _numbered("acute", tracker, [_acute(state.step, state.protocol)]))


async def lookup_answered(tracker: Tracker, state: ProtocolState, messages: Sequence[dict[str, Any]]) -> None:
    """A look-up answered inside the form (what was shown, not what was typed)."""
    event = SessionEvent("lookup_answered", step=state.step, text=_texts(messages)[:4000] or None)
    await _store(_run(tracker, state.protocol), _numbered("lookup", tracker, [event]))


async def went_back(tracker: Tracker, before: ProtocolState, after: ProtocolState) -> None:
    """``terug``: ``step`` is the question asked again."""
    event = SessionEvent("step_back", step=after.step, text=presenter.went_back()["text"])
    await _store(_run(tracker, before.protocol), _numbered("back", tracker, [event]))


async def restarted(tracker: Tracker, before: ProtocolState, after: ProtocolState) -> None:
    """``opnieuw``: the same run, from the first question."""
    protocol = get_engine().protocol(before.protocol)
    event = SessionEvent("restarted", step=after.step, text=presenter.restarted(protocol)["text"])
    await _store(_run(tracker, before.protocol), _numbered("restart", tracker, [event]))


async def stopped(tracker: Tracker, state: ProtocolState | None, *, acute_shown: bool = False) -> None:
    """``stop``: the run ends without a decision."""
    if state is None:
        return
    events = [_acute(state.step, state.protocol)] if acute_shown else []
    events.append(SessionEvent("stopped", step=state.step, text=presenter.stopped()["text"]))
    await _store(_run(tracker, state.protocol), _numbered("stop", tracker, events))


async def error(tracker: Tracker, state: ProtocolState | None, text: str) -> None:
    """Something went wrong in the run (e.g. the state no longer fits the protocol)."""
    if state is None:
        return
    event = SessionEvent("error", step=state.step, text=text)
    await _store(_run(tracker, state.protocol), _numbered("error", tracker, [event]))


async def decision_shown(tracker: Tracker, decision: Decision, instructions: Sequence[Step],
                         messages: Sequence[dict[str, Any]], reference: str | None) -> None:
    """``action_record_decision``: the instructions passed, the outcome, each advice line,
    the other advice shown with it (whom to contact, whom to involve), then the
    incident's reference (delivered, or the provisional one while queued), or an
    ``error`` when nothing could be recorded."""
    step = decision.outcome_step
    shown = [str(m.get("text") or "") for m in messages]
    events = _instruction_events(instructions, shown)
    events.append(SessionEvent("outcome", step=step.id, outcome=decision.outcome,
                               text=presenter.outcome_text(step)))
    events.extend(SessionEvent("advice_shown", step=step.id, text=line) for line in decision.actions)
    advice = presenter.advice_text(decision.actions) if decision.actions else None
    skip = {presenter.outcome_text(step), advice}
    events.extend(SessionEvent("advice_shown", step=step.id, text=text)
                  for text in shown[len(instructions):] if text and text not in skip)
    if reference:
        events.append(SessionEvent("incident_recorded", step=step.id, incident_reference=reference))
    else:
        events.append(SessionEvent("error", step=step.id, text=NOT_RECORDED_NOTE))
    await _store(_run(tracker, decision.protocol), _numbered("decision", tracker, events))

"""Recording the decision of a finished protocol and showing the outcome."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import follow_up_actions, presenter, session_events
from actions import slots as names
from actions.engine import Decision, EngineError, ProtocolState
from actions.knowledge_cache import get_engine
from actions.locations import location_name
from actions.lookups import fetch_holders, fetch_locations, record_incident
from actions.outbox import DELIVERED, PENDING, OutboxItem, get_outbox, provisional_reference, resume_if_pending
from actions.presenter import utter
from actions.tracker_utils import action_timestamp, staff_id

logger = logging.getLogger(__name__)

#: A first delivery attempt that failed faster than this is tried once more, after the pause.
QUICK_FAILURE_S = 1.0
RETRY_PAUSE_S = 0.2

# Decisions left undelivered by a previous run of the action server are sent now,
# not only after the next decision (COA_OUTBOX_RESUME=0 turns this off).
resume_if_pending()


def idempotency_key(tracker: Tracker, decision: Decision) -> str:
    """Same conversation, protocol run and answers -> same key.

    The run is identified by the timestamp of its ``action_start_protocol``
    event, which is stored in the tracker, so an action that Rasa retries (or
    a later outbox re-send) posts the same key and the API returns the
    incident it already has instead of creating a second one. Hashed so that
    no answer text ends up in the key.
    """
    started = action_timestamp(tracker, names.ACTION_START_PROTOCOL)
    basis = [tracker.sender_id, decision.protocol, repr(started), repr(decision.steps)]
    digest = hashlib.sha256("\x1f".join(basis).encode("utf-8")).hexdigest()
    # The prefix is what the record is filed under: never a protocol the record may not name.
    return f"{decision.recorded.protocol}:{digest[:40]}"


def incident_payload(tracker: Tracker, decision: Decision) -> dict[str, Any]:
    """The body of ``POST /api/v1/incidents`` (INTERFACES.md)."""
    payload: dict[str, Any] = {
        "idempotency_key": idempotency_key(tracker, decision),
        "conversation_id": tracker.sender_id,
        "location": tracker.get_slot(names.LOCATION),
        **decision.payload(),
    }
    # Pseudonymous id from a verified channel, else "unverified"; never a name.
    payload["staff_id"] = staff_id(tracker)
    channel = tracker.get_latest_input_channel()
    if channel:
        payload["channel"] = channel
    return payload


class ActionRecordDecision(Action):
    """Runs when ``protocol_form`` completes: records the decision, then shows the advice.

    Does nothing when no finished protocol is in the slots: the form also
    completes when the counsellor stops it, and then nothing may be recorded.
    """

    def name(self) -> str:
        return names.ACTION_RECORD_DECISION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        engine = get_engine()
        state = ProtocolState.from_slots(tracker.slots)
        if state is None:
            # Stopped: nothing to record, but a second topic noted on the way is still offered.
            return offer_next_protocol(dispatcher, tracker)
        try:
            if not engine.is_finished(state):
                logger.warning("action_record_decision before an outcome (step %s)", state.step)
                return []
            decision = engine.decision(state)
            instructions = engine.pending_instructions(state)
        except EngineError:
            logger.exception("protocol state does not fit the knowledge")
            dispatcher.utter_message(**presenter.state_lost())
            await session_events.error(tracker, state, presenter.state_lost()["text"])
            return [SlotSet(slot, value) for slot, value in names.cleared_protocol().items()]

        payload = incident_payload(tracker, decision)
        location = tracker.get_slot(names.LOCATION)
        # The holders, the location's name and the counsellor's due follow-ups (asked after
        # the advice when nothing else is offered, issue 15) do not depend on the record:
        # fetched while it is written, and Teams' reference stored meanwhile, so the decision
        # turn (the tail of the turn latencies, bench/turns.py) waits for the slowest of
        # them instead of their sum.
        (status, reference), holders, locations, due, _ = await asyncio.gather(
            record_decision(payload), fetch_holders(location), fetch_locations(),
            follow_up_actions.due_follow_ups(tracker), follow_up_actions.store_teams_reference(tracker))
        advice = presenter.outcome(
            decision,
            engine.knowledge,
            location_name=location_name(location, locations),
            holders=holders,
            instructions=instructions,
        )
        utter(dispatcher, advice)
        # The reference closes the outcome (contract). Queued: say plainly that it is
        # kept and will be recorded, with a provisional reference. Rejected (or no
        # outbox): say that nothing was saved so the counsellor can act on it.
        if status == DELIVERED and reference:
            filed_as = decision.record.protocol if decision.record else None
            dispatcher.utter_message(**presenter.recorded(
                reference, filed_as=engine.knowledge.record_title(filed_as) if filed_as else None))
        elif status == PENDING and reference:
            dispatcher.utter_message(**queued(reference))
        else:
            reference = None
            dispatcher.utter_message(**presenter.not_recorded())
        await session_events.decision_shown(tracker, decision, instructions, advice, reference)
        shown = len(dispatcher.messages)
        events: list[EventType] = [
            SlotSet(names.INCIDENT_REFERENCE, reference),
            *(SlotSet(slot, value) for slot, value in names.cleared_protocol().items()),
            *offer_next_protocol(dispatcher, tracker, decision.protocol, decision.hand_overs),
        ]
        if len(dispatcher.messages) == shown:
            # Nothing else offered (its buttons would compete): the counsellor's due follow-ups,
            # not those of this decision (issue 15).
            events += follow_up_actions.ask_first(dispatcher, tracker, due, exclude_reference=reference)
        return events


def queued(reference: str) -> dict[str, Any]:
    return {
        "text": "Het besluit is veilig bewaard, maar nog niet in de registratie vastgelegd: de "
        "registratie is nu niet bereikbaar. Het wordt automatisch vastgelegd zodra die weer "
        "bereikbaar is; er gaat niets verloren en u hoeft het niet opnieuw in te voeren. "
        f"Voorlopige referentie: {reference}. Het advies hierboven blijft gelden."
    }


def _record_durably(payload: dict[str, Any]) -> tuple[str, str | None]:
    """``_enqueue_and_deliver``, and once more after a quick failure."""
    key = str(payload["idempotency_key"])
    box = get_outbox()
    started = time.monotonic()
    item = _enqueue_and_deliver(payload)
    if item.status == PENDING and time.monotonic() - started < QUICK_FAILURE_S:
        # A quick refusal is usually momentary (the API on SQLite answers 500 "database is
        # locked" when two writes overlap): once more before the counsellor is told
        # "voorlopige referentie". A frozen API (a timeout) is not waited for twice.
        time.sleep(RETRY_PAUSE_S)
        item = box.deliver(key)
    if item.status == DELIVERED:
        return DELIVERED, str((item.result or {}).get("reference") or "") or None
    if item.status == PENDING:
        box.wake()
        logger.warning("decision queued in the outbox: idempotency_key=%s protocol=%s location=%s",
                       key, payload.get("protocol"), payload.get("location"))
        return PENDING, provisional_reference(key)
    logger.error("decision NOT recorded (rejected by the API, kept in the outbox): idempotency_key=%s "
                 "protocol=%s location=%s", key, payload.get("protocol"), payload.get("location"))
    return item.status, None


def _enqueue_and_deliver(payload: dict[str, Any]) -> OutboxItem:
    """Outbox first (durable), then one delivery attempt now (short timeouts)."""
    key, box = str(payload["idempotency_key"]), get_outbox()
    box.enqueue("incident", key, payload, wake=False)
    return box.deliver(key)


def _deliver_once(payload: dict[str, Any]) -> None:
    try:
        _enqueue_and_deliver(payload)
    except (sqlite3.Error, OSError):
        logger.warning("decision not written ahead (outbox unusable); action_record_decision writes it")


def record_ahead(tracker: Tracker, finished: ProtocolState) -> None:
    """Starts writing the decision as soon as the form's validation has the last answer.

    Rasa still has to complete the form and call ``action_record_decision``, which
    then waits for this write instead of starting its own: the write (most of the
    decision turn, bench/turns.py) overlaps that round trip. Same payload and so the
    same idempotency key: the outbox holds one row, and ``Outbox.deliver`` waits for
    the attempt in flight or finds it delivered; another action-server process gets
    the same incident back from the API. A write whose ``action_record_decision``
    never comes (Rasa stopped) is still recorded once, by the outbox's loop.
    Only one attempt here: retrying is ``action_record_decision``'s (``_record_durably``).
    """
    # The state as the next call will read it from the slots: through JSON, as Rasa keeps it.
    state = ProtocolState.from_slots(json.loads(json.dumps(finished.to_slots())))
    if state is None:
        return
    try:
        decision = get_engine().decision(state)
    except EngineError:
        return  # action_record_decision says so to the counsellor
    # Submitted to the thread pool at once, not as a task: it starts before this
    # action's reply and nothing cancels it.
    asyncio.get_running_loop().run_in_executor(None, _deliver_once, incident_payload(tracker, decision))


async def record_decision(payload: dict[str, Any]) -> tuple[str, str | None]:
    """(status, reference): ``delivered`` + the API's reference, ``pending`` + a
    provisional reference (queued, delivered later), or ``rejected`` + None."""
    try:
        return await asyncio.to_thread(_record_durably, payload)
    except (sqlite3.Error, OSError):
        # The outbox file is unusable (disk full, permissions): still try the API once.
        logger.exception("outbox unusable; posting the decision directly")
        incident = await record_incident(payload)
        if incident is not None:
            return DELIVERED, str(incident["reference"])
        logger.error("decision NOT recorded (API and outbox unavailable): idempotency_key=%s protocol=%s",
                     payload.get("idempotency_key"), payload.get("protocol"))
        return "lost", None


def offer_next_protocol(dispatcher: CollectingDispatcher, tracker: Tracker, finished: str | None = None,
                        hand_overs: Sequence[str] = ()) -> list[EventType]:
    """After the decision (or a stop): offer, once, the protocol a step handed over to
    (knowledge: ``hand_over``), else the second topic noticed during the protocol."""
    pending = tracker.get_slot(names.PENDING_PROTOCOL)
    knowledge = get_engine().knowledge
    offered = None
    for candidate in (*hand_overs, pending):
        protocol = knowledge.protocols.get(str(candidate)) if candidate else None
        if protocol is not None and protocol.id != finished:
            dispatcher.utter_message(**presenter.offer_pending(protocol))
            offered = protocol.id
            break
    else:
        if knowledge.general_path is not None and finished == knowledge.general_path.id:
            # The general path was taken because no protocol was clear: now that the
            # safe steps are done and recorded, the counsellor may recognise one.
            dispatcher.utter_message(**presenter.after_general_path(knowledge.protocols_by_title()))
    events: list[EventType] = [SlotSet(names.PENDING_PROTOCOL, None)] if pending else []
    # Kept for a typed answer to the offer ("ja graag", action_aanbod_beantwoorden); an
    # earlier offer is cleared, so that a "ja" after this decision cannot start it.
    if offered or tracker.get_slot(names.OFFERED_PROTOCOL):
        events.append(SlotSet(names.OFFERED_PROTOCOL, offered))
    return events

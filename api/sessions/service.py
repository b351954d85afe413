"""Logging session events (append-only) and reading sessions, scoped by role."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from api import access
from api.audit.service import record_read
from api.auth.schemas import User
from api.config import get_settings
from api.incidents.models import Incident, IncidentReviewEvent
from api.incidents.service import IncidentFilters, list_incidents
from api.indicators.norms_ref import get_norms
from api.indicators.norms_sql import dialect_of, incident_norm_flags
from api.knowledge_ref import get_knowledge
from api.locations.models import Location
from api.models_base import as_utc, utcnow
from api.reviews.schemas import ReviewEventOut
from api.security.bounds import day_in_range, out_of_range_message
from api.security.deidentify import FREE_TEXT_EVENT_TYPES, deidentify, free_text_answer
from api.sessions.models import DEFAULT_RUN_ID, GuidanceSession, SessionEvent
from api.sessions.schemas import (
    SessionDetail,
    SessionEventCreate,
    SessionEventOut,
    SessionIncident,
    SessionItem,
)
from knowledge import Knowledge

_SEQ_ATTEMPTS = 8
TERMINAL_STOP = "stopped"
TERMINAL_OUTCOME = "outcome"


class SessionValidationError(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(error["msg"] for error in errors))
        self.errors = errors


class BadFilter(ValueError):
    pass


# --------------------------------------------------------------------------- writing


def _answer_text(answer: Any) -> str | None:
    if answer is None:
        return None
    if isinstance(answer, bool):
        return "ja" if answer else "nee"
    return str(answer)


def _validate_new_session(session: Session, knowledge: Knowledge, payload: SessionEventCreate) -> None:
    errors: list[dict[str, Any]] = []
    if not knowledge.is_record_id(payload.protocol):
        errors.append({
            "type": "unknown_protocol", "loc": ("body", "protocol"), "input": payload.protocol,
            "msg": f"unknown protocol id '{payload.protocol}'; "
                   f"known: {', '.join(sorted([*knowledge.protocols, *knowledge.categories]))}",
        })  # fmt: skip
    if session.get(Location, payload.location) is None:
        errors.append({
            "type": "unknown_location", "loc": ("body", "location"), "input": payload.location,
            "msg": f"unknown location code '{payload.location}'",
        })  # fmt: skip
    if errors:
        raise SessionValidationError(errors)


def _same_run(existing: GuidanceSession, payload: SessionEventCreate) -> GuidanceSession:
    if existing.protocol != payload.protocol:
        raise SessionValidationError([{
            "type": "protocol_mismatch", "loc": ("body", "protocol"), "input": payload.protocol,
            "msg": f"run '{existing.run_id}' of this conversation is protocol '{existing.protocol}'; "
                   "a second protocol needs its own run_id",
        }])  # fmt: skip
    return existing


def _session_for(session: Session, knowledge: Knowledge, payload: SessionEventCreate) -> GuidanceSession:
    """The session of the conversation's protocol run, created on its first event (race-safe)."""
    run_id = payload.run_id or DEFAULT_RUN_ID
    stmt = select(GuidanceSession).where(
        GuidanceSession.conversation_id == payload.conversation_id, GuidanceSession.run_id == run_id
    )
    existing = session.scalar(stmt)
    if existing is not None:
        return _same_run(existing, payload)
    _validate_new_session(session, knowledge, payload)
    guidance = GuidanceSession(
        id=uuid.uuid4(),
        conversation_id=payload.conversation_id,
        run_id=run_id,
        staff_id=payload.staff_id,
        location=payload.location,
        channel=payload.channel,
        protocol=payload.protocol,
        protocol_version=payload.protocol_version,
        started_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(guidance)
    except IntegrityError:
        # A concurrent first event of the same run won.
        existing = session.scalar(stmt)
        if existing is None:
            raise
        return _same_run(existing, payload)
    return guidance


def _by_key(session: Session, key: str) -> SessionEvent | None:
    return session.scalar(select(SessionEvent).where(SessionEvent.idempotency_key == key))


def record_event(session: Session, knowledge: Knowledge, payload: SessionEventCreate) -> tuple[SessionEventOut, bool]:
    """Append one event and commit; returns (event, created). A known idempotency key
    returns the event stored the first time. The session row is never changed."""
    event, created = _append_event(session, knowledge, payload)
    session.commit()
    return event, created


def _append_event(session: Session, knowledge: Knowledge, payload: SessionEventCreate) -> tuple[SessionEventOut, bool]:
    """``record_event`` without the commit: the event is flushed in the caller's transaction."""
    existing = _by_key(session, payload.idempotency_key)
    if existing is not None:
        return SessionEventOut.model_validate(existing), False
    guidance = _session_for(session, knowledge, payload)
    for _attempt in range(_SEQ_ATTEMPTS):
        event = _new_event(session, knowledge, payload, guidance, _max_seq(session, guidance.id) + 1)
        try:
            with session.begin_nested():
                session.add(event)
        except IntegrityError:
            # Same key retried concurrently, or another event took this seq.
            existing = _by_key(session, payload.idempotency_key)
            if existing is not None:
                return SessionEventOut.model_validate(existing), False
            continue
        return SessionEventOut.model_validate(event), True
    raise RuntimeError("could not append the session event (seq contention)")


def _max_seq(session: Session, session_id: uuid.UUID) -> int:
    return session.scalar(select(func.max(SessionEvent.seq)).where(SessionEvent.session_id == session_id)) or 0


def _new_event(session: Session, knowledge: Knowledge, payload: SessionEventCreate, guidance: GuidanceSession,
               seq: int) -> SessionEvent:
    event_in = payload.event
    incident_id = None
    if event_in.incident_reference:
        incident_id = session.scalar(select(Incident.id).where(Incident.reference == event_in.incident_reference))
    return SessionEvent(
        session_id=guidance.id,
        seq=seq,
        idempotency_key=payload.idempotency_key,
        type=event_in.type,
        step=event_in.step,
        # Free text (what a counsellor typed) is de-identified before storage (issue 6).
        text=deidentify(event_in.text) if event_in.type in FREE_TEXT_EVENT_TYPES else event_in.text,
        answer=_answer_text(free_text_answer(knowledge, payload.protocol, event_in.step, event_in.answer)),
        outcome=event_in.outcome,
        incident_reference=event_in.incident_reference,
        incident_id=incident_id,
        created_at=utcnow(),
    )


@contextmanager
def _event_index(index: int) -> Iterator[None]:
    """A refused event of a batch is named by its index in ``loc`` and in the message."""
    try:
        yield
    except SessionValidationError as exc:
        raise SessionValidationError([
            {**error, "loc": ("body", "events", index, *tuple(error.get("loc", ()))[1:]),
             "msg": f"event {index}: {error['msg']}"}
            for error in exc.errors
        ]) from exc  # fmt: skip


def _append_batch(
    session: Session, knowledge: Knowledge, payloads: Sequence[SessionEventCreate]
) -> list[tuple[SessionEventOut, bool]]:
    """The batch with one read of its known keys, one per run for the session and its
    last seq, and one flush. Event by event (``_append_event``) costs a savepoint and
    three reads per event: most of the API's CPU during protocol turns (py-spy,
    bench/results.md). A concurrent writer that took one of the keys or seqs makes the
    flush raise IntegrityError; the caller then does the batch event by event."""
    keys = {payload.idempotency_key for payload in payloads}
    known = {event.idempotency_key: event
             for event in session.scalars(select(SessionEvent).where(SessionEvent.idempotency_key.in_(keys)))}
    runs: dict[tuple[str, str], GuidanceSession] = {}
    next_seq: dict[uuid.UUID, int] = {}
    entries: list[tuple[SessionEvent, bool]] = []
    for index, payload in enumerate(payloads):
        if payload.idempotency_key in known:
            entries.append((known[payload.idempotency_key], False))
            continue
        run = (payload.conversation_id, payload.run_id or DEFAULT_RUN_ID)
        with _event_index(index):
            guidance = _same_run(runs[run], payload) if run in runs else _session_for(session, knowledge, payload)
        runs[run] = guidance
        seq = next_seq[guidance.id] if guidance.id in next_seq else _max_seq(session, guidance.id) + 1
        next_seq[guidance.id] = seq + 1
        event = _new_event(session, knowledge, payload, guidance, seq)
        session.add(event)
        known[payload.idempotency_key] = event
        entries.append((event, True))
    session.flush()
    return [(SessionEventOut.model_validate(event), new) for event, new in entries]


def record_events(
    session: Session, knowledge: Knowledge, payloads: Sequence[SessionEventCreate]
) -> tuple[list[SessionEventOut], int]:
    """Append several events in the given order in ONE transaction (``record_event``'s
    logic per event, idempotent per key); returns (events, how many were new).

    When the validation refuses an event, nothing of the batch is stored (rolled
    back) and ``SessionValidationError`` names the event's index in ``loc``
    (``("body", "events", index, field)``) and in the message."""
    try:
        try:
            with session.begin_nested():
                stored = _append_batch(session, knowledge, payloads)
        except IntegrityError:
            # Another writer stored one of these keys, or an event of the same run, since
            # the batch read them: event by event, each as ``record_event`` appends it.
            stored = []
            for index, payload in enumerate(payloads):
                with _event_index(index):
                    stored.append(_append_event(session, knowledge, payload))
    except Exception:
        session.rollback()
        raise
    session.commit()
    return [event for event, _ in stored], sum(new for _, new in stored)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class SessionFilters:
    location: str | None = None
    protocol: str | None = None
    status: str | None = None  # review status of the session's incident
    state: str | None = None  # lopend | onderbroken | afgerond | gestopt
    date_from: datetime | None = None
    date_to: datetime | None = None  # exclusive
    overdue: bool | None = None
    q: str | None = None
    staff_id: str | None = None


def parse_bound(value: str | None, *, end: bool) -> datetime | None:
    """``2026-11-29`` or an ISO datetime. A date as ``to`` includes that whole day."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            day = moment.date()
    except ValueError as exc:
        raise BadFilter(f"'{value}' is not a date (YYYY-MM-DD) or ISO 8601 date-time") from exc
    # Bounded before any arithmetic: 9999-12-31 plus a day overflowed (issue 14).
    if not day_in_range(day):
        raise BadFilter(out_of_range_message(value))
    if len(text) == 10:
        moment = datetime.combine(day + timedelta(days=1) if end else day, time.min)
    return as_utc(moment)


def incident_of_session(incident: Any, guidance: Any) -> ColumnElement[bool]:
    """An incident belongs to the session of its conversation that ran its protocol.

    (Two runs of the *same* protocol in one conversation would share it; the action
    server restarts a protocol within its run, see ``restarted`` events.)"""
    same_protocol = [incident.protocol == guidance.protocol]
    # A privacy protocol's session is filed under its neutral category; its incident
    # under the protocol when the resident consented (knowledge: privacy).
    same_protocol += [and_(guidance.protocol == category, incident.protocol.in_(protocols))
                      for category, protocols in get_knowledge().filed_with().items()]
    return and_(incident.conversation_id == guidance.conversation_id, or_(*same_protocol))


def _derived_columns(dialect: str) -> dict[str, Any]:
    gs = GuidanceSession
    event = aliased(SessionEvent)

    def has(kind: str) -> ColumnElement[bool]:
        return exists().where(event.session_id == gs.id, event.type == kind)

    last_at = select(func.max(event.created_at)).where(event.session_id == gs.id).scalar_subquery()
    idle_since = utcnow() - timedelta(minutes=get_settings().session_idle_minutes)
    state = case(
        (has(TERMINAL_STOP), "gestopt"),
        (has(TERMINAL_OUTCOME), "afgerond"),
        (func.coalesce(last_at, gs.started_at) < idle_since, "onderbroken"),
        else_="lopend",
    )
    ended_at = case((state.in_(("lopend", "onderbroken")), None), else_=last_at)
    last_outcome = (
        select(event.outcome)
        .where(event.session_id == gs.id, event.type == TERMINAL_OUTCOME)
        .order_by(event.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    count = select(func.count(event.id)).where(event.session_id == gs.id).scalar_subquery()

    incident = aliased(Incident)
    latest_incident = (
        select(incident.id)
        .where(incident_of_session(incident, gs))
        .order_by(incident.created_at.desc(), incident.id.desc())
        .limit(1)
        # Nested two levels deep: auto-correlation only looks one level up.
        .correlate(gs)
        .scalar_subquery()
    )
    latest_reference = (
        select(incident.reference)
        .where(incident_of_session(incident, gs))
        .order_by(incident.created_at.desc(), incident.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    review = aliased(IncidentReviewEvent)
    latest_status = (
        select(review.status)
        .where(review.incident_id == latest_incident)
        .order_by(review.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    review_status = case((latest_incident.is_(None), None), else_=func.coalesce(latest_status, "nieuw"))

    overdue_incident = aliased(Incident)
    overdue_flags = [flag.overdue for flag in incident_norm_flags(dialect, get_norms(), utcnow(), overdue_incident)]
    overdue = exists().where(
        incident_of_session(overdue_incident, gs),
        or_(*(flag == 1 for flag in overdue_flags)) if overdue_flags else literal(False),
    )
    return {
        "state": state,
        "ended_at": ended_at,
        "last_event_at": last_at,
        "last_outcome": last_outcome,
        "event_count": count,
        "incident_reference": latest_reference,
        "review_status": review_status,
        "overdue": overdue,
    }


def _filtered(session: Session, user: User, filters: SessionFilters) -> tuple[Select[Any], dict[str, Any]]:
    gs = GuidanceSession
    derived = _derived_columns(dialect_of(session))
    stmt = select(gs, *(column.label(name) for name, column in derived.items()))
    stmt = stmt.where(access.row_filter(user, gs.location, gs.staff_id))
    if filters.location:
        stmt = stmt.where(gs.location == filters.location.strip().upper())
    if filters.protocol:
        stmt = stmt.where(gs.protocol == filters.protocol)
    if filters.staff_id:
        stmt = stmt.where(gs.staff_id == filters.staff_id)
    if filters.date_from is not None:
        stmt = stmt.where(gs.started_at >= filters.date_from)
    if filters.date_to is not None:
        stmt = stmt.where(gs.started_at < filters.date_to)
    if filters.state:
        stmt = stmt.where(derived["state"] == filters.state)
    if filters.status:
        stmt = stmt.where(derived["review_status"] == filters.status)
    if filters.overdue is not None:
        stmt = stmt.where(derived["overdue"] if filters.overdue else ~derived["overdue"])
    if filters.q and filters.q.strip():
        needle = filters.q.strip().lower()
        event = aliased(SessionEvent)
        incident = aliased(Incident)
        stmt = stmt.where(
            or_(
                exists().where(
                    event.session_id == gs.id,
                    or_(*(func.lower(column).contains(needle, autoescape=True)
                          for column in (event.text, event.answer, event.step, event.outcome))),
                ),
                exists().where(
                    incident_of_session(incident, gs),
                    func.lower(incident.outcome).contains(needle, autoescape=True),
                ),
            )
        )  # fmt: skip
    return stmt, derived


def _item(row: Any) -> SessionItem:
    guidance = row[0]
    mapping = row._mapping
    return SessionItem(
        id=guidance.id,
        conversation_id=guidance.conversation_id,
        run_id=guidance.run_id,
        location=guidance.location,
        protocol=guidance.protocol,
        protocol_version=guidance.protocol_version,
        staff_id=guidance.staff_id,
        channel=guidance.channel,
        started_at=guidance.started_at,
        ended_at=mapping["ended_at"],
        last_event_at=mapping["last_event_at"],
        state=mapping["state"],
        last_outcome=mapping["last_outcome"],
        event_count=mapping["event_count"] or 0,
        incident_reference=mapping["incident_reference"],
        review_status=mapping["review_status"],
        overdue=bool(mapping["overdue"]),
    )


def list_sessions(
    session: Session, user: User, filters: SessionFilters, *, limit: int | None, offset: int = 0
) -> tuple[list[SessionItem], int]:
    stmt, _derived = _filtered(session, user, filters)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    page = stmt.order_by(GuidanceSession.started_at.desc(), GuidanceSession.id).offset(offset)
    if limit is not None:
        page = page.limit(limit)
    items = [_item(row) for row in session.execute(page).all()]
    record_read(session, user, "session_list", [item.id for item in items])  # audit (issue 6)
    return items, total


_CONSISTENT_READS = 3


def get_session_detail(session: Session, user: User, session_id: str) -> SessionDetail | None:
    try:
        key = uuid.UUID(session_id)
    except ValueError:
        return None
    stmt, _derived = _filtered(session, user, SessionFilters())
    for _attempt in range(_CONSISTENT_READS):
        row = session.execute(stmt.where(GuidanceSession.id == key)).first()
        if row is None:
            return None
        item = _item(row)
        events = session.scalars(
            select(SessionEvent).where(SessionEvent.session_id == key).order_by(SessionEvent.seq)
        ).all()
        # Two statements, two snapshots (READ COMMITTED): an event that arrived in between
        # (the outbox delivers them while the page is read) would show a "stopped" event
        # under the state "lopend". Events are only appended, so the same count means the
        # state was derived from these very events.
        if len(events) == item.event_count:
            break
    record_read(session, user, "session", [key])  # audit (issue 6)
    # The incidents the user may see (same scope) of this session: its
    # conversation's incidents of its protocol.
    incidents, _total = list_incidents(
        session,
        user,
        IncidentFilters(conversation_id=item.conversation_id,
                        protocols=(item.protocol, *get_knowledge().filed_with().get(item.protocol, ()))),
        limit=50,
        offset=0,
    )
    histories = {}
    if incidents:
        for review in session.scalars(
            select(IncidentReviewEvent)
            .where(IncidentReviewEvent.incident_id.in_([incident.id for incident in incidents]))
            .order_by(IncidentReviewEvent.id)
        ):
            histories.setdefault(review.incident_id, []).append(ReviewEventOut.model_validate(review))
    return SessionDetail(
        **item.model_dump(),
        events=[SessionEventOut.model_validate(event) for event in events],
        incidents=[
            SessionIncident(incident=incident, review_history=histories.get(incident.id, [])) for incident in incidents
        ],
    )

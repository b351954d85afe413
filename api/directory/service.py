"""The key-position directory: append-only assignments, who holds what on a day.

Reads rebuild the state from the versions: the newest version of every assignment
(optionally only versions recorded up to a moment: the directory as it was known
then). Writes append a version and never change a row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from api.audit.service import record_change
from api.auth.schemas import User
from api.directory.models import KeyPositionAssignment as Row
from api.directory.schemas import AssignmentChange, AssignmentCreate, Gap, HolderOut
from api.models_base import as_utc, utcnow
from knowledge import KEY_POSITIONS
from knowledge.local_time import local_day, local_today


class DirectoryError(Exception):
    """Semantic errors, in the shape of FastAPI's 422 ``detail`` items."""

    def __init__(self, loc: tuple[str, ...], msg: str, value: Any = None) -> None:
        super().__init__(msg)
        self.errors = [{"type": "value_error", "loc": ("body", *loc), "msg": msg, "input": value}]


class NotFound(Exception):
    pass


def _covers(row: Row, day: date) -> bool:
    return row.valid_from <= day and (row.valid_until is None or day <= row.valid_until)


def _overlaps(a_from: date, a_until: date | None, b_from: date, b_until: date | None) -> bool:
    far = date.max
    if (a_until or far) < a_from or (b_until or far) < b_from:
        return False  # an empty period (ended before it began) overlaps nothing
    return a_from <= (b_until or far) and b_from <= (a_until or far)


# --------------------------------------------------------------------------- reads


def current_rows(
    session: Session, codes: Iterable[str] | None = None, *, known_at: datetime | None = None
) -> list[Row]:
    """The newest version of every assignment (of ``codes``; all when None), as known at ``known_at``."""
    newest = select(Row.assignment_id, func.max(Row.version).label("version"))
    if codes is not None:
        newest = newest.where(Row.location_code.in_(list(codes)))
    if known_at is not None:
        newest = newest.where(Row.recorded_at <= as_utc(known_at))
    sub = newest.group_by(Row.assignment_id).subquery()
    stmt = select(Row).join(sub, and_(Row.assignment_id == sub.c.assignment_id, Row.version == sub.c.version))
    order = {position: index for index, position in enumerate(KEY_POSITIONS)}
    rows = list(session.scalars(stmt))
    rows.sort(key=lambda r: (r.location_code, order.get(r.position, len(order)), r.kind, r.valid_from, r.id))
    return rows


def history(session: Session, assignment_id: str) -> list[Row]:
    return list(session.scalars(select(Row).where(Row.assignment_id == assignment_id).order_by(Row.version)))


def contacts(rows: Sequence[Row], day: date) -> list[HolderOut]:
    """Per key position, who to contact on ``day``: a deputy valid that day (the holder
    is away: that is what a deputy period means), else the holders valid that day.
    Positions nobody covers are left out: the caller says what to do instead."""
    result: list[HolderOut] = []
    for position in dict.fromkeys(r.position for r in rows):
        mine = [r for r in rows if r.position == position and _covers(r, day)]
        chosen = [r for r in mine if r.kind == "vervanger"] or [r for r in mine if r.kind == "houder"]
        result.extend(
            HolderOut(position=r.position, name=r.name, phone=r.phone, kind=r.kind,  # type: ignore[arg-type]
                      valid_until=r.valid_until, teams_id=r.teams_id, email=r.email)
            for r in chosen
        )
    return result


def holders_on(session: Session, code: str, day: date | None = None) -> list[HolderOut]:
    return contacts(current_rows(session, [code]), day or local_today())


def holders_when_recorded(session: Session, code: str, recorded_at: datetime) -> list[HolderOut]:
    """The contacts as the directory knew them when an incident was recorded, for its day."""
    return contacts(current_rows(session, [code], known_at=recorded_at), local_day(recorded_at))


def gaps(session: Session, codes: Sequence[str], day: date | None = None) -> list[Gap]:
    """Key positions of ``codes`` without a holder on ``day``: never filled, or the period ended."""
    day = day or local_today()
    rows = current_rows(session, codes)
    result: list[Gap] = []
    for code in codes:
        for position in KEY_POSITIONS:
            mine = [r for r in rows if r.location_code == code and r.position == position]
            if any(r.kind == "houder" and _covers(r, day) for r in mine):
                continue
            past = [r for r in mine if r.kind == "houder" and r.valid_until is not None and r.valid_until < day
                    and r.valid_until >= r.valid_from]
            last = max(past, key=lambda r: r.valid_until or date.min, default=None)
            deputy = next((r.name for r in mine if r.kind == "vervanger" and _covers(r, day)), None)
            result.append(Gap(location=code, position=position,
                              reason="periode_verlopen" if last else "nooit_bezet",
                              last_holder=last.name if last else None,
                              last_day=last.valid_until if last else None, deputy=deputy))
    return result


# --------------------------------------------------------------------------- writes


@dataclass(frozen=True)
class _Period:
    valid_from: date
    valid_until: date | None


def _check_overlap(rows: Sequence[Row], code: str, position: str, kind: str, period: _Period,
                   skip: Iterable[str] = ()) -> None:
    skipped = set(skip)
    for row in rows:
        if (row.location_code, row.position, row.kind) != (code, position, kind) or row.assignment_id in skipped:
            continue
        if _overlaps(period.valid_from, period.valid_until, row.valid_from, row.valid_until):
            until = row.valid_until.isoformat() if row.valid_until else "open"
            who = "deputy" if kind == "vervanger" else "holder"
            raise DirectoryError(
                ("valid_from",),
                f"overlapping period: {row.name} is {who} of {position} on {code} from "
                f"{row.valid_from.isoformat()} until {until} (assignment {row.assignment_id}); "
                "end or change that assignment first, or give 'replaces'",
                period.valid_from.isoformat(),
            )


def _version(previous: Row, user: User, action: str, **changes: Any) -> Row:
    fields = {column: getattr(previous, column) for column in (
        "assignment_id", "location_code", "position", "kind", "name", "phone", "teams_id", "email",
        "valid_from", "valid_until")}
    fields.update(changes)
    return Row(**fields, version=previous.version + 1, action=action, recorded_at=utcnow(), recorded_by=user.sub)


def _current(session: Session, code: str, assignment_id: str) -> Row:
    rows = history(session, assignment_id)
    if not rows or rows[-1].location_code != code:
        raise NotFound(f"no assignment '{assignment_id}' on location '{code}'")
    return rows[-1]


def create(session: Session, user: User, code: str, payload: AssignmentCreate) -> Row:
    if payload.position not in KEY_POSITIONS:
        raise DirectoryError(("position",), f"unknown key position '{payload.position}'; known: "
                             f"{', '.join(KEY_POSITIONS)}", payload.position)
    rows = current_rows(session, [code])
    ended: Row | None = None
    if payload.replaces:
        old = next((r for r in rows if r.assignment_id == payload.replaces), None)
        if old is None:
            raise DirectoryError(("replaces",), f"no assignment '{payload.replaces}' on location '{code}'",
                                 payload.replaces)
        if (old.position, old.kind) != (payload.position, payload.kind):
            raise DirectoryError(("replaces",), f"assignment '{payload.replaces}' is {old.kind} of "
                                 f"{old.position}, not {payload.kind} of {payload.position}", payload.replaces)
        last_day = payload.valid_from - timedelta(days=1)
        if old.valid_until is None or old.valid_until > last_day:
            ended = _version(old, user, "beeindigd", valid_until=max(last_day, old.valid_from - timedelta(days=1)))
    period = _Period(payload.valid_from, payload.valid_until)
    _check_overlap(rows, code, payload.position, payload.kind, period,
                   skip=[payload.replaces] if payload.replaces else [])
    row = Row(assignment_id=uuid.uuid4().hex, version=1, location_code=code, position=payload.position,
              kind=payload.kind, name=payload.name, phone=payload.phone, teams_id=payload.teams_id,
              email=payload.email, valid_from=payload.valid_from, valid_until=payload.valid_until,
              action="aangemaakt", recorded_at=utcnow(), recorded_by=user.sub)
    if ended is not None:
        session.add(ended)
        record_change(session, user, "key_position_assignment", ended.assignment_id, "end")
    session.add(row)
    record_change(session, user, "key_position_assignment", row.assignment_id, "create")
    session.commit()
    return row


def change(session: Session, user: User, code: str, assignment_id: str, payload: AssignmentChange) -> Row:
    old = _current(session, code, assignment_id)
    changes = payload.model_dump(exclude_unset=True)
    new = _version(old, user, "gewijzigd", **changes)
    if not new.teams_id and not new.email:
        raise DirectoryError(("teams_id",), "give a Teams id or an e-mail address (notifications go there)")
    if new.valid_until is not None and new.valid_until < new.valid_from:
        raise DirectoryError(("valid_until",), "valid_until is before valid_from", str(new.valid_until))
    _check_overlap(current_rows(session, [code]), code, new.position, new.kind,
                   _Period(new.valid_from, new.valid_until), skip=[assignment_id])
    session.add(new)
    record_change(session, user, "key_position_assignment", assignment_id, "update")
    session.commit()
    return new


def end(session: Session, user: User, code: str, assignment_id: str, last_day: date | None) -> Row:
    """Ends an assignment: ``last_day`` (default yesterday: from today on it no longer
    holds). A last day before its first makes the period empty (it never held)."""
    old = _current(session, code, assignment_id)
    last = last_day or local_today() - timedelta(days=1)
    if old.valid_until is not None and last > old.valid_until:
        raise DirectoryError(("last_day",), f"the assignment already ends on {old.valid_until.isoformat()}",
                             last.isoformat())
    new = _version(old, user, "beeindigd", valid_until=max(last, old.valid_from - timedelta(days=1)))
    session.add(new)
    record_change(session, user, "key_position_assignment", assignment_id, "end")
    session.commit()
    return new

"""Supervisors' dashboard (Dutch): indicators, the session list, a session's
timeline with the review actions, and the counsellor's corrections page.

The pages call the services of ``api.sessions``, ``api.reviews`` and
``api.indicators`` with the logged-in user, so the role/location scope of the JSON
API applies unchanged: a supervisor of location A never sees location B (a
session of B answers 404). Forms post with the double-submit CSRF token.

| route | roles |
| --- | --- |
| ``GET /dashboard`` | supervisor, contact_person, admin |
| ``GET /sessies``, ``GET /sessies/{id}`` | supervisor, contact_person, admin |
| ``POST /sessies/{id}/beoordeling`` | the same; the transition table decides (supervisor of the location) |
| ``GET /correcties``, ``POST /correcties/{incident_id}`` | counsellor |
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from api import access
from api.auth.cookies import CSRF_FORM_FIELD, csrf_matches
from api.auth.schemas import User
from api.config import get_settings
from api.db import SessionDep
from api.directory import service as directory_service
from api.follow_ups.indicators import follow_up_indicators
from api.follow_ups.service import follow_up_norms
from api.indicators import service as indicators_service
from api.indicators.norms_ref import NormsDep
from api.knowledge_ref import KnowledgeDep
from api.locations.models import Location
from api.models_base import utcnow
from api.records import service as records_service
from api.reviews import service as reviews_service
from api.reviews.schemas import ReviewEventCreate
from api.reviews.transitions import STATUSES, TRANSITIONS
from api.security import bounds
from api.sessions import service as sessions_service
from api.web.directory import GAP_LABELS
from api.web.pages import render, require_page_roles
from knowledge.local_time import local_time

router = APIRouter(include_in_schema=False)

ReaderUser = Annotated[User, require_page_roles("supervisor", "contact_person", "admin")]
CounsellorUser = Annotated[User, require_page_roles("counsellor")]

PAGE_SIZE = 25
MAX_PAGE = bounds.MAX_OFFSET // PAGE_SIZE
STALE_FORM = "Het formulier was verlopen. Probeer het opnieuw."

STATUS_LABELS: dict[str, str] = {
    "nieuw": "Nieuw",
    "in_behandeling": "In behandeling",
    "correctie_gevraagd": "Correctie gevraagd",
    "gecorrigeerd": "Gecorrigeerd",
    "afgehandeld": "Afgehandeld",
}
#: Button texts of the transitions (target status → what the button says).
ACTION_LABELS: dict[str, str] = {
    "in_behandeling": "In behandeling nemen",
    "afgehandeld": "Afhandelen: beoordeeld",
    "correctie_gevraagd": "Correctie vragen",
    "gecorrigeerd": "Markeren als gecorrigeerd",
}
STATE_LABELS: dict[str, str] = {
    "lopend": "Lopend", "onderbroken": "Onderbroken", "afgerond": "Afgerond", "gestopt": "Gestopt",
}
EVENT_LABELS: dict[str, str] = {
    "started": "Begeleiding gestart",
    "question_asked": "Vraag gesteld",
    "answer_given": "Antwoord",
    "advice_shown": "Advies getoond",
    "lookup_answered": "Opzoekvraag beantwoord",
    "step_back": "Stap terug",
    "restarted": "Opnieuw begonnen",
    "outcome": "Uitkomst",
    "stopped": "Gestopt",
    "incident_recorded": "Besluit vastgelegd",
    "error": "Fout",
}
PERIODS: dict[str, tuple[str, int | None]] = {
    "7": ("Afgelopen 7 dagen", 7),
    "28": ("Afgelopen 4 weken", 28),
    "91": ("Afgelopen 13 weken", 91),
    "365": ("Afgelopen jaar", 365),
    "": ("Alles", None),
}
#: Colour per protocol / series (readable on white, distinguishable without colour
#: through the table next to every chart).
PALETTE = ["#1f4e8c", "#b35c00", "#1e7b34", "#7a3e9d", "#b42318", "#0b7285", "#5c6773"]


# --------------------------------------------------------------------------- helpers


def _as_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value.strip()) if value and value.strip() else None
    except ValueError:
        return None


def _user_locations(session: Any, user: User) -> list[Location]:
    stmt = select(Location).where(access.aggregate_filter(user, Location.code)).order_by(Location.name)
    return list(session.scalars(stmt))


def _protocol_titles(knowledge: Any) -> dict[str, str]:
    return {record_id: knowledge.record_title(record_id) for record_id in [*knowledge.protocols, *knowledge.categories]}


def _fmt_hours(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 48:
        return f"{value:.1f} uur".replace(".", ",")
    return f"{value / 24:.1f} dagen".replace(".", ",")


def _fmt_share(value: float | None) -> str:
    return "–" if value is None else f"{round(value * 100)}%"


def _week_label(period: str | None) -> str:
    day = _as_date(period)
    if day is None:
        return period or ""
    return f"wk {day.isocalendar().week} ({day.strftime('%d-%m')})"


@dataclass(frozen=True)
class Period:
    key: str
    date_from: date | None
    date_to: date | None

    @property
    def label(self) -> str:
        if self.date_from and self.date_to:
            return f"{self.date_from:%d-%m-%Y} t/m {self.date_to:%d-%m-%Y}"
        if self.date_from:
            return f"vanaf {self.date_from:%d-%m-%Y}"
        if self.date_to:
            return f"tot en met {self.date_to:%d-%m-%Y}"
        return "alle datums"


class BadParameter(ValueError):
    """A page parameter out of bounds: answered with an error page (422) that says what to change."""


def _period(params: Any, default: str, *, max_days: int | None = None) -> Period:
    """``periode`` (a preset) unless explicit ``van``/``tot`` dates are given; the
    dashboard draws a column per week, so its period is at most ``max_days`` long."""
    date_from, date_to = _as_date(params.get("van")), _as_date(params.get("tot"))
    for day in (date_from, date_to):
        if day is not None and not bounds.day_in_range(day):
            raise BadParameter(
                f"Kies een datum tussen {bounds.MIN_DAY:%d-%m-%Y} en {bounds.MAX_DAY:%d-%m-%Y}."
            )
    start, end = date_from or utcnow().date() - timedelta(days=364), date_to or utcnow().date()
    if max_days is not None and (date_from or date_to) and (end - start).days > max_days:
        raise BadParameter(f"Kies een periode van hoogstens {max_days} dagen (drie jaar).")
    if date_from or date_to:
        return Period("eigen", date_from, date_to)
    key = params.get("periode", default)
    key = key if key in PERIODS else default
    days = PERIODS[key][1]
    today = utcnow().date()
    if days is None:
        return Period(key, None, None)
    return Period(key, today - timedelta(days=days - 1), today)


# --------------------------------------------------------------------------- dashboard


def _chart(kind: str, labels: list[str], datasets: list[dict[str, Any]], **options: Any) -> str:
    return json.dumps({"type": kind, "labels": labels, "datasets": datasets, **options}, ensure_ascii=False)


def _bad_parameter(request: Request, user: User, exc: BadParameter, back: tuple[str, str]) -> Response:
    return render(
        request,
        "error.html",
        {"user": user, "title": "Ongeldige keuze", "message": str(exc), "back": back},
        status_code=422,
    )


@router.get("/dashboard")
def dashboard(
    request: Request, session: SessionDep, knowledge: KnowledgeDep, norms: NormsDep, user: ReaderUser
) -> Response:
    try:
        return _dashboard(request, session, knowledge, norms, user)
    except BadParameter as exc:
        return _bad_parameter(request, user, exc, ("/dashboard", "Naar het dashboard"))


def _dashboard(request: Request, session: Any, knowledge: Any, norms: dict[str, Any], user: User) -> Response:
    locations = _user_locations(session, user)
    codes = [location.code for location in locations]
    location = str(request.query_params.get("locatie") or "").strip().upper()
    location = location if location in codes else ""
    period = _period(request.query_params, "91", max_days=bounds.MAX_PERIOD_DAYS)
    now = utcnow()
    today = now.date()
    start = period.date_from or today - timedelta(days=364)
    end = period.date_to or today
    query = indicators_service.Query(
        date_from=sessions_service.parse_bound(start.isoformat(), end=False),  # type: ignore[arg-type]
        date_to=sessions_service.parse_bound(end.isoformat(), end=True),  # type: ignore[arg-type]
        granularity="week",
        location=location or None,
        now=now,
    )
    data = indicators_service.indicators(session, user, query, norms)
    titles = _protocol_titles(knowledge)

    # Weeks of the period (also the empty ones, so a quiet week shows as zero).
    first_monday = start - timedelta(days=start.weekday())
    weeks = [(first_monday + timedelta(weeks=n)).isoformat() for n in range((end - first_monday).days // 7 + 1)]
    week_labels = [_week_label(week) for week in weeks]
    rows_by_week: dict[str, list[Any]] = {}
    for row in data.rows:
        rows_by_week.setdefault(row.period or "", []).append(row)

    def per_week(value: Any) -> list[Any]:
        return [value(rows_by_week.get(week, [])) for week in weeks]

    protocols = sorted({p for row in data.rows for p in row.incidents.per_protocol}, key=lambda p: titles.get(p, p))
    incidents_chart = _chart(
        "bar",
        week_labels,
        [
            {
                "label": titles.get(protocol, protocol),
                "data": per_week(lambda rows, p=protocol: sum(r.incidents.per_protocol.get(p, 0) for r in rows)),
                "backgroundColor": PALETTE[index % len(PALETTE)],
            }
            for index, protocol in enumerate(protocols)
        ],
        stacked=True,
        yTitle="Meldingen",
    )

    def share(rows: list[Any], norm_id: str) -> float | None:
        met = sum(r.norms[norm_id].met for r in rows)
        decided = met + sum(r.norms[norm_id].deviations for r in rows)
        return round(100 * met / decided, 1) if decided else None

    norms_chart = _chart(
        "line",
        week_labels,
        [
            {
                "label": norm.title,
                "data": per_week(lambda rows, n=norm.id: share(rows, n)),
                "borderColor": PALETTE[index % len(PALETTE)],
                "backgroundColor": PALETTE[index % len(PALETTE)],
            }
            for index, norm in enumerate(data.norms)
        ],
        percent=True,
        yTitle="% volgens de norm",
    )
    review_locations = [loc for loc in codes if not location or loc == location]
    median_by = {(row.period, row.location): row.review.median_hours for row in data.rows}
    review_chart = _chart(
        "line",
        week_labels,
        [
            {
                "label": loc,
                "data": [median_by.get((week, loc)) for week in weeks],
                "borderColor": PALETTE[index % len(PALETTE)],
                "backgroundColor": PALETTE[index % len(PALETTE)],
            }
            for index, loc in enumerate(review_locations)
        ],
        yTitle="Mediaan uren tot afgehandeld",
    )
    corrections_chart = _chart(
        "bar",
        week_labels,
        [
            {
                "label": loc,
                "data": per_week(lambda rows, lc=loc: sum(r.open_corrections for r in rows if r.location == lc)),
                "backgroundColor": PALETTE[index % len(PALETTE)],
            }
            for index, loc in enumerate(review_locations)
        ],
        yTitle="Open correcties",
    )
    totals = data.totals
    summary = {
        "sessions": sum(t.sessions.total for t in totals),
        "incidents": sum(t.incidents.total for t in totals),
        "reviewed": sum(t.review.reviewed for t in totals),
        "open_corrections": sum(t.open_corrections for t in totals),
        "deviations": sum(n.deviations for t in totals for n in t.norms.values()),
    }
    table_rows = [
        {
            "period": _week_label(row.period),
            "location": row.location,
            "sessions": row.sessions.total,
            "incidents": row.incidents.total,
            "norms": {norm_id: counts for norm_id, counts in row.norms.items()},
            "reviewed": row.review.reviewed,
            "median": _fmt_hours(row.review.median_hours),
            "open_corrections": row.open_corrections,
        }
        for row in sorted(data.rows, key=lambda r: (r.period or "", r.location), reverse=True)
    ]
    period_filters = {k: v for k, v in {"locatie": location, "van": start.isoformat(), "tot": end.isoformat()}.items()
                      if v}
    return render(
        request,
        "dashboard/overview.html",
        {
            "user": user,
            "locations": locations,
            "location": location,
            "period": period,
            "periods": PERIODS,
            "data": data,
            "summary": summary,
            "totals": totals,
            "table_rows": table_rows,
            # Confirmed follow-ups (issue 15); the referral norms count advice: "geadviseerd".
            "follow_ups": follow_up_indicators(session, user, now, location=location or None,
                                               date_from=query.date_from, date_to=query.date_to),
            "advised_norms": {norm.id for norm in norms.values() if norm.rule.startswith("referral_")},
            "follow_up_norm_titles": {norm.id: norm.title for norm in follow_up_norms().values()},
            "charts": {
                "incidents": incidents_chart,
                "norms": norms_chart,
                "review": review_chart,
                "corrections": corrections_chart,
            },
            "fmt_hours": _fmt_hours,
            "fmt_share": _fmt_share,
            "titles": titles,
            # Key positions nobody holds today (issue 17): the Inspectie found them on some locations.
            "gaps": directory_service.gaps(session, [location] if location else codes),
            "gap_labels": GAP_LABELS,
            "sessions_link": "/sessies?" + urlencode(period_filters),
            # Runs left without a decision (onderbroken) are not in the indicators: a count
            # over a year of sessions would cost the dashboard its speed; /sessies lists them.
            "left_link": "/sessies?" + urlencode({**period_filters, "verloop": "onderbroken"}),
        },
    )


# --------------------------------------------------------------------------- session list


def _idle_text() -> str:
    """How long a run waits before it counts as onderbroken, in words ("2 uur")."""
    minutes = get_settings().session_idle_minutes
    return f"{minutes // 60} uur" if minutes % 60 == 0 else f"{minutes} minuten"


def _session_filters(params: Any, codes: list[str]) -> tuple[sessions_service.SessionFilters, dict[str, str], Period]:
    location = str(params.get("locatie") or "").strip().upper()
    protocol = str(params.get("protocol") or "").strip()
    status = str(params.get("status") or "").strip()
    overdue = str(params.get("te_laat") or "").strip()
    state = str(params.get("verloop") or "").strip()
    keyword = str(params.get("q") or "").strip()[:200]
    period = _period(params, "")
    filters = sessions_service.SessionFilters(
        # A location outside the user's scope is kept as asked: the scope in the
        # service still applies, so the answer is simply empty.
        location=location or None,
        protocol=protocol or None,
        status=status if status in STATUSES else None,
        state=state if state in STATE_LABELS else None,
        date_from=sessions_service.parse_bound(period.date_from.isoformat(), end=False) if period.date_from else None,
        date_to=sessions_service.parse_bound(period.date_to.isoformat(), end=True) if period.date_to else None,
        overdue={"ja": True, "nee": False}.get(overdue),
        q=keyword or None,
    )
    form = {
        "locatie": location,
        "protocol": protocol,
        "status": status,
        "te_laat": overdue,
        "verloop": state if state in STATE_LABELS else "",
        "q": keyword,
        "periode": period.key if period.key != "eigen" else "",
        "van": period.date_from.isoformat() if period.key == "eigen" and period.date_from else "",
        "tot": period.date_to.isoformat() if period.key == "eigen" and period.date_to else "",
    }
    return filters, form, period


def _api_query(filters: sessions_service.SessionFilters) -> str:
    """The same filters for ``/api/v1/sessions.csv``."""
    params: dict[str, str] = {}
    if filters.location:
        params["location"] = filters.location
    if filters.protocol:
        params["protocol"] = filters.protocol
    if filters.status:
        params["status"] = filters.status
    if filters.date_from:
        params["from"] = filters.date_from.date().isoformat()
    if filters.date_to:
        params["to"] = (filters.date_to.date() - timedelta(days=1)).isoformat()
    if filters.state:
        params["state"] = filters.state
    if filters.overdue is not None:
        params["overdue"] = "true" if filters.overdue else "false"
    if filters.q:
        params["q"] = filters.q
    return urlencode(params)


@router.get("/sessies")
def session_list(request: Request, session: SessionDep, knowledge: KnowledgeDep, user: ReaderUser) -> Response:
    try:
        return _session_list(request, session, knowledge, user)
    except BadParameter as exc:
        return _bad_parameter(request, user, exc, ("/sessies", "Naar de sessies"))


def _session_list(request: Request, session: Any, knowledge: Any, user: User) -> Response:
    locations = _user_locations(session, user)
    filters, form, period = _session_filters(request.query_params, [loc.code for loc in locations])
    try:
        page = int(request.query_params.get("pagina") or 1)
    except ValueError:
        page = 0
    if not 1 <= page <= MAX_PAGE:
        raise BadParameter(f"Kies een paginanummer van 1 tot en met {MAX_PAGE}.")
    items, total = sessions_service.list_sessions(
        session, user, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    base = {key: value for key, value in form.items() if value}

    def page_link(number: int) -> str:
        return "/sessies?" + urlencode({**base, "pagina": str(number)})

    return render(
        request,
        "dashboard/sessions.html",
        {
            "user": user,
            "items": items,
            "total": total,
            "page": page,
            "pages": pages,
            "page_link": page_link,
            "first_index": (page - 1) * PAGE_SIZE + 1 if total else 0,
            "last_index": min(total, page * PAGE_SIZE),
            "form": form,
            "period": period,
            "periods": PERIODS,
            "locations": locations,
            "titles": _protocol_titles(knowledge),
            "status_labels": STATUS_LABELS,
            "state_labels": STATE_LABELS,
            "idle_hours": _idle_text(),
            "csv_link": "/api/v1/sessions.csv?" + _api_query(filters),
            "filtered": bool(base),
        },
    )


# --------------------------------------------------------------------------- session page


def _timeline(events: list[Any]) -> list[dict[str, Any]]:
    """Events as timeline entries; a question and the answer to it become one entry."""
    entries: list[dict[str, Any]] = []
    for event in events:
        previous = entries[-1] if entries else None
        if (
            event.type == "answer_given"
            and previous is not None
            and previous["type"] == "question_asked"
            and previous["answer"] is None
            and (event.step is None or previous["step"] in (None, event.step))
        ):
            previous["answer"] = event.answer
            continue
        entries.append(
            {
                "type": event.type,
                "label": EVENT_LABELS.get(event.type, event.type),
                "seq": event.seq,
                "at": local_time(event.created_at),
                "step": event.step,
                "text": event.text,
                "answer": event.answer if event.type != "question_asked" else None,
                "outcome": event.outcome,
                "incident_reference": event.incident_reference,
            }
        )
    return entries


def _session_page(
    request: Request,
    session: Any,
    knowledge: Any,
    norms: dict[str, Any],
    user: User,
    session_id: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    detail = sessions_service.get_session_detail(session, user, session_id)
    if detail is None:
        return render(
            request,
            "error.html",
            {
                "user": user,
                "title": "Sessie niet gevonden",
                "message": "Deze sessie bestaat niet of valt buiten uw locaties.",
                "back": ("/sessies", "Naar de sessies"),
            },
            status_code=404,
        )
    incidents = []
    for entry in detail.incidents:
        incident = entry.incident
        status = incident.review_status
        staff_id = incident.staff_id
        # Author transitions (gecorrigeerd) live on /correcties, not on this page.
        actions = [
            {"status": target, "label": ACTION_LABELS.get(target, target)}
            for target in access.allowed_transitions(user, status, incident.location, staff_id)
            if TRANSITIONS[(status, target)] == "reviewer"
        ]
        own = access.is_author(user, staff_id) and user.role == "supervisor"
        # As the directory knew them when it was recorded, not as they are now: the
        # positions the advice named, or (a neutral record) everyone.
        involved = records_service.involved_when_recorded(session, knowledge, incident)
        incidents.append(
            {
                "incident": incident,
                "status": status,
                "history": entry.review_history,
                "actions": actions,
                "can_note": access.is_reviewer(user, incident.location, staff_id),
                "own": own,
                "deviations": [norms[norm_id] for norm_id in incident.deviations if norm_id in norms],
                "involved": involved,
                "holders": [] if involved is not None else directory_service.holders_when_recorded(
                    session, incident.location, incident.created_at),
            }
        )
    deviating_refs = {item["incident"].reference for item in incidents if item["deviations"]}
    return render(
        request,
        "dashboard/session.html",
        {
            "user": user,
            "s": detail,
            "protocol_title": knowledge.record_title(detail.protocol),
            "timeline": _timeline(detail.events),
            "incidents": incidents,
            "deviating_refs": deviating_refs,
            "status_labels": STATUS_LABELS,
            "state_labels": STATE_LABELS,
            "idle_hours": _idle_text(),
            "organisations": {org_id: org.name for org_id, org in knowledge.organisations.items()},
            "error": error,
            "done": request.query_params.get("gedaan"),
        },
        status_code=status_code,
    )


@router.get("/sessies/{session_id}")
def session_page(
    request: Request, session_id: str, session: SessionDep, knowledge: KnowledgeDep, norms: NormsDep, user: ReaderUser
) -> Response:
    return _session_page(request, session, knowledge, norms, user, session_id)


@router.post("/sessies/{session_id}/beoordeling")
async def session_review(
    request: Request, session_id: str, session: SessionDep, knowledge: KnowledgeDep, norms: NormsDep, user: ReaderUser
) -> Response:
    form = await request.form()

    def again(message: str, status_code: int) -> Response:
        return _session_page(
            request, session, knowledge, norms, user, session_id, error=message, status_code=status_code
        )

    if not csrf_matches(request, str(form.get(CSRF_FORM_FIELD) or "")):
        return again(STALE_FORM, 403)
    # The incident must belong to this session as this user sees it.
    detail = sessions_service.get_session_detail(session, user, session_id)
    incident_id = str(form.get("incident_id") or "")
    if detail is None or incident_id not in {str(entry.incident.id) for entry in detail.incidents}:
        return again("Deze melding hoort niet bij deze sessie.", 404)
    note = str(form.get("note") or "").strip() or None
    status = str(form.get("status") or "").strip() or None
    try:
        payload = ReviewEventCreate(status=status, note=note)  # type: ignore[arg-type]
    except ValidationError:
        return again("Kies een actie of schrijf een notitie.", 422)
    try:
        event = reviews_service.append(session, user, incident_id, payload)
    except reviews_service.ReviewError as exc:
        message = {
            403: "Deze stap is niet aan u: alleen een leidinggevende van deze locatie beoordeelt, "
            "en nooit een melding die hij of zij zelf heeft vastgelegd (vier ogen).",
            404: "Melding niet gevonden.",
            409: "Deze stap kan niet meer vanuit de huidige status (iemand anders was u voor?).",
        }.get(exc.status_code, exc.detail)
        return again(message, exc.status_code)
    return RedirectResponse(f"/sessies/{session_id}?gedaan={event.status}#beoordeling", status_code=303)


# --------------------------------------------------------------------------- corrections


def _corrections_page(
    request: Request, session: Any, knowledge: Any, user: User, *, error: str | None = None, status_code: int = 200
) -> Response:
    items = reviews_service.my_corrections(session, user)
    return render(
        request,
        "dashboard/corrections.html",
        {
            "user": user,
            "items": items,
            "titles": _protocol_titles(knowledge),
            "fmt_iso": lambda value: local_time(_parse_iso(value)),
            "error": error,
            "done": request.query_params.get("gedaan"),
        },
        status_code=status_code,
    )


def _parse_iso(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@router.get("/correcties")
def corrections(request: Request, session: SessionDep, knowledge: KnowledgeDep, user: CounsellorUser) -> Response:
    return _corrections_page(request, session, knowledge, user)


@router.post("/correcties/{incident_id}")
async def correction_done(
    request: Request, incident_id: str, session: SessionDep, knowledge: KnowledgeDep, user: CounsellorUser
) -> Response:
    form = await request.form()
    if not csrf_matches(request, str(form.get(CSRF_FORM_FIELD) or "")):
        return _corrections_page(request, session, knowledge, user, error=STALE_FORM, status_code=403)
    note = str(form.get("note") or "").strip()
    if not note:
        return _corrections_page(
            request, session, knowledge, user, error="Schrijf kort wat u heeft gecorrigeerd.", status_code=422
        )
    try:
        payload = ReviewEventCreate(status="gecorrigeerd", note=note[:4000])
        reviews_service.append(session, user, incident_id, payload)
    except reviews_service.ReviewError as exc:
        message = "Deze melding staat niet (meer) op uw lijst met correcties." if exc.status_code != 403 else exc.detail
        return _corrections_page(request, session, knowledge, user, error=message, status_code=exc.status_code)
    return RedirectResponse("/correcties?gedaan=1", status_code=303)

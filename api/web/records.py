"""The incident's file page (issue 15 part 6): the printable decision record, and the
handover form for supervisors.

| route | roles |
| --- | --- |
| ``GET /incidenten/{incident_id}/dossier`` | whoever reads the incident (api/access.py); others a 404 page |
| ``POST /incidenten/{incident_id}/overdracht`` | a supervisor of the incident's current location, or an admin |
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from api import access
from api.auth.cookies import CSRF_FORM_FIELD, csrf_matches
from api.auth.models import UserAccount
from api.auth.schemas import User
from api.db import SessionDep
from api.handovers import service as handovers
from api.handovers.schemas import HandoverCreate
from api.knowledge_ref import KnowledgeDep
from api.locations.models import Location
from api.records.router import record_for
from api.records.service import STATUS_LABELS, VERIFY
from api.web.pages import render, require_page_roles

router = APIRouter(include_in_schema=False)

StaffPageUser = Annotated[User, require_page_roles("counsellor", "contact_person", "supervisor", "admin")]
MESSAGES = {
    403: "Een incident draagt een leidinggevende van de locatie waar het nu is over, of een beheerder.",
    409: "Er is net een andere overdracht vastgelegd. Bekijk de geschiedenis en probeer het opnieuw.",
}


def _counsellors(session: Any) -> list[dict[str, Any]]:
    """Active counsellor accounts per location, for the form (account names, no case data)."""
    accounts = session.scalars(select(UserAccount).where(UserAccount.role == "counsellor",
                                                         UserAccount.active.is_(True))
                               .order_by(UserAccount.username)).all()  # fmt: skip
    return [{"staff_id": a.staff_id, "username": a.username, "locations": a.locations or []} for a in accounts]


def _page(request: Request, session: Any, knowledge: Any, user: User, incident_id: str, *,
          error: str | None = None, status_code: int = 200) -> Response:
    record = record_for(session, knowledge, user, incident_id)
    incident = handovers.load(session, incident_id) if record is not None else None
    if record is None or incident is None:
        return render(request, "error.html", {
            "user": user, "title": "Incident niet gevonden",
            "message": "Dit incident bestaat niet of valt buiten uw locaties.",
        }, status_code=404)  # fmt: skip
    here = handovers.current_place(session, incident)
    may_hand_over = access.may_hand_over(user, here[0])
    return render(request, "records/dossier.html", {
        "user": user, "r": record, "incident_id": incident_id, "status_labels": STATUS_LABELS,
        "verify": VERIFY, "here": here, "may_hand_over": may_hand_over, "error": error,
        "done": request.query_params.get("overgedragen"),
        "locations": session.scalars(select(Location).order_by(Location.code)).all() if may_hand_over else [],
        "counsellors": _counsellors(session) if may_hand_over else [],
    }, status_code=status_code)  # fmt: skip


@router.get("/incidenten/{incident_id}/dossier")
def dossier(request: Request, incident_id: str, session: SessionDep, knowledge: KnowledgeDep,
            user: StaffPageUser) -> Response:
    return _page(request, session, knowledge, user, incident_id)


@router.post("/incidenten/{incident_id}/overdracht")
async def hand_over(request: Request, incident_id: str, session: SessionDep, knowledge: KnowledgeDep,
                    user: StaffPageUser) -> Response:
    form = await request.form()

    def again(message: str, status_code: int) -> Response:
        return _page(request, session, knowledge, user, incident_id, error=message, status_code=status_code)

    if not csrf_matches(request, str(form.get(CSRF_FORM_FIELD) or "")):
        return again("Het formulier was verlopen. Probeer het opnieuw.", 403)
    try:
        payload = HandoverCreate(to_location=str(form.get("to_location") or "") or None,
                                 to_staff_id=str(form.get("to_staff_id") or "") or None,
                                 reason=str(form.get("reason") or "")[:1000])  # fmt: skip
    except ValidationError:
        return again("Kies een andere begeleider of locatie en schrijf kort waarom (zonder namen).", 422)
    try:
        handovers.hand_over(session, user, incident_id, payload)
    except handovers.NotFound:
        return again("Incident niet gevonden.", 404)
    except handovers.Invalid as exc:
        return again(f"Niet overgedragen: {exc}.", 422)
    except (handovers.Refused, handovers.Conflict) as exc:
        return again(MESSAGES[403 if isinstance(exc, handovers.Refused) else 409],
                     403 if isinstance(exc, handovers.Refused) else 409)  # fmt: skip
    return RedirectResponse(f"/incidenten/{incident_id}/dossier?overgedragen=1#overdracht", status_code=303)

"""The "Mijn acties" page (issue 15): the follow-ups a user is to confirm, overdue
first, with one click to mark one done or not done (with a reason); and the header
badge with the open and overdue counts on every page.

| route | roles |
| --- | --- |
| ``GET /acties``, ``POST /acties/{follow_up_id}`` | counsellor (own), contact person and supervisor (their locations) |
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api.auth.cookies import CSRF_FORM_FIELD, csrf_matches
from api.auth.schemas import User
from api.db import SessionDep
from api.follow_ups import service
from api.follow_ups.schemas import FollowUpEventCreate
from api.knowledge_ref import KnowledgeDep
from api.web.pages import current_page_user, render, require_page_roles

router = APIRouter(include_in_schema=False)

ConfirmingUser = Annotated[User, require_page_roles("counsellor", "contact_person", "supervisor")]
#: Roles that get the header badge: those who confirm follow-ups.
BADGE_ROLES = frozenset({"counsellor", "contact_person", "supervisor"})

STATUS_LABELS = {"open": "Open", "gedaan": "Gedaan", "niet_gedaan": "Niet gedaan", "vervallen": "Vervallen"}
MESSAGES = {
    404: "Deze actie staat niet (meer) op uw lijst.",
    403: "Deze actie bevestigt de begeleider, de contactpersoon of de leidinggevende van de locatie.",
    409: "Deze actie is al bevestigd (iemand anders was u voor?).",
}


def follow_up_badge(request: Request, session: SessionDep) -> None:
    """Router dependency of the pages: the (open, overdue) counts for the header."""
    user = current_page_user(request, session)
    if user is not None and user.role in BADGE_ROLES:
        request.state.follow_up_badge = service.counts_for(session, user)


def _page(request: Request, session: Any, knowledge: Any, user: User, *, error: str | None = None,
          status_code: int = 200) -> Response:
    listed = service.list_for(session, user, service.Filters(status="open"))
    recent = service.list_for(session, user, service.Filters(), limit=200).items
    return render(
        request,
        "actions.html",
        {
            "user": user,
            "items": listed.items,
            "overdue_count": listed.overdue,
            "closed": [item for item in recent if item.status != "open"][:20],
            "organisations": {org_id: org.name for org_id, org in knowledge.organisations.items()},
            "status_labels": STATUS_LABELS,
            "error": error,
            "done": STATUS_LABELS.get(request.query_params.get("gedaan", "")),
        },
        status_code=status_code,
    )


@router.get("/acties")
def my_actions(request: Request, session: SessionDep, knowledge: KnowledgeDep, user: ConfirmingUser) -> Response:
    return _page(request, session, knowledge, user)


@router.post("/acties/{follow_up_id}")
async def confirm(
    request: Request, follow_up_id: str, session: SessionDep, knowledge: KnowledgeDep, user: ConfirmingUser
) -> Response:
    form = await request.form()
    if not csrf_matches(request, str(form.get(CSRF_FORM_FIELD) or "")):
        return _page(request, session, knowledge, user, error="Het formulier was verlopen. Probeer het opnieuw.",
                     status_code=403)  # fmt: skip
    if service.get_for(session, user, follow_up_id) is None:
        return _page(request, session, knowledge, user, error=MESSAGES[404], status_code=404)
    reason = str(form.get("reason") or "").strip()[:1000] or None
    try:
        payload = FollowUpEventCreate(status=str(form.get("status") or ""), reason=reason)  # type: ignore[arg-type]
    except ValidationError:
        message = "Schrijf bij 'Niet gedaan' kort waarom de actie niet is gedaan."
        return _page(request, session, knowledge, user, error=message, status_code=422)
    try:
        service.change_status(session, user, follow_up_id, payload)
    except service.NotFound:
        return _page(request, session, knowledge, user, error=MESSAGES[404], status_code=404)
    except service.Refused:
        return _page(request, session, knowledge, user, error=MESSAGES[403], status_code=403)
    except service.Conflict:
        return _page(request, session, knowledge, user, error=MESSAGES[409], status_code=409)
    return RedirectResponse(f"/acties?gedaan={payload.status}", status_code=303)

"""``PUT /api/v1/teams/conversations``: the chat stores where a counsellor can be reached.

Service credential only (the action server, which takes the reference from the Teams
channel's verified activity); nobody reads references through the API: only the
reminder runner uses them.
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.auth.dependencies import ServiceUser
from api.db import SessionDep
from api.teams import service
from api.teams.schemas import ConversationReferenceIn

router = APIRouter(prefix="/api/v1/teams", tags=["teams"])


@router.put("/conversations", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def store_reference(reference: ConversationReferenceIn, _user: ServiceUser, session: SessionDep) -> Response:
    service.store(session, reference)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

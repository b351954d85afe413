"""GET /api/v1/protocols and /api/v1/protocols/{id}: the protocols, for any role."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from api.auth.dependencies import CurrentUser
from api.knowledge_ref import KnowledgeDep
from api.protocols import service
from api.protocols.schemas import ProtocolDetail, ProtocolSummary

router = APIRouter(prefix="/api/v1/protocols", tags=["protocols"])


@router.get("", response_model=list[ProtocolSummary])
def list_protocols(_user: CurrentUser, knowledge: KnowledgeDep) -> list[ProtocolSummary]:
    return [service.summary(protocol) for protocol in service.ordered(knowledge)]


@router.get(
    "/{protocol_id}",
    response_model=ProtocolDetail,
    responses={404: {"description": "unknown protocol id"}},
)
def get_protocol(protocol_id: str, _user: CurrentUser, knowledge: KnowledgeDep) -> ProtocolDetail:
    protocol = knowledge.protocols.get(protocol_id)
    if protocol is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown protocol id '{protocol_id}'")
    return service.detail(protocol, knowledge)

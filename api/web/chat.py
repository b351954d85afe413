"""The web chat page: ``GET /chat`` for logged-in staff.

The page talks to the Rasa server's web chat channel
(``assistant/channels/webchat.py``) over socket.io, with the client library from
npm (``socket.io-client`` 4, served under ``/static/vendor/socket.io/``). Its
script (``static/js/chat.js``) first asks ``POST /api/v1/auth/chat-token`` (cookie +
``X-CSRF-Token``) for a 15-minute socket token; the channel takes the staff id and
the location from that token, so the page never sends an identity itself.

``COA_RASA_PUBLIC_URL`` (default ``http://127.0.0.1:5005``) is the Rasa server as the
browser reaches it; the page's CSP allows ``connect-src`` to that origin only
(``http(s)://`` for socket.io's polling, ``ws(s)://`` for its WebSocket).
"""

from __future__ import annotations

import json
import os
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from api.auth.schemas import User
from api.db import SessionDep
from api.knowledge_ref import KnowledgeDep
from api.locations.models import Location
from api.web.pages import render, require_page_roles
from api.web.security import csp
from knowledge import Knowledge

router = APIRouter(include_in_schema=False)

StaffPageUser = Annotated[User, require_page_roles("counsellor", "contact_person", "supervisor", "admin")]

DEFAULT_RASA_PUBLIC_URL = "http://127.0.0.1:5005"
SOCKETIO_PATH = "/socket.io"


def rasa_public_origin(value: str | None = None) -> str:
    """The configured Rasa origin (``scheme://host[:port]``), checked."""
    raw = (value if value is not None else os.environ.get("COA_RASA_PUBLIC_URL", "")).strip()
    raw = raw or DEFAULT_RASA_PUBLIC_URL
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.username or parts.password:
        raise ValueError(f"COA_RASA_PUBLIC_URL must be an http(s) origin, not {raw!r}")
    if any(char in parts.netloc for char in " ;,'\""):
        raise ValueError(f"COA_RASA_PUBLIC_URL has characters that do not belong in an origin: {raw!r}")
    return f"{parts.scheme}://{parts.netloc}"


def chat_csp(origin: str) -> str:
    ws = ("wss://" if origin.startswith("https://") else "ws://") + origin.split("://", 1)[1]
    return csp(connect_src=f"'self' {origin} {ws}")


def opening_choices(knowledge: Knowledge) -> list[dict[str, str]]:
    """The greeting's buttons: a protocol to start, or a look-up (Rasa payloads)."""
    protocols = sorted(knowledge.protocols.values(), key=lambda protocol: protocol.title.casefold())
    choices = [{"title": protocol.title, "payload": f"/{protocol.intent}"} for protocol in protocols]
    for reference in knowledge.references.values():
        choices.append({"title": f"Stappen van de {reference.title[:1].lower()}{reference.title[1:]}",
                        "payload": "/vraag_stappen" + json.dumps({"protocol": reference.id})})
    if "veilig_thuis" in knowledge.organisations:
        choices.append({"title": "Wanneer meld ik bij Veilig Thuis?",
                        "payload": "/vraag_wanneer_melden" + json.dumps({"organisation": "veilig_thuis"})})
    return choices


@router.get("/chat")
def chat_page(request: Request, user: StaffPageUser, session: SessionDep, knowledge: KnowledgeDep) -> Response:
    origin = rasa_public_origin()
    code = user.locations[0] if user.locations else None
    location = session.scalar(select(Location).where(Location.code == code)) if code else None
    response = render(
        request,
        "chat.html",
        {
            "user": user,
            "socket_url": origin,
            "socket_path": SOCKETIO_PATH,
            "location_code": code,
            "location_name": location.name if location is not None else code,
            "opening_choices": opening_choices(knowledge),
        },
    )
    response.headers["Content-Security-Policy"] = chat_csp(origin)
    return response

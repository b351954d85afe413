"""What every HTML page needs: templates, the logged-in user, the CSRF token, menus.

For new pages (chat, dashboard)::

    from api.web.pages import PageUser, render

    @router.get("/chat")
    def chat(request: Request, user: PageUser) -> Response:
        return render(request, "chat.html", {"user": user})

``PageUser`` redirects to ``/login?next=...`` when there is no valid session
cookie; ``render`` adds the CSRF token, the menu and ``Cache-Control: no-store``.
Templates extend ``base.html`` and put their scripts in ``{% block scripts %}`` as
``<script src="/static/..." defer></script>`` (no inline JavaScript: the CSP forbids it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.templating import Jinja2Templates

from api.auth import login_sessions
from api.auth.cookies import (
    bind_csrf,
    clear_session_cookie,
    csrf_cookie,
    new_csrf_token,
    session_token,
    set_csrf_cookie,
)
from api.auth.schemas import Role, User
from api.auth.service import InvalidToken, decode_token
from api.config import Settings, get_settings
from api.db import SessionDep
from api.knowledge_ref import get_knowledge
from knowledge import KEY_POSITION_LABELS as _KEY_POSITION_NAMES
from knowledge.local_time import local_deadline, local_time

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

ROLE_LABELS: dict[str, str] = {
    "counsellor": "Begeleider",
    "contact_person": "Contactpersoon",
    "supervisor": "Leidinggevende",
    "admin": "Beheerder",
    "service": "Dienst",
}

#: Headings of the key positions (knowledge/key_positions.yml).
KEY_POSITION_LABELS: dict[str, str] = {ident: label[:1].upper() + label[1:]
                                       for ident, label in _KEY_POSITION_NAMES.items()}


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    roles: frozenset[str] = frozenset({"counsellor", "contact_person", "supervisor", "admin", "service"})


#: The main menu. Add the chat page and the dashboard here (with their roles).
NAV: list[NavItem] = [NavItem("Protocollen", "/protocollen")]
# The web chat (api/web/chat.py): staff only, the service role has no chat.
NAV += [NavItem("Chat", "/chat", frozenset({"counsellor", "contact_person", "supervisor", "admin"}))]
# Supervisors' dashboard and the counsellor's corrections (api/web/dashboard.py).
NAV += [
    NavItem("Dashboard", "/dashboard", frozenset({"supervisor", "contact_person", "admin"})),
    NavItem("Sessies", "/sessies", frozenset({"supervisor", "contact_person", "admin"})),
    NavItem("Correcties", "/correcties", frozenset({"counsellor"})),
]
# Keeping the directory and the accounts current (api/web/directory.py, api/web/users.py).
NAV += [
    NavItem("Sleutelposities", "/sleutelposities", frozenset({"supervisor", "admin"})),
    NavItem("Gebruikers", "/gebruikers", frozenset({"admin"})),
]
# The follow-ups to confirm (api/web/actions.py).
NAV += [NavItem("Mijn acties", "/acties", frozenset({"counsellor", "contact_person", "supervisor"}))]

DEFAULT_AFTER_LOGIN = "/protocollen"


def tel_href(phone: str | None) -> str:
    """``tel:`` link target for a Dutch phone number as written ("0800-2000")."""
    digits = "".join(char for char in str(phone or "") if char.isdigit() or char == "+")
    return f"tel:{digits}"


def outcome_title(record_id: str | None, code: str | None) -> str | None:
    """The outcome's short title from knowledge/, looked up in what the record is filed
    under (a privacy run filed under its neutral category keeps its bare code)."""
    return get_knowledge().outcome_title(record_id, code)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # every template, whatever its file name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["role_labels"] = ROLE_LABELS
    env.globals["key_position_labels"] = KEY_POSITION_LABELS
    env.filters["tel"] = tel_href
    env.filters["local_time"] = local_time
    env.filters["local_deadline"] = local_deadline
    env.globals["outcome_title"] = outcome_title
    return env


templates = Jinja2Templates(env=_environment())


def safe_next(value: str | None) -> str:
    """A same-site path to go to after login; anything else becomes the default.

    Refuses absolute URLs, scheme-relative ``//host`` and ``/\\host`` (open redirects)
    and control characters.
    """
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return DEFAULT_AFTER_LOGIN
    if any(ord(char) < 0x20 or char == "\\" for char in value):
        return DEFAULT_AFTER_LOGIN
    if value.split("?", 1)[0] in ("/login", "/logout"):
        return DEFAULT_AFTER_LOGIN
    return value


class LoginRequired(Exception):
    """Raised by ``page_user``; answered with a redirect to the login page."""

    def __init__(self, next_path: str, clear_cookie: bool) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.clear_cookie = clear_cookie


def login_redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    response = RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)
    if exc.clear_cookie:
        clear_session_cookie(response, get_settings())
    return response


def current_page_user(request: Request, session: Session) -> User | None:
    """The user of a valid session cookie whose login has not ended, or None.

    Also binds the request's CSRF check to that login (``api/auth/login_sessions.py``)."""
    token = session_token(request)
    if token is None:
        return None
    settings = get_settings()
    try:
        user = decode_token(settings, token)
    except InvalidToken:
        return None
    if login_sessions.refusal(session, user) is not None:
        return None
    bind_csrf(request, login_sessions.csrf_for(settings, user.sid) if user.sid else None)
    request.state.page_user = user
    return user


def page_user(request: Request, session: SessionDep) -> User:
    user = current_page_user(request, session)
    if user is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(safe_next(path), clear_cookie=session_token(request) is not None)
    return user


PageUser = Annotated[User, Depends(page_user)]


def require_page_roles(*roles: Role) -> Any:
    """Like ``require_roles`` for pages: 403 page for a logged-in user with another role."""
    allowed = frozenset(roles)

    def _check(request: Request, user: PageUser) -> User:
        if user.role not in allowed:
            raise PageForbidden()
        return user

    return Depends(_check)


class PageForbidden(Exception):
    pass


def forbidden_page(request: Request, _exc: Exception) -> Response:
    return render(
        request,
        "error.html",
        {"title": "Geen toegang", "message": "Uw rol heeft geen toegang tot deze pagina."},
        status_code=403,
    )


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    settings: Settings | None = None,
) -> Response:
    """Render a page with the base context; sets the CSRF cookie when there is none."""
    settings = settings or get_settings()
    token = csrf_cookie(request)
    context = dict(context or {})
    # The user the page dependency checked (a page without one shows no menu).
    user: User | None = context["user"] if "user" in context else getattr(request.state, "page_user", None)
    context["user"] = user
    bound = getattr(request.state, "csrf_bound", None)
    new_token = token is None or (bound is not None and token != bound)
    if new_token:
        token = bound or new_csrf_token()
    context.setdefault("csrf_token", token)
    # (open, overdue) follow-ups for the header, set by api.web.actions.follow_up_badge.
    context.setdefault("follow_up_badge", getattr(request.state, "follow_up_badge", None))
    context.setdefault(
        "nav",
        [
            {"label": item.label, "href": item.href, "active": request.url.path.startswith(item.href)}
            for item in NAV
            if user is not None and user.role in item.roles
        ],
    )
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    # Pages may show case data later: never keep them in a shared or browser cache.
    response.headers["Cache-Control"] = "no-store"
    if new_token:
        assert token is not None
        set_csrf_cookie(response, token, settings)
    return response

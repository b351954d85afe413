"""Authorisation matrix (issue 6, part 2): every route of the app × every role ×
the user's own or another location → the expected status code.

The routes are enumerated from ``create_app()``: a route (API endpoint, page or
mount) that has no row in ``EXPECTED`` fails ``test_every_route_has_a_row``.

Roles: the five token roles plus ``anonymous`` (no credentials). API routes are
called with ``Authorization: Bearer``; pages with the ``coa_session`` cookie (and a
valid CSRF pair on POST). The user belongs to TERAPEL (a counsellor is the author,
by staff id, of the TERAPEL records); "other" means the records of BUDEL.
Which records a list shows is tested by tests/api/test_scoping_matrix.py; here
the status code is the contract. Anonymous gets 401 from the API and a 303 to
/login from pages: only /health, login, static assets and (outside production)
the API docs answer without a token (``test_anonymous_reaches_only_public_paths``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Mount

from api.auth.service import create_token
from api.config import get_settings
from tests.api.conftest import MATRIX_STAFF
from tests.api.factories import ScopingRecords

ROLES = ("counsellor", "contact_person", "supervisor", "admin", "service", "anonymous")
OWN, OTHER = "TERAPEL", "BUDEL"
STAFF = MATRIX_STAFF  # each location's records are by this staff id (tests/api/conftest.py)
CSRF = "matrix-csrf-token-0123456789"
DEMO_LOGIN = {"username": "contactpersoon.terapel", "password": "contactpersoon-demo"}


def same(code: int, **per_role: int | tuple[int, int]) -> dict[str, tuple[int, int]]:
    """Every role ``code`` on both locations, except the roles given."""
    row: dict[str, tuple[int, int]] = {role: (code, code) for role in ROLES}
    for role, value in per_role.items():
        row[role] = value if isinstance(value, tuple) else (value, value)
    return row


STAFF_READ = same(200, service=403, anonymous=401)
DETAIL = same(200, counsellor=(200, 404), contact_person=(200, 404), supervisor=(200, 404), service=403, anonymous=401)
SERVICE_WRITE = same(403, service=201, anonymous=401)
ANY_TOKEN = same(200, anonymous=401)
PUBLIC = same(200)
PAGE_ANY = same(200, anonymous=303)
READER_PAGE = same(200, counsellor=403, service=403, anonymous=303)
#: The directory of a location: its supervisors and admins (another location's supervisor: 403 / page 404).
DIRECTORY_WRITE = same(403, supervisor=(200, 403), admin=200, anonymous=401)
DIRECTORY_PAGE = same(403, supervisor=(303, 404), admin=303, anonymous=303)

#: "METHOD path" → role → (own location, other location)
EXPECTED: dict[str, dict[str, tuple[int, int]]] = {
    # public
    "GET /health": PUBLIC,
    "POST /api/v1/auth/login": PUBLIC,
    # API docs: development/test only; production closes them (test_docs_closed_in_production)
    "GET /openapi.json": PUBLIC,
    "GET /docs": PUBLIC,
    "GET /docs/oauth2-redirect": PUBLIC,
    "GET /redoc": PUBLIC,
    "MOUNT /static": PUBLIC,
    "MOUNT /static/vendor/mermaid": PUBLIC,
    "MOUNT /static/vendor/chartjs": PUBLIC,
    "MOUNT /static/vendor/socket.io": PUBLIC,
    # web chat: a short-lived socket token for staff, and the chat page
    "POST /api/v1/auth/chat-token": STAFF_READ,
    # ends the token's login; the matrix's tokens are minted by hand and have none (409);
    # with a login's token it is 204 (tests/security/test_revocable_sessions.py)
    "POST /api/v1/auth/logout": same(409, service=403, anonymous=401),
    "GET /chat": READER_PAGE | {"counsellor": (200, 200)},
    # incidents
    "POST /api/v1/incidents": SERVICE_WRITE,
    "GET /api/v1/incidents": STAFF_READ,
    "GET /api/v1/incidents/{incident_id}": DETAIL,
    "GET /api/v1/incidents/{incident_id}/review-events": DETAIL,
    "POST /api/v1/incidents/{incident_id}/review-events": same(
        403, counsellor=(403, 404), contact_person=(403, 404), supervisor=(201, 404), anonymous=401
    ),
    "GET /api/v1/me/corrections": STAFF_READ,
    # the decision record (like the incident) and the IBIS export (not for counsellors), issue 15 part 6
    "GET /api/v1/incidents/{incident_id}/record.pdf": DETAIL,
    "GET /api/v1/incidents/{incident_id}/ibis.csv": DETAIL | {"counsellor": (403, 403)},
    "GET /api/v1/incidents/{incident_id}/ibis.json": DETAIL | {"counsellor": (403, 403)},
    "GET /api/v1/ibis/incidents.csv": same(200, counsellor=403, service=403, anonymous=401),
    "GET /api/v1/ibis/incidents.json": same(200, counsellor=403, service=403, anonymous=401),
    # handover (issue 15 part 6): read like the incident; a supervisor of its current location or an admin
    "GET /api/v1/incidents/{incident_id}/handovers": DETAIL,
    "POST /api/v1/incidents/{incident_id}/handovers": same(
        403, counsellor=(403, 404), contact_person=(403, 404), supervisor=(201, 404), admin=201, anonymous=401
    ),
    # follow-ups (issue 15): read like incidents; confirmed by counsellor, contact person and
    # supervisor in scope, and by the service role for the counsellor who recorded the incident
    "GET /api/v1/follow-ups": STAFF_READ,
    "GET /api/v1/follow-ups/{follow_up_id}": DETAIL,
    "POST /api/v1/follow-ups/{follow_up_id}/events": same(
        201, counsellor=(201, 404), contact_person=(201, 404), supervisor=(201, 404), admin=403, anonymous=401
    ),
    # the chat (issue 15): the due follow-ups of the counsellor it talks to, and where Teams reaches it
    "GET /api/v1/chat/follow-ups": same(403, service=200, anonymous=401),
    "PUT /api/v1/teams/conversations": same(403, service=204, anonymous=401),
    # sessions
    "POST /api/v1/sessions/events": SERVICE_WRITE,
    # several events in one transaction: 200 with {"events", "created"}
    "POST /api/v1/sessions/events/batch": same(403, service=200, anonymous=401),
    "GET /api/v1/sessions": STAFF_READ,
    "GET /api/v1/sessions.csv": STAFF_READ,
    "GET /api/v1/sessions/{session_id}": DETAIL,
    # indicators, reference data
    "GET /api/v1/indicators": same(200, counsellor=403, service=403, anonymous=401),
    "GET /api/v1/indicators/follow-ups": same(200, counsellor=403, service=403, anonymous=401),
    "GET /api/v1/locations": ANY_TOKEN,
    "GET /api/v1/locations/{code}/key-positions": ANY_TOKEN,
    "GET /api/v1/protocols": ANY_TOKEN,
    "GET /api/v1/protocols/{protocol_id}": ANY_TOKEN,
    # audit log
    "GET /api/v1/audit": same(403, admin=200, anonymous=401),
    # pages
    "GET /": same(303),
    "GET /login": same(303, anonymous=200),
    "POST /login": same(303),
    "POST /logout": same(303),
    "GET /protocollen": PAGE_ANY,
    "GET /protocollen/{protocol_id}": PAGE_ANY,
    "GET /dashboard": READER_PAGE,
    "GET /sessies": READER_PAGE,
    "GET /sessies/{session_id}": same(
        200, counsellor=403, contact_person=(200, 404), supervisor=(200, 404), service=403, anonymous=303
    ),
    "POST /sessies/{session_id}/beoordeling": same(
        403, contact_person=(403, 404), supervisor=(303, 404), anonymous=303
    ),
    # key-position directory (issue 17): admins everywhere, supervisors on their own locations
    "POST /api/v1/locations": same(403, admin=201, anonymous=401),
    "PATCH /api/v1/locations/{code}": DIRECTORY_WRITE,
    "GET /api/v1/locations/{code}/assignments": DIRECTORY_WRITE,
    "GET /api/v1/locations/{code}/gaps": DIRECTORY_WRITE,
    "POST /api/v1/locations/{code}/assignments": DIRECTORY_WRITE | {"admin": (201, 201), "supervisor": (201, 403)},
    "PATCH /api/v1/locations/{code}/assignments/{assignment_id}": DIRECTORY_WRITE,
    "POST /api/v1/locations/{code}/assignments/{assignment_id}/end": DIRECTORY_WRITE,
    "GET /sleutelposities": same(403, supervisor=200, admin=200, anonymous=303),
    "GET /sleutelposities/{code}": DIRECTORY_PAGE | {"supervisor": (200, 404), "admin": (200, 200)},
    "POST /sleutelposities/{code}/toewijzingen": DIRECTORY_PAGE,
    "POST /sleutelposities/{code}/toewijzingen/{assignment_id}": DIRECTORY_PAGE,
    "POST /sleutelposities/{code}/toewijzingen/{assignment_id}/beeindigen": DIRECTORY_PAGE,
    "POST /sleutelposities/{code}/locatie": DIRECTORY_PAGE,
    "POST /locaties": same(403, admin=303, anonymous=303),
    # user accounts: admins only
    "GET /api/v1/users": same(403, admin=200, anonymous=401),
    "POST /api/v1/users": same(403, admin=201, anonymous=401),
    "PATCH /api/v1/users/{user_id}": same(403, admin=200, anonymous=401),
    "POST /api/v1/users/{user_id}/deactivate": same(403, admin=200, anonymous=401),
    "GET /gebruikers": same(403, admin=200, anonymous=303),
    "POST /gebruikers": same(403, admin=303, anonymous=303),
    "POST /gebruikers/{user_id}": same(403, admin=303, anonymous=303),
    "POST /gebruikers/{user_id}/deactiveren": same(403, admin=303, anonymous=303),
    "GET /correcties": same(403, counsellor=200, anonymous=303),
    "POST /correcties/{incident_id}": same(403, counsellor=(303, 404), anonymous=303),
    "GET /acties": same(200, admin=403, service=403, anonymous=303),
    # the incident's file page and its handover form (issue 15 part 6)
    "GET /incidenten/{incident_id}/dossier": same(
        200, counsellor=(200, 404), contact_person=(200, 404), supervisor=(200, 404), service=403, anonymous=303
    ),
    "POST /incidenten/{incident_id}/overdracht": same(
        403, counsellor=(403, 404), contact_person=(403, 404), supervisor=(303, 404), admin=303, anonymous=303
    ),
    "POST /acties/{follow_up_id}": same(
        403, counsellor=(303, 404), contact_person=(303, 404), supervisor=(303, 404), anonymous=303
    ),
}

#: What anonymous may reach (2xx): everything else must be 401 or a redirect to /login.
PUBLIC_PATHS = {
    "GET /health", "POST /api/v1/auth/login", "GET /login", "GET /openapi.json", "GET /docs",
    "GET /docs/oauth2-redirect", "GET /redoc", "MOUNT /static", "MOUNT /static/vendor/mermaid",
    "MOUNT /static/vendor/chartjs", "MOUNT /static/vendor/socket.io",
}  # fmt: skip


def app_routes(app: FastAPI) -> set[str]:
    """ "METHOD path" for every route of the app (HEAD folded into GET), "MOUNT path" for mounts."""
    found: set[str] = set()

    def add(methods: set[str] | None, path: str) -> None:
        for method in (methods or {"GET"}) - {"HEAD"}:
            found.add(f"{method} {path}")

    for route in app.routes:
        if isinstance(route, Mount):
            found.add(f"MOUNT {route.path}")
        elif hasattr(route, "effective_route_contexts"):  # FastAPI's included routers
            for context in route.effective_route_contexts():
                add(set(context.methods or ()), context.path)
        elif hasattr(route, "path"):
            add(set(getattr(route, "methods", None) or ()), route.path)
        else:  # pragma: no cover - a route kind this test does not know yet
            found.add(f"UNKNOWN {route!r}")
    return found


def test_every_route_has_a_row(app: FastAPI) -> None:
    routes = app_routes(app)
    missing = routes - set(EXPECTED)
    assert not missing, f"routes without a row in the authorisation matrix: {sorted(missing)}"
    stale = set(EXPECTED) - routes
    assert not stale, f"rows for routes that no longer exist: {sorted(stale)}"
    assert all(set(row) == set(ROLES) for row in EXPECTED.values())


def test_anonymous_reaches_only_public_paths() -> None:
    for key, row in EXPECTED.items():
        own, other = row["anonymous"]
        if key in PUBLIC_PATHS:
            continue
        assert own in (401, 303) and other in (401, 303), f"{key} answers {own}/{other} without a token"


Records = ScopingRecords



@dataclass
class Call:
    method: str
    url: str
    json: Any = None
    form: dict[str, str] | None = None


def _incident_body(loc: str) -> dict[str, Any]:
    return {
        "idempotency_key": f"authz-{loc}", "conversation_id": f"authz-{loc}", "location": loc,
        "protocol": "eergerelateerd_geweld", "protocol_version": "1.0.0", "acute": False,
        "referrals": ["veilig_thuis"], "steps": [], "outcome": "x",
    }  # fmt: skip


def _event_body(loc: str) -> dict[str, Any]:
    return {
        "idempotency_key": f"authz-event-{loc}", "conversation_id": f"authz-{loc}", "location": loc,
        "protocol": "eergerelateerd_geweld", "protocol_version": "1.0.0", "event": {"type": "started"},
    }  # fmt: skip


def _assignment_body() -> dict[str, Any]:
    # A deputy far in the future: overlaps nobody, so only the role and location decide.
    return {"position": "lhbti_contactpersoon", "kind": "vervanger", "name": "Matrix Vervanger-Demo",
            "email": "vervanger@example.org", "valid_from": "2031-01-06", "valid_until": "2031-01-10"}


def _user_body(loc: str) -> dict[str, Any]:
    return {"username": f"matrix.nieuw.{loc.lower()}", "password": "matrix-wachtwoord", "role": "counsellor",
            "locations": [loc]}


CALLS: dict[str, Callable[[Records, str], Call]] = {
    "GET /health": lambda r, loc: Call("GET", "/health"),
    "POST /api/v1/auth/login": lambda r, loc: Call("POST", "/api/v1/auth/login", json=DEMO_LOGIN),
    "GET /openapi.json": lambda r, loc: Call("GET", "/openapi.json"),
    "GET /docs": lambda r, loc: Call("GET", "/docs"),
    "GET /docs/oauth2-redirect": lambda r, loc: Call("GET", "/docs/oauth2-redirect"),
    "GET /redoc": lambda r, loc: Call("GET", "/redoc"),
    "MOUNT /static": lambda r, loc: Call("GET", "/static/favicon.svg"),
    # Mounted with check_dir=False: 404 before `npm ci`; the path is what matters here.
    "MOUNT /static/vendor/mermaid": lambda r, loc: Call("GET", "/static/vendor/mermaid/mermaid.min.js"),
    "MOUNT /static/vendor/chartjs": lambda r, loc: Call("GET", "/static/vendor/chartjs/chart.umd.js"),
    "MOUNT /static/vendor/socket.io": lambda r, loc: Call("GET", "/static/vendor/socket.io/socket.io.min.js"),
    "POST /api/v1/auth/chat-token": lambda r, loc: Call("POST", "/api/v1/auth/chat-token"),
    "POST /api/v1/auth/logout": lambda r, loc: Call("POST", "/api/v1/auth/logout"),
    "GET /chat": lambda r, loc: Call("GET", "/chat"),
    "POST /api/v1/incidents": lambda r, loc: Call("POST", "/api/v1/incidents", json=_incident_body(loc)),
    "GET /api/v1/incidents": lambda r, loc: Call("GET", f"/api/v1/incidents?location={loc}"),
    "GET /api/v1/incidents/{incident_id}": lambda r, loc: Call("GET", f"/api/v1/incidents/{r.incident}"),
    "GET /api/v1/incidents/{incident_id}/review-events": lambda r, loc: Call(
        "GET", f"/api/v1/incidents/{r.incident}/review-events"
    ),
    "POST /api/v1/incidents/{incident_id}/review-events": lambda r, loc: Call(
        "POST", f"/api/v1/incidents/{r.incident}/review-events", json={"status": "in_behandeling"}
    ),
    "GET /api/v1/me/corrections": lambda r, loc: Call("GET", "/api/v1/me/corrections"),
    "GET /api/v1/incidents/{incident_id}/record.pdf": lambda r, loc: Call(
        "GET", f"/api/v1/incidents/{r.incident}/record.pdf"
    ),
    "GET /api/v1/incidents/{incident_id}/ibis.csv": lambda r, loc: Call(
        "GET", f"/api/v1/incidents/{r.incident}/ibis.csv"
    ),
    "GET /api/v1/incidents/{incident_id}/ibis.json": lambda r, loc: Call(
        "GET", f"/api/v1/incidents/{r.incident}/ibis.json"
    ),
    "GET /api/v1/ibis/incidents.csv": lambda r, loc: Call("GET", f"/api/v1/ibis/incidents.csv?location={loc}"),
    "GET /api/v1/ibis/incidents.json": lambda r, loc: Call("GET", f"/api/v1/ibis/incidents.json?location={loc}"),
    "GET /api/v1/incidents/{incident_id}/handovers": lambda r, loc: Call(
        "GET", f"/api/v1/incidents/{r.incident}/handovers"
    ),
    "POST /api/v1/incidents/{incident_id}/handovers": lambda r, loc: Call(
        "POST", f"/api/v1/incidents/{r.incident}/handovers", json={"to_location": "ZWOLLE", "reason": "verhuisd"}
    ),
    "POST /api/v1/sessions/events": lambda r, loc: Call("POST", "/api/v1/sessions/events", json=_event_body(loc)),
    "POST /api/v1/sessions/events/batch": lambda r, loc: Call(
        "POST", "/api/v1/sessions/events/batch", json={"events": [_event_body(loc)]}
    ),
    "GET /api/v1/follow-ups": lambda r, loc: Call("GET", f"/api/v1/follow-ups?location={loc}"),
    "GET /api/v1/follow-ups/{follow_up_id}": lambda r, loc: Call("GET", f"/api/v1/follow-ups/{r.follow_up}"),
    "POST /api/v1/follow-ups/{follow_up_id}/events": lambda r, loc: Call(
        "POST", f"/api/v1/follow-ups/{r.follow_up}/events", json={"status": "gedaan", "staff_id": STAFF[loc]}
    ),
    "GET /api/v1/chat/follow-ups": lambda r, loc: Call("GET", f"/api/v1/chat/follow-ups?staff_id={STAFF[loc]}"),
    "PUT /api/v1/teams/conversations": lambda r, loc: Call("PUT", "/api/v1/teams/conversations", json={
        "staff_id": STAFF[loc], "tenant_id": "matrix-tenant", "service_url": "https://smba.trafficmanager.net/emea/",
        "conversation_id": f"a:matrix-{loc}", "bot_id": "28:matrix-bot", "user_id": f"29:matrix-{loc}"}),
    "GET /api/v1/sessions": lambda r, loc: Call("GET", f"/api/v1/sessions?location={loc}"),
    "GET /api/v1/sessions.csv": lambda r, loc: Call("GET", f"/api/v1/sessions.csv?location={loc}"),
    "GET /api/v1/sessions/{session_id}": lambda r, loc: Call("GET", f"/api/v1/sessions/{r.session}"),
    "GET /api/v1/indicators": lambda r, loc: Call("GET", f"/api/v1/indicators?location={loc}"),
    "GET /api/v1/indicators/follow-ups": lambda r, loc: Call("GET", f"/api/v1/indicators/follow-ups?location={loc}"),
    "GET /api/v1/locations": lambda r, loc: Call("GET", "/api/v1/locations"),
    "GET /api/v1/locations/{code}/key-positions": lambda r, loc: Call("GET", f"/api/v1/locations/{loc}/key-positions"),
    "GET /api/v1/protocols": lambda r, loc: Call("GET", "/api/v1/protocols"),
    "GET /api/v1/protocols/{protocol_id}": lambda r, loc: Call("GET", "/api/v1/protocols/eergerelateerd_geweld"),
    "GET /api/v1/audit": lambda r, loc: Call("GET", "/api/v1/audit"),
    "GET /": lambda r, loc: Call("GET", "/"),
    "GET /login": lambda r, loc: Call("GET", "/login"),
    "POST /login": lambda r, loc: Call("POST", "/login", form=dict(DEMO_LOGIN)),
    "POST /logout": lambda r, loc: Call("POST", "/logout", form={}),
    "GET /protocollen": lambda r, loc: Call("GET", "/protocollen"),
    "GET /protocollen/{protocol_id}": lambda r, loc: Call("GET", "/protocollen/eergerelateerd_geweld"),
    "GET /dashboard": lambda r, loc: Call("GET", "/dashboard"),
    "GET /sessies": lambda r, loc: Call("GET", f"/sessies?locatie={loc}"),
    "GET /sessies/{session_id}": lambda r, loc: Call("GET", f"/sessies/{r.session}"),
    "POST /sessies/{session_id}/beoordeling": lambda r, loc: Call(
        "POST",
        f"/sessies/{r.session}/beoordeling",
        form={"incident_id": r.incident, "status": "in_behandeling"},
    ),
    "POST /api/v1/locations": lambda r, loc: Call(
        "POST", "/api/v1/locations", json={"code": f"NIEUW_{loc}", "name": f"Nieuw {loc}", "aliases": []}
    ),
    "PATCH /api/v1/locations/{code}": lambda r, loc: Call(
        "PATCH", f"/api/v1/locations/{loc}", json={"aliases": [f"azc {loc.lower()} matrix"]}
    ),
    "GET /api/v1/locations/{code}/assignments": lambda r, loc: Call("GET", f"/api/v1/locations/{loc}/assignments"),
    "GET /api/v1/locations/{code}/gaps": lambda r, loc: Call("GET", f"/api/v1/locations/{loc}/gaps"),
    "POST /api/v1/locations/{code}/assignments": lambda r, loc: Call(
        "POST", f"/api/v1/locations/{loc}/assignments", json=_assignment_body()
    ),
    "PATCH /api/v1/locations/{code}/assignments/{assignment_id}": lambda r, loc: Call(
        "PATCH", f"/api/v1/locations/{loc}/assignments/{r.assignment}", json={"phone": "toestel 4000"}
    ),
    "POST /api/v1/locations/{code}/assignments/{assignment_id}/end": lambda r, loc: Call(
        "POST", f"/api/v1/locations/{loc}/assignments/{r.assignment}/end", json={}
    ),
    "GET /sleutelposities": lambda r, loc: Call("GET", "/sleutelposities"),
    "GET /sleutelposities/{code}": lambda r, loc: Call("GET", f"/sleutelposities/{loc}"),
    "POST /sleutelposities/{code}/toewijzingen": lambda r, loc: Call(
        "POST", f"/sleutelposities/{loc}/toewijzingen", form=_assignment_body()
    ),
    "POST /sleutelposities/{code}/toewijzingen/{assignment_id}": lambda r, loc: Call(
        "POST", f"/sleutelposities/{loc}/toewijzingen/{r.assignment}", form={"phone": "toestel 4000"}
    ),
    "POST /sleutelposities/{code}/toewijzingen/{assignment_id}/beeindigen": lambda r, loc: Call(
        "POST", f"/sleutelposities/{loc}/toewijzingen/{r.assignment}/beeindigen", form={}
    ),
    "POST /sleutelposities/{code}/locatie": lambda r, loc: Call(
        "POST", f"/sleutelposities/{loc}/locatie", form={"name": f"Locatie {loc}"}
    ),
    "POST /locaties": lambda r, loc: Call("POST", "/locaties", form={"code": f"NIEUW_{loc}", "name": f"Nieuw {loc}"}),
    "GET /api/v1/users": lambda r, loc: Call("GET", "/api/v1/users"),
    "POST /api/v1/users": lambda r, loc: Call("POST", "/api/v1/users", json=_user_body(loc)),
    "PATCH /api/v1/users/{user_id}": lambda r, loc: Call(
        "PATCH", f"/api/v1/users/{r.account}", json={"role": "contact_person"}
    ),
    "POST /api/v1/users/{user_id}/deactivate": lambda r, loc: Call("POST", f"/api/v1/users/{r.account}/deactivate"),
    "GET /gebruikers": lambda r, loc: Call("GET", "/gebruikers"),
    "POST /gebruikers": lambda r, loc: Call("POST", "/gebruikers", form=_user_body(loc)),
    "POST /gebruikers/{user_id}": lambda r, loc: Call(
        "POST", f"/gebruikers/{r.account}", form={"role": "contact_person", "locations": loc}
    ),
    "POST /gebruikers/{user_id}/deactiveren": lambda r, loc: Call(
        "POST", f"/gebruikers/{r.account}/deactiveren", form={}
    ),
    "GET /correcties": lambda r, loc: Call("GET", "/correcties"),
    "GET /acties": lambda r, loc: Call("GET", "/acties"),
    "GET /incidenten/{incident_id}/dossier": lambda r, loc: Call("GET", f"/incidenten/{r.incident}/dossier"),
    "POST /incidenten/{incident_id}/overdracht": lambda r, loc: Call(
        "POST", f"/incidenten/{r.incident}/overdracht", form={"to_location": "ZWOLLE", "reason": "verhuisd"}
    ),
    "POST /acties/{follow_up_id}": lambda r, loc: Call("POST", f"/acties/{r.follow_up}", form={"status": "gedaan"}),
    "POST /correcties/{incident_id}": lambda r, loc: Call(
        "POST", f"/correcties/{r.correction}", form={"note": "aangevuld"}
    ),
}


CASES = [(key, role, which) for key in EXPECTED for role in ROLES for which in ("own", "other")]


def test_every_row_has_a_call() -> None:
    assert set(CALLS) == set(EXPECTED)


#: One database for this matrix: PostgreSQL, production's. Who may call a route is
#: decided by api/access.py and the routers, the same on both databases; which rows
#: each role and location gets, on SQLite and PostgreSQL, is
#: tests/api/test_scoping_matrix.py, and every route runs on SQLite in tests/api and
#: tests/web. On both it was ~900 more tests in `make test` (issue 16: suite time).
ON_POSTGRESQL = pytest.mark.parametrize(
    "engine", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


@ON_POSTGRESQL
@pytest.mark.parametrize(("key", "role", "which"), CASES, ids=[f"{k}|{r}|{w}" for k, r, w in CASES])
async def test_authorisation(app: FastAPI, matrix_records: dict[str, Records], key: str, role: str, which: str) -> None:
    records = matrix_records
    location = OWN if which == "own" else OTHER
    call = CALLS[key](records[location], location)
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    token = None
    if role != "anonymous":
        sub = STAFF[OWN] if role == "counsellor" else f"matrix-{role}"
        token = create_token(get_settings(), sub=sub, role=role, locations=[OWN])
    is_page = call.form is not None or not (call.url.startswith("/api/") or key.startswith("GET /openapi"))
    if token is not None:
        if is_page:
            cookies["coa_session"] = token
        else:
            headers["Authorization"] = f"Bearer {token}"
    if call.form is not None:
        cookies["coa_csrf"] = CSRF
        call.form["csrf_token"] = CSRF
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", cookies=cookies) as http:
        response = await http.request(call.method, call.url, headers=headers, json=call.json, data=call.form)
    observed = response.status_code
    if key.startswith("MOUNT /static/vendor") and observed == 404:
        observed = 200  # npm libraries not installed on this machine: still no token needed
    expected = EXPECTED[key][role][0 if which == "own" else 1]
    assert observed == expected, f"{key} as {role} on {which} location: {observed}, expected {expected}"
    if role == "anonymous" and observed == 303 and key not in ("POST /login", "POST /logout"):
        assert response.headers["location"].startswith("/login"), response.headers["location"]

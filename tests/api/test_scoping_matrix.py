"""Scope by role and location, for every endpoint of the API (issue 5, part 6).

One table: endpoint × role → (outcome on the user's own location, outcome on the
other location). The user belongs to TERAPEL (a counsellor is also the author,
by pseudonymous staff id, of the TERAPEL records); the other location is BUDEL.

Outcomes: ``sees``/``hidden`` (the record is/is not in the answer), ``403``,
``404`` (not in scope: existence is not confirmed), ``201`` (written).
Locations and key positions are reference data that every role (the service role
included) reads: no case data, so not location-scoped. Keeping them (the directory)
is for admins and the location's supervisors; user accounts for admins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import httpx
import pytest

from .conftest import MATRIX_STAFF, TokenFactory
from .factories import ScopingRecords

ROLES = ("counsellor", "contact_person", "supervisor", "admin", "service")
OWN, OTHER = "TERAPEL", "BUDEL"
STAFF = MATRIX_STAFF  # each location's records are by this staff id (tests/api/conftest.py)

READ = {
    "counsellor": ("sees", "hidden"),
    "contact_person": ("sees", "hidden"),
    "supervisor": ("sees", "hidden"),
    "admin": ("sees", "sees"),
    "service": ("403", "403"),
}
DETAIL = {role: tuple({"sees": "200", "hidden": "404"}.get(o, o) for o in pair) for role, pair in READ.items()}
EVERYONE = {role: ("sees", "sees") for role in ROLES}
SERVICE_WRITES = {role: ("403", "403") for role in ROLES} | {"service": ("201", "201")}
DIRECTORY = {role: ("403", "403") for role in ROLES}
ADMIN_ONLY = {role: ("403", "403") for role in ROLES}
IBIS_ONE = {**DETAIL, "counsellor": ("403", "403")}
IBIS_PERIOD = {**READ, "counsellor": ("403", "403")}

EXPECTED: dict[str, dict[str, tuple[str, ...]]] = {
    "GET /incidents": READ,
    "GET /incidents/{id}": DETAIL,
    "GET /incidents/{id}/review-events": DETAIL,
    "POST /incidents/{id}/review-events in_behandeling": {
        "counsellor": ("403", "404"),
        "contact_person": ("403", "404"),
        "supervisor": ("201", "404"),
        "admin": ("403", "403"),
        "service": ("403", "403"),
    },
    "POST /incidents/{id}/review-events gecorrigeerd": {
        "counsellor": ("201", "404"),
        "contact_person": ("403", "404"),
        "supervisor": ("403", "404"),
        "admin": ("403", "403"),
        "service": ("403", "403"),
    },
    "GET /follow-ups": READ,
    "GET /follow-ups/{id}": DETAIL,
    # Confirming: who reads it by role counsellor/contact person/supervisor; admins read only;
    # the service role records a counsellor's chat answer for that counsellor's own incident.
    "POST /follow-ups/{id}/events": {
        "counsellor": ("201", "404"),
        "contact_person": ("201", "404"),
        "supervisor": ("201", "404"),
        "admin": ("403", "403"),
        "service": ("201", "201"),
    },
    # The chat (issue 15): the service credential reads a counsellor's due follow-ups by the
    # verified staff id (not by location) and stores where Teams reaches it.
    "GET /chat/follow-ups": {role: ("403", "403") for role in ROLES} | {"service": ("sees", "sees")},
    "PUT /teams/conversations": {role: ("403", "403") for role in ROLES} | {"service": ("204", "204")},
    # Handover (issue 15 part 6): read like the incident; handed over by a supervisor of the
    # location where the incident is now, or an admin.
    "GET /incidents/{id}/handovers": DETAIL,
    "POST /incidents/{id}/handovers": {
        "counsellor": ("403", "404"),
        "contact_person": ("403", "404"),
        "supervisor": ("201", "404"),
        "admin": ("201", "201"),
        "service": ("403", "403"),
    },
    # The decision record and the IBIS export (issue 15 part 6): the record like the incident;
    # the export for contact persons and supervisors (their locations) and admins, not counsellors.
    "GET /incidents/{id}/record.pdf": DETAIL,
    "GET /incidents/{id}/ibis.csv": IBIS_ONE,
    "GET /incidents/{id}/ibis.json": IBIS_ONE,
    "GET /ibis/incidents.csv": IBIS_PERIOD,
    "GET /ibis/incidents.json": IBIS_PERIOD,
    "GET /me/corrections": {
        "counsellor": ("sees", "hidden"),
        "contact_person": ("hidden", "hidden"),
        "supervisor": ("hidden", "hidden"),
        "admin": ("hidden", "hidden"),
        "service": ("403", "403"),
    },
    "GET /sessions": READ,
    "GET /sessions?location=": READ,
    "GET /sessions/{id}": DETAIL,
    "GET /sessions.csv": READ,
    "GET /indicators": {**READ, "counsellor": ("403", "403")},
    "GET /indicators?location=": {**READ, "counsellor": ("403", "403")},
    "GET /indicators/follow-ups": {**READ, "counsellor": ("403", "403")},
    "GET /locations": EVERYONE,
    "GET /locations/{code}/key-positions": EVERYONE,
    # The directory (issue 17): admins on every location, supervisors on their own.
    "GET /locations/{code}/assignments": DIRECTORY | {"supervisor": ("sees", "403"), "admin": ("sees", "sees")},
    "GET /locations/{code}/gaps": DIRECTORY | {"supervisor": ("200", "403"), "admin": ("200", "200")},
    "POST /locations": ADMIN_ONLY | {"admin": ("201", "201")},
    "PATCH /locations/{code}": DIRECTORY | {"supervisor": ("200", "403"), "admin": ("200", "200")},
    "POST /locations/{code}/assignments": DIRECTORY | {"supervisor": ("201", "403"), "admin": ("201", "201")},
    "PATCH /locations/{code}/assignments/{assignment_id}": DIRECTORY
    | {"supervisor": ("200", "403"), "admin": ("200", "200")},
    "POST /locations/{code}/assignments/{assignment_id}/end": DIRECTORY
    | {"supervisor": ("200", "403"), "admin": ("200", "200")},
    # User accounts: admins only, whatever the location.
    "GET /users": ADMIN_ONLY | {"admin": ("sees", "sees")},
    "POST /users": ADMIN_ONLY | {"admin": ("201", "201")},
    "PATCH /users/{user_id}": ADMIN_ONLY | {"admin": ("200", "200")},
    "POST /users/{user_id}/deactivate": ADMIN_ONLY | {"admin": ("200", "200")},
    "POST /incidents": SERVICE_WRITES,
    "POST /sessions/events": SERVICE_WRITES,
    "POST /sessions/events/batch": {**SERVICE_WRITES, "service": ("200", "200")},
}


Records = ScopingRecords



def _visible(response: httpx.Response, needle: str) -> str:
    if response.status_code != 200:
        return str(response.status_code)
    return "sees" if needle in response.text else "hidden"


Check = Callable[[httpx.AsyncClient, dict[str, str], Records, str], Awaitable[str]]


async def _get_incidents(c: httpx.AsyncClient, h: dict[str, str], r: Records, _loc: str) -> str:
    return _visible(await c.get("/api/v1/incidents", headers=h), r.incident)


async def _get_incident(c: httpx.AsyncClient, h: dict[str, str], r: Records, _loc: str) -> str:
    return str((await c.get(f"/api/v1/incidents/{r.incident}", headers=h)).status_code)


async def _get_history(c: httpx.AsyncClient, h: dict[str, str], r: Records, _loc: str) -> str:
    return str((await c.get(f"/api/v1/incidents/{r.incident}/review-events", headers=h)).status_code)


async def _take_up(c: httpx.AsyncClient, h: dict[str, str], r: Records, _loc: str) -> str:
    url = f"/api/v1/incidents/{r.incident}/review-events"
    return str((await c.post(url, json={"status": "in_behandeling"}, headers=h)).status_code)


async def _corrected(c: httpx.AsyncClient, h: dict[str, str], r: Records, _loc: str) -> str:
    url = f"/api/v1/incidents/{r.correction}/review-events"
    return str((await c.post(url, json={"status": "gecorrigeerd", "note": "aangevuld"}, headers=h)).status_code)


async def _follow_ups(c: httpx.AsyncClient, h: dict[str, str], r: Records, _loc: str) -> str:
    return _visible(await c.get("/api/v1/follow-ups", headers=h), r.follow_up)


async def _follow_up(c: httpx.AsyncClient, h: dict[str, str], r: Records, _loc: str) -> str:
    return str((await c.get(f"/api/v1/follow-ups/{r.follow_up}", headers=h)).status_code)


async def _confirm(c: httpx.AsyncClient, h: dict[str, str], r: Records, loc: str) -> str:
    # staff_id counts for the service role only: the counsellor who recorded the incident.
    body = {"status": "gedaan", "staff_id": STAFF[loc]}
    return str((await c.post(f"/api/v1/follow-ups/{r.follow_up}/events", json=body, headers=h)).status_code)


async def _chat_follow_ups(c: httpx.AsyncClient, h: dict[str, str], r: Records, loc: str) -> str:
    response = await c.get("/api/v1/chat/follow-ups", params={"staff_id": STAFF[loc]}, headers=h)
    return _visible(response, r.follow_up)


async def _teams_reference(c: httpx.AsyncClient, h: dict[str, str], _r: Records, loc: str) -> str:
    body = {"staff_id": STAFF[loc], "tenant_id": "matrix-tenant", "service_url": "https://smba.trafficmanager.net/emea/",
            "conversation_id": f"a:matrix-{loc}", "bot_id": "28:matrix-bot", "user_id": f"29:matrix-{loc}"}
    return str((await c.put("/api/v1/teams/conversations", json=body, headers=h)).status_code)


async def _handovers(c: httpx.AsyncClient, h: dict[str, str], r: Records, _loc: str) -> str:
    return str((await c.get(f"/api/v1/incidents/{r.incident}/handovers", headers=h)).status_code)


async def _hand_over(c: httpx.AsyncClient, h: dict[str, str], r: Records, _loc: str) -> str:
    body = {"to_location": "ZWOLLE", "reason": "bewoner verhuisd"}
    return str((await c.post(f"/api/v1/incidents/{r.incident}/handovers", json=body, headers=h)).status_code)


async def _record_pdf(c: httpx.AsyncClient, h: dict[str, str], r: Records, _loc: str) -> str:
    return str((await c.get(f"/api/v1/incidents/{r.incident}/record.pdf", headers=h)).status_code)


async def _ibis_one(c: httpx.AsyncClient, h: dict[str, str], r: Records, _loc: str, suffix: str) -> str:
    return str((await c.get(f"/api/v1/incidents/{r.incident}/ibis.{suffix}", headers=h)).status_code)


async def _ibis_period(c: httpx.AsyncClient, h: dict[str, str], _r: Records, loc: str, suffix: str) -> str:
    # The export carries no ids: a location's rows are recognised by their location column.
    needle = f",{loc}," if suffix == "csv" else f'"locatie":"{loc}"'
    return _visible(await c.get(f"/api/v1/ibis/incidents.{suffix}", headers=h), needle)


async def _my_corrections(c: httpx.AsyncClient, h: dict[str, str], r: Records, _loc: str) -> str:
    return _visible(await c.get("/api/v1/me/corrections", headers=h), r.correction)


async def _sessions(c: httpx.AsyncClient, h: dict[str, str], r: Records, _loc: str) -> str:
    return _visible(await c.get("/api/v1/sessions", headers=h), r.session)


async def _sessions_at(c: httpx.AsyncClient, h: dict[str, str], r: Records, loc: str) -> str:
    return _visible(await c.get("/api/v1/sessions", params={"location": loc}, headers=h), r.session)


async def _session(c: httpx.AsyncClient, h: dict[str, str], r: Records, _loc: str) -> str:
    return str((await c.get(f"/api/v1/sessions/{r.session}", headers=h)).status_code)


async def _csv(c: httpx.AsyncClient, h: dict[str, str], r: Records, _loc: str) -> str:
    return _visible(await c.get("/api/v1/sessions.csv", headers=h), r.session)


async def _indicators(c: httpx.AsyncClient, h: dict[str, str], _r: Records, loc: str) -> str:
    return _visible(await c.get("/api/v1/indicators", headers=h), f'"location":"{loc}"')


async def _indicators_at(c: httpx.AsyncClient, h: dict[str, str], _r: Records, loc: str) -> str:
    response = await c.get("/api/v1/indicators", params={"location": loc}, headers=h)
    return _visible(response, f'"location":"{loc}"')


async def _follow_up_figures(c: httpx.AsyncClient, h: dict[str, str], _r: Records, loc: str) -> str:
    return _visible(await c.get("/api/v1/indicators/follow-ups", headers=h), f'"location":"{loc}"')


async def _locations(c: httpx.AsyncClient, h: dict[str, str], _r: Records, loc: str) -> str:
    return _visible(await c.get("/api/v1/locations", headers=h), f'"code":"{loc}"')


async def _key_positions(c: httpx.AsyncClient, h: dict[str, str], _r: Records, loc: str) -> str:
    return _visible(await c.get(f"/api/v1/locations/{loc}/key-positions", headers=h), "contactpersoon_veiligheid")


async def _post_incident(c: httpx.AsyncClient, h: dict[str, str], _r: Records, loc: str) -> str:
    payload: dict[str, Any] = {
        "idempotency_key": f"matrix-{loc}", "conversation_id": f"matrix-{loc}", "location": loc,
        "protocol": "eergerelateerd_geweld", "protocol_version": "1.0.0", "acute": False,
        "referrals": ["veilig_thuis"], "steps": [], "outcome": "x",
    }  # fmt: skip
    return str((await c.post("/api/v1/incidents", json=payload, headers=h)).status_code)


async def _post_event(c: httpx.AsyncClient, h: dict[str, str], _r: Records, loc: str) -> str:
    payload = {
        "idempotency_key": f"matrix-event-{loc}", "conversation_id": f"matrix-{loc}", "location": loc,
        "protocol": "eergerelateerd_geweld", "protocol_version": "1.0.0", "event": {"type": "started"},
    }  # fmt: skip
    return str((await c.post("/api/v1/sessions/events", json=payload, headers=h)).status_code)


async def _post_events(c: httpx.AsyncClient, h: dict[str, str], _r: Records, loc: str) -> str:
    payload = {
        "idempotency_key": f"matrix-batch-{loc}", "conversation_id": f"matrix-batch-{loc}", "location": loc,
        "protocol": "eergerelateerd_geweld", "protocol_version": "1.0.0", "event": {"type": "started"},
    }  # fmt: skip
    return str((await c.post("/api/v1/sessions/events/batch", json={"events": [payload]}, headers=h)).status_code)


async def _assignments(c: httpx.AsyncClient, h: dict[str, str], r: Records, loc: str) -> str:
    return _visible(await c.get(f"/api/v1/locations/{loc}/assignments", headers=h), r.assignment)


async def _gaps(c: httpx.AsyncClient, h: dict[str, str], _r: Records, loc: str) -> str:
    return str((await c.get(f"/api/v1/locations/{loc}/gaps", headers=h)).status_code)


async def _new_location(c: httpx.AsyncClient, h: dict[str, str], _r: Records, loc: str) -> str:
    body = {"code": f"NIEUW_{loc}", "name": f"Nieuw {loc}"}
    return str((await c.post("/api/v1/locations", json=body, headers=h)).status_code)


async def _rename(c: httpx.AsyncClient, h: dict[str, str], _r: Records, loc: str) -> str:
    return str((await c.patch(f"/api/v1/locations/{loc}", json={"name": f"Locatie {loc}"}, headers=h)).status_code)


async def _assign(c: httpx.AsyncClient, h: dict[str, str], _r: Records, loc: str) -> str:
    body = {"position": "lhbti_contactpersoon", "kind": "vervanger", "name": "Scope Vervanger-Demo",
            "email": "scope@example.org", "valid_from": "2031-02-03", "valid_until": "2031-02-07"}
    return str((await c.post(f"/api/v1/locations/{loc}/assignments", json=body, headers=h)).status_code)


async def _change(c: httpx.AsyncClient, h: dict[str, str], r: Records, loc: str) -> str:
    url = f"/api/v1/locations/{loc}/assignments/{r.assignment}"
    return str((await c.patch(url, json={"phone": "toestel 4000"}, headers=h)).status_code)


async def _end(c: httpx.AsyncClient, h: dict[str, str], r: Records, loc: str) -> str:
    url = f"/api/v1/locations/{loc}/assignments/{r.assignment}/end"
    return str((await c.post(url, json={}, headers=h)).status_code)


async def _users(c: httpx.AsyncClient, h: dict[str, str], r: Records, _loc: str) -> str:
    return _visible(await c.get("/api/v1/users", headers=h), f'"id":{r.account},')


async def _new_user(c: httpx.AsyncClient, h: dict[str, str], _r: Records, loc: str) -> str:
    body = {"username": f"scope.{loc.lower()}", "password": "scope-wachtwoord", "role": "counsellor",
            "locations": [loc]}
    return str((await c.post("/api/v1/users", json=body, headers=h)).status_code)


async def _change_user(c: httpx.AsyncClient, h: dict[str, str], r: Records, _loc: str) -> str:
    return str((await c.patch(f"/api/v1/users/{r.account}", json={"role": "contact_person"}, headers=h)).status_code)


async def _deactivate(c: httpx.AsyncClient, h: dict[str, str], r: Records, _loc: str) -> str:
    return str((await c.post(f"/api/v1/users/{r.account}/deactivate", headers=h)).status_code)


CHECKS: dict[str, Check] = {
    "GET /incidents": _get_incidents,
    "GET /incidents/{id}": _get_incident,
    "GET /incidents/{id}/review-events": _get_history,
    "POST /incidents/{id}/review-events in_behandeling": _take_up,
    "POST /incidents/{id}/review-events gecorrigeerd": _corrected,
    "GET /follow-ups": _follow_ups,
    "GET /follow-ups/{id}": _follow_up,
    "POST /follow-ups/{id}/events": _confirm,
    "GET /chat/follow-ups": _chat_follow_ups,
    "PUT /teams/conversations": _teams_reference,
    "GET /incidents/{id}/handovers": _handovers,
    "POST /incidents/{id}/handovers": _hand_over,
    "GET /incidents/{id}/record.pdf": _record_pdf,
    "GET /incidents/{id}/ibis.csv": partial(_ibis_one, suffix="csv"),
    "GET /incidents/{id}/ibis.json": partial(_ibis_one, suffix="json"),
    "GET /ibis/incidents.csv": partial(_ibis_period, suffix="csv"),
    "GET /ibis/incidents.json": partial(_ibis_period, suffix="json"),
    "GET /me/corrections": _my_corrections,
    "GET /sessions": _sessions,
    "GET /sessions?location=": _sessions_at,
    "GET /sessions/{id}": _session,
    "GET /sessions.csv": _csv,
    "GET /indicators": _indicators,
    "GET /indicators?location=": _indicators_at,
    "GET /indicators/follow-ups": _follow_up_figures,
    "GET /locations": _locations,
    "GET /locations/{code}/key-positions": _key_positions,
    "GET /locations/{code}/assignments": _assignments,
    "GET /locations/{code}/gaps": _gaps,
    "POST /locations": _new_location,
    "PATCH /locations/{code}": _rename,
    "POST /locations/{code}/assignments": _assign,
    "PATCH /locations/{code}/assignments/{assignment_id}": _change,
    "POST /locations/{code}/assignments/{assignment_id}/end": _end,
    "GET /users": _users,
    "POST /users": _new_user,
    "PATCH /users/{user_id}": _change_user,
    "POST /users/{user_id}/deactivate": _deactivate,
    "POST /incidents": _post_incident,
    "POST /sessions/events": _post_event,
    "POST /sessions/events/batch": _post_events,
}

CASES = [
    (endpoint, role, which)
    for endpoint in EXPECTED
    for role in ROLES
    for which in ("own", "other")
]  # fmt: skip


def test_the_table_covers_every_check_and_every_role() -> None:
    assert set(CHECKS) == set(EXPECTED)
    assert all(set(row) == set(ROLES) for row in EXPECTED.values())


def test_every_api_route_is_in_the_table() -> None:
    from api.main import create_app
    from tests.security.test_authz_matrix import app_routes

    covered = {key.split(" ")[0] + " " + key.split(" ")[1].split("?")[0] for key in EXPECTED}
    routes = {
        f"{method} {path.removeprefix('/api/v1')}"
        for method, path in (key.split(" ", 1) for key in app_routes(create_app()))
        if path.startswith("/api/v1/") and "/auth/" not in path
    }
    assert routes, "the route inventory found no API routes"
    # Routes of other packages (protocols, audit) are covered by tests/security's matrix.
    mine = {route for route in routes if not route.split(" ")[1].startswith(("/protocols", "/audit"))}
    normalise = {"{incident_id}": "{id}", "{session_id}": "{id}", "{follow_up_id}": "{id}"}
    for old, new in normalise.items():
        mine = {route.replace(old, new) for route in mine}
    assert mine <= covered, sorted(mine - covered)


@pytest.mark.parametrize(("endpoint", "role", "which"), CASES, ids=[f"{e}|{r}|{w}" for e, r, w in CASES])
async def test_scope(
    client: httpx.AsyncClient, auth: TokenFactory, matrix_records: dict[str, Records], endpoint: str, role: str,
    which: str,
) -> None:
    records = matrix_records
    location = OWN if which == "own" else OTHER
    headers = auth(role, OWN, sub=STAFF[OWN] if role == "counsellor" else None)
    observed = await CHECKS[endpoint](client, headers, records[location], location)
    expected = EXPECTED[endpoint][role][0 if which == "own" else 1]
    assert observed == expected, f"{endpoint} as {role} on {which} location: {observed}, expected {expected}"

"""User accounts (issue 17): an admin creates, changes and deactivates local accounts;
a deactivated account's logins end at once (api/auth's revocable logins); in OIDC mode
the accounts are read-only; every change is in the audit log."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.audit.models import AuditEntry
from tests.security.test_oidc import Jwks, jwks, oidc_app  # noqa: F401  (fixtures)

from .conftest import TokenFactory

NEW = {"username": "Begeleider.Assen", "password": "een-lang-wachtwoord", "role": "counsellor",
       "locations": ["terapel"]}


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"username": username, "password": password})


async def test_create_change_and_deactivate_a_user(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    admin = auth("admin", sub="stf-admin-17")
    created = await client.post("/api/v1/users", headers=admin, json=NEW)
    assert created.status_code == 201, created.text
    account = created.json()
    assert (account["username"], account["role"], account["locations"], account["active"]) == (
        "begeleider.assen", "counsellor", ["TERAPEL"], True)
    assert "password" not in created.text and "password_hash" not in created.text

    # The new user logs in and reads.
    login = await _login(client, "begeleider.assen", NEW["password"])
    assert login.status_code == 200, login.text
    token = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert (await client.get("/api/v1/incidents", headers=token)).status_code == 200

    # A change of role ends the logins that carry the old role.
    changed = await client.patch(f"/api/v1/users/{account['id']}", headers=admin,
                                 json={"role": "supervisor", "locations": ["TERAPEL", "BUDEL"]})
    assert changed.status_code == 200 and changed.json()["role"] == "supervisor"
    assert (await client.get("/api/v1/incidents", headers=token)).status_code == 401
    login = await _login(client, "begeleider.assen", NEW["password"])
    token = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert (await client.get("/api/v1/locations/BUDEL/assignments", headers=token)).status_code == 200

    # Deactivated: the open login ends at once and a new one is refused.
    deactivated = await client.post(f"/api/v1/users/{account['id']}/deactivate", headers=admin)
    assert deactivated.status_code == 200 and deactivated.json()["active"] is False
    assert (await client.get("/api/v1/incidents", headers=token)).status_code == 401
    assert (await _login(client, "begeleider.assen", NEW["password"])).status_code == 401

    audit = seeded.scalars(select(AuditEntry).where(AuditEntry.object_type == "user")).all()
    assert [(e.action, e.object_id, e.actor) for e in audit] == [
        (action, str(account["id"]), "stf-admin-17") for action in ("create", "update", "deactivate")]


async def test_user_422s(client: httpx.AsyncClient, auth: TokenFactory, seeded: Session) -> None:
    admin = auth("admin", sub="stf-0adm")  # the seeded admin account
    taken = await client.post("/api/v1/users", headers=admin, json={**NEW, "username": "admin"})
    assert taken.status_code == 422 and "already taken" in taken.text
    unknown = await client.post("/api/v1/users", headers=admin, json={**NEW, "locations": ["NERGENS"]})
    assert unknown.status_code == 422 and "unknown location codes: NERGENS" in unknown.text
    nowhere = await client.post("/api/v1/users", headers=admin, json={**NEW, "locations": []})
    assert nowhere.status_code == 422 and "needs at least one location" in nowhere.text
    service = await client.post("/api/v1/users", headers=admin, json={**NEW, "role": "service"})
    assert service.status_code == 422
    me = next(u for u in (await client.get("/api/v1/users", headers=admin)).json() if u["username"] == "admin")
    own = await client.post(f"/api/v1/users/{me['id']}/deactivate", headers=admin)
    assert own.status_code == 422 and "your own account" in own.text


async def test_in_oidc_mode_users_are_read_only(oidc_app: FastAPI, jwks: Jwks, seeded: Session) -> None:  # noqa: F811
    token = jwks.token("key-1", roles=["COA.Admin"])
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=oidc_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/api/v1/users", headers=headers)).status_code == 200
        refused = await client.post("/api/v1/users", headers=headers, json=NEW)
        assert refused.status_code == 409 and "identity provider" in refused.json()["detail"]
        anonymous = await client.post("/api/v1/users", json=NEW)
        assert anonymous.status_code == 401

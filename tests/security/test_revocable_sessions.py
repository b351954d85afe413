"""Revocable logins (issue 14, finding 5) and the session-bound CSRF token (finding 8).

The attacks: reuse a cookie (or the token inside it) after logging out; keep
using a token after the account was deactivated; plant a CSRF cookie of one's own.
All refused against the real app on both databases.
"""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import account_cli, login_sessions
from api.auth.cookies import CSRF_COOKIE, SESSION_COOKIE
from api.auth.models import UserAccount
from api.auth.service import create_token
from api.config import Settings, get_settings
from tests.web.conftest import csrf_from, login

SUPERVISOR = ("supervisor.terapel", "supervisor-demo")


async def _page_login(client: httpx.AsyncClient) -> tuple[str, str]:
    response = await login(client, *SUPERVISOR)
    assert response.status_code == 303, response.text
    return client.cookies[SESSION_COOKIE], client.cookies[CSRF_COOKIE]


async def test_logout_ends_the_session_for_the_cookie_and_its_token(client: httpx.AsyncClient, seeded: Session) -> None:
    cookie, _csrf = await _page_login(client)
    assert (await client.get("/api/v1/sessions")).status_code == 200
    assert (await client.get("/sessies")).status_code == 200
    page = await client.get("/protocollen")
    logout = await client.post("/logout", data={"csrf_token": csrf_from(page.text)})
    assert logout.status_code == 303

    # The attacker kept a copy of the cookie: it reads nothing any more.
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, cookie)
    api = await client.get("/api/v1/sessions")
    assert api.status_code == 401 and "session ended (logout)" in api.json()["detail"]
    page = await client.get("/sessies")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    client.cookies.clear()
    bearer = await client.get("/api/v1/sessions", headers={"Authorization": f"Bearer {cookie}"})
    assert bearer.status_code == 401


async def test_api_logout_ends_the_bearer_token(client: httpx.AsyncClient, seeded: Session) -> None:
    body = (await client.post("/api/v1/auth/login", json={"username": SUPERVISOR[0], "password": SUPERVISOR[1]})).json()
    assert body["expires_in"] <= 3600  # short access lifetime
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await client.get("/api/v1/incidents", headers=headers)).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/api/v1/incidents", headers=headers)).status_code == 401
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 401
    # A second login is a new session that works.
    again = (await client.post("/api/v1/auth/login", json={"username": SUPERVISOR[0], "password": SUPERVISOR[1]}))
    fresh = {"Authorization": f"Bearer {again.json()['access_token']}"}
    assert (await client.get("/api/v1/incidents", headers=fresh)).status_code == 200


async def test_a_hand_minted_token_has_no_login_to_end(client: httpx.AsyncClient, seeded: Session) -> None:
    headers = {"Authorization": "Bearer " + create_token(get_settings(), sub="dev-supervisor", role="supervisor")}
    response = await client.post("/api/v1/auth/logout", headers=headers)
    assert response.status_code == 409 and "no login session" in response.json()["detail"]


async def test_deactivating_an_account_stops_its_tokens_at_once(client: httpx.AsyncClient, seeded: Session) -> None:
    cookie, _csrf = await _page_login(client)
    body = (await client.post("/api/v1/auth/login", json={"username": SUPERVISOR[0], "password": SUPERVISOR[1]})).json()
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    account = seeded.scalar(select(UserAccount).where(UserAccount.username == SUPERVISOR[0]))
    assert account is not None
    minted = {"Authorization": "Bearer " + create_token(get_settings(), sub=account.staff_id, role="supervisor",
                                                       locations=["TERAPEL"])}  # fmt: skip
    assert (await client.get("/api/v1/incidents", headers=minted)).status_code == 200

    # What `python -m api.auth.account_cli deactivate <username>` does.
    assert account_cli.deactivate(seeded, SUPERVISOR[0]) == (
        "deactivated supervisor.terapel; ended 2 open login(s)"  # the page login and the API login
    )
    assert account_cli.deactivate(seeded, "no.such.user") is None

    for attempt in (headers, minted):
        response = await client.get("/api/v1/incidents", headers=attempt)
        assert response.status_code == 401, response.text
    client.cookies.set(SESSION_COOKIE, cookie)
    assert (await client.get("/api/v1/sessions")).status_code == 401
    assert (await client.get("/sessies")).status_code == 303
    refused = await client.post("/api/v1/auth/login", json={"username": SUPERVISOR[0], "password": SUPERVISOR[1]})
    assert refused.status_code == 401


def _plant_csrf(client: httpx.AsyncClient, value: str) -> None:
    for cookie in list(client.cookies.jar):
        if cookie.name == CSRF_COOKIE:
            client.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
    client.cookies.set(CSRF_COOKIE, value)


async def test_the_csrf_token_is_bound_to_the_login(client: httpx.AsyncClient, seeded: Session) -> None:
    await _page_login(client)
    bound = client.cookies[CSRF_COOKIE]
    # Double submit with a value of the attacker's own (a planted cookie) is refused.
    planted = "planted-by-the-attacker-0123456789"
    _plant_csrf(client, planted)
    forged = await client.post("/api/v1/auth/chat-token", headers={"X-CSRF-Token": planted})
    assert forged.status_code == 403, forged.text
    # The page repairs the cookie to the login's token, and that one works.
    page = await client.get("/protocollen")
    assert csrf_from(page.text) == bound
    assert bound in {cookie.value for cookie in client.cookies.jar if cookie.name == CSRF_COOKIE}
    _plant_csrf(client, bound)
    assert (await client.post("/api/v1/auth/chat-token", headers={"X-CSRF-Token": bound})).status_code == 200
    # The token of another login does not pass for this one.
    other = login_sessions.csrf_for(get_settings(), "another-login")
    _plant_csrf(client, other)
    assert (await client.post("/api/v1/auth/chat-token", headers={"X-CSRF-Token": other})).status_code == 403


def test_the_access_lifetime_is_short_by_default() -> None:
    assert Settings().token_ttl_hours <= 1

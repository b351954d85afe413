"""Issue 14, findings 7 and 8 on the pages and the login: page parameters out of
bounds get an error page (never a 500 or 7 MB), API answers and pages are never
cached, and failed logins are limited per account without locking a user out.
(The API's query parameters: ``test_fuzz_schema.py``.)"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from api.auth.cookies import CSRF_COOKIE, SESSION_COOKIE
from api.auth.service import create_token
from api.config import get_settings
from api.db import get_session
from api.main import create_app
from tests.api.conftest import TokenFactory
from tests.web.conftest import csrf_from

SUPERVISOR = ("supervisor.terapel", "supervisor-demo")


def _as_supervisor(client: httpx.AsyncClient) -> None:
    token = create_token(get_settings(), sub="stf-9a4c", role="supervisor", locations=["TERAPEL"])
    client.cookies.set(SESSION_COOKIE, token)
    client.cookies.set(CSRF_COOKIE, "bounds-csrf-0123456789abcdef")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/dashboard?van=1000-01-01", "Kies een datum tussen 01-01-2000 en 31-12-2100"),
        ("/dashboard?van=2026-01-01&tot=9999-12-31", "Kies een datum tussen"),
        ("/dashboard?van=2000-01-01&tot=2100-12-31", "hoogstens 1098 dagen"),
        ("/sessies?van=1000-01-01", "Kies een datum tussen"),
        ("/sessies?pagina=4e17", "paginanummer van 1 tot en met 40000"),
        ("/sessies?pagina=400000000000000000", "paginanummer"),
        ("/sessies?pagina=9223372036854775808", "paginanummer"),
        ("/sessies?pagina=0", "paginanummer"),
    ],
)
async def test_page_parameters_out_of_bounds_get_an_error_page(
    client: httpx.AsyncClient, seeded: Session, path: str, message: str
) -> None:
    _as_supervisor(client)
    response = await client.get(path)
    assert response.status_code == 422, response.text[:300]
    assert message in response.text
    assert len(response.content) < 50_000  # an error page, not 52,000 weeks


async def test_a_period_within_bounds_still_works(client: httpx.AsyncClient, seeded: Session) -> None:
    _as_supervisor(client)
    for path in ("/dashboard?van=2024-01-01&tot=2026-12-31", "/sessies?pagina=2", "/sessies?van=2000-01-01"):
        response = await client.get(path)
        assert response.status_code == 200, path


async def test_api_json_csv_and_pages_are_not_cached(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    headers = auth("supervisor", "TERAPEL")
    for path in ("/api/v1/incidents", "/api/v1/sessions", "/api/v1/sessions.csv", "/api/v1/indicators",
                 "/api/v1/locations", "/api/v1/incidents/not-a-uuid"):  # fmt: skip
        response = await client.get(path, headers=headers)
        assert response.headers.get("cache-control") == "no-store", (path, response.status_code)
    _as_supervisor(client)
    for path in ("/sessies", "/dashboard", "/login"):
        assert (await client.get(path)).headers.get("cache-control") == "no-store", path
    static = await client.get("/static/favicon.svg")
    assert static.status_code == 200 and static.headers.get("cache-control") != "no-store"


def _app_from(db_session: Session, monkeypatch: pytest.MonkeyPatch, rate: str) -> FastAPI:
    monkeypatch.setenv("COA_LOGIN_ACCOUNT_RATE", rate)
    get_settings.cache_clear()
    app = create_app()
    app.dependency_overrides[get_session] = lambda: db_session
    get_settings.cache_clear()
    return app


def _client(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def _api_login(client: httpx.AsyncClient, password: str, username: str = SUPERVISOR[0]) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"username": username, "password": password})


async def test_failed_logins_are_limited_per_account_across_addresses(
    db_session: Session, seeded: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app_from(db_session, monkeypatch, "5/20second")
    async with _client(app, "10.0.0.1") as home, _client(app, "10.0.0.66") as attacker, \
            _client(app, "10.0.0.77") as other_attacker:  # fmt: skip
        assert (await _api_login(home, SUPERVISOR[1])).status_code == 200  # the user's own device
        # The attacker guesses from two addresses (each far below the per-address limit).
        for index in range(5):
            guesser = attacker if index % 2 else other_attacker
            assert (await _api_login(guesser, f"guess-{index}")).status_code == 401
        refused = await _api_login(attacker, SUPERVISOR[1])
        assert refused.status_code == 429 and "this account" in refused.json()["detail"]
        wait = int(refused.headers["retry-after"])
        assert 1 <= wait <= 20
        # The same limit on the login form.
        form = await attacker.get("/login")
        page = await attacker.post("/login", data={"username": SUPERVISOR[0], "password": SUPERVISOR[1],
                                                   "csrf_token": csrf_from(form.text)})  # fmt: skip
        assert page.status_code == 429 and "Te veel mislukte pogingen" in page.text
        # Not a lock-out: the user's own address still logs in, another account is untouched ...
        assert (await _api_login(home, SUPERVISOR[1])).status_code == 200
        assert (await _api_login(attacker, "begeleider-demo", "begeleider.terapel")).status_code == 200
        # ... and the lock ends with the window.
        await asyncio.sleep(wait + 0.5)
        assert (await _api_login(attacker, SUPERVISOR[1])).status_code == 200

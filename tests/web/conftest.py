"""Fixtures for the web tests: the API test fixtures (both databases, rollback per
test, seeded demo users) plus a logged-in browser-like client."""

from __future__ import annotations

import re

import httpx
import pytest_asyncio

from tests.api.conftest import (  # noqa: F401 - fixtures
    app,
    auth,
    built_app,
    client,
    db_session,
    engine,
    incident_payload,
    matrix_database,
    matrix_records,
    protocol_id,
    seeded,
    seeded_engine,
)

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')

DEMO_USER = ("contactpersoon.terapel", "contactpersoon-demo")


def csrf_from(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "no csrf_token field in the page"
    return match.group(1)


async def login(http: httpx.AsyncClient, username: str, password: str, next_path: str = "") -> httpx.Response:
    form = await http.get("/login")
    assert form.status_code == 200
    data = {"username": username, "password": password, "csrf_token": csrf_from(form.text)}
    if next_path:
        data["next"] = next_path
    return await http.post("/login", data=data)


@pytest_asyncio.fixture
async def logged_in(client: httpx.AsyncClient, seeded) -> httpx.AsyncClient:  # noqa: F811 - fixtures
    response = await login(client, *DEMO_USER)
    assert response.status_code == 303, response.text
    return client

"""Secrets, docs, security headers and rate limits (issue 6, part 7)."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.config import DEV_JWT_SECRET, REPO_ROOT, Settings, get_settings
from api.db import get_session
from api.main import create_app
from tests.api.conftest import TokenFactory

STRONG = "0f3c9a1e7b2d4c6a8e0f1b3d5c7e9a2b4d6f8a0c"


def test_production_refuses_the_default_or_a_short_secret() -> None:
    with pytest.raises(ValidationError, match="real secret"):
        Settings(COA_ENV="production", COA_JWT_SECRET=DEV_JWT_SECRET)
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(COA_ENV="production", COA_JWT_SECRET="short-secret")
    assert Settings(COA_ENV="production", COA_JWT_SECRET=STRONG).env == "production"


def test_the_api_process_does_not_start_in_production_with_the_default_secret() -> None:
    env = {key: value for key, value in os.environ.items() if key != "COA_JWT_SECRET"}
    env["COA_ENV"] = "production"
    result = subprocess.run(
        [sys.executable, "-c", "import api.main"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "COA_JWT_SECRET" in result.stderr


def _production_app(db_session: Session, monkeypatch: pytest.MonkeyPatch, **env: str) -> FastAPI:
    monkeypatch.setenv("COA_ENV", "production")
    monkeypatch.setenv("COA_JWT_SECRET", STRONG)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    app = create_app()
    app.dependency_overrides[get_session] = lambda: db_session
    return app


@pytest.fixture
def restore_settings():
    yield
    get_settings.cache_clear()


async def test_docs_are_closed_in_production(db_session: Session, monkeypatch, restore_settings) -> None:
    app = _production_app(db_session, monkeypatch)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as http:
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert (await http.get(path)).status_code == 404, path
        health = await http.get("/health")
        assert health.status_code == 200
        assert "max-age" in health.headers["strict-transport-security"]


async def test_security_headers_on_pages(client: httpx.AsyncClient) -> None:
    response = await client.get("/login")
    assert response.status_code == 200
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "object-src 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cache-control"] == "no-store"


async def test_login_is_rate_limited(db_session: Session, monkeypatch, restore_settings, seeded: Session) -> None:
    monkeypatch.setenv("COA_LOGIN_RATE", "5/minute")
    get_settings.cache_clear()
    app = create_app()
    app.dependency_overrides[get_session] = lambda: db_session
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        codes = [
            (await http.post("/api/v1/auth/login", json={"username": "x", "password": "wrong"})).status_code
            for _ in range(6)
        ]
        assert codes == [401] * 5 + [429]
        limited = await http.post("/api/v1/auth/login", json={"username": "x", "password": "wrong"})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert "too many requests" in limited.json()["detail"]
        # The form login shares the limit; other paths are not limited.
        assert (await http.post("/login", data={"username": "x"})).status_code == 429
        assert (await http.get("/health")).status_code == 200


async def test_record_writes_are_rate_limited(
    db_session: Session, monkeypatch, restore_settings, seeded: Session, auth: TokenFactory
) -> None:
    monkeypatch.setenv("COA_WRITE_RATE", "3/minute")
    get_settings.cache_clear()
    app = create_app()
    app.dependency_overrides[get_session] = lambda: db_session
    headers = auth("service")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        codes = [(await http.post("/api/v1/incidents", json={}, headers=headers)).status_code for _ in range(3)]
        assert codes == [422] * 3
        assert (await http.post("/api/v1/sessions/events", json={}, headers=headers)).status_code == 429
        assert (await http.post("/api/v1/sessions/events/batch", json={}, headers=headers)).status_code == 429
        assert (await http.get("/api/v1/locations", headers=headers)).status_code == 200

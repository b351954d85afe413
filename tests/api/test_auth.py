"""401 without/invalid token, 403 for the wrong role, login."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from sqlalchemy.orm import Session

from api.config import get_settings

from .conftest import TokenFactory

PROTECTED = [
    ("GET", "/api/v1/incidents"),
    ("GET", "/api/v1/incidents?conversation_id=none"),
    ("GET", "/api/v1/incidents/00000000-0000-0000-0000-000000000000"),
    ("POST", "/api/v1/incidents"),
    ("GET", "/api/v1/locations"),
    ("GET", "/api/v1/locations/TERAPEL/key-positions"),
]


def _token(**overrides: object) -> str:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": "x",
        "role": "admin",
        "locations": [],
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    claims.update(overrides)
    claims = {key: value for key, value in claims.items() if value is not None}
    return jwt.encode(claims, get_settings().jwt_secret, algorithm="HS256")


async def test_health_needs_no_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_no_token_is_401(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize(
    "token",
    [
        pytest.param("not-a-jwt", id="garbage"),
        pytest.param("NO_EXP", id="no-exp"),
        pytest.param("WRONG_SECRET", id="wrong-secret"),
        pytest.param("EXPIRED", id="expired"),
        pytest.param("NO_ROLE", id="missing-role"),
        pytest.param("BAD_ROLE", id="unknown-role"),
        pytest.param("ALG_NONE", id="alg-none"),
        pytest.param("HS512", id="other-algorithm"),
    ],
)
async def test_invalid_token_is_401(client: httpx.AsyncClient, token: str) -> None:
    secret = get_settings().jwt_secret
    now = datetime.now(UTC)
    token = {
        "WRONG_SECRET": lambda: jwt.encode(
            {"sub": "x", "role": "admin", "locations": [], "iat": now, "exp": now + timedelta(hours=1)},
            "another-secret-that-is-long-enough-0123456789",
            algorithm="HS256",
        ),
        "EXPIRED": lambda: _token(iat=now - timedelta(hours=2), exp=now - timedelta(hours=1)),
        "NO_EXP": lambda: _token(exp=None),
        "NO_ROLE": lambda: _token(role=None),
        "BAD_ROLE": lambda: _token(role="root"),
        "ALG_NONE": lambda: jwt.encode(
            {"sub": "x", "role": "admin", "locations": [], "iat": now, "exp": now + timedelta(hours=1)},
            None,
            algorithm="none",
        ),
        "HS512": lambda: jwt.encode(
            {"sub": "x", "role": "admin", "locations": [], "iat": now, "exp": now + timedelta(hours=1)},
            secret,
            algorithm="HS512",
        ),
    }.get(token, lambda: token)()
    response = await client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text


@pytest.mark.parametrize("role", ["counsellor", "contact_person", "supervisor", "admin"])
async def test_only_the_service_role_records_incidents(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, role: str, incident_payload
) -> None:
    response = await client.post("/api/v1/incidents", json=incident_payload(), headers=auth(role, "TERAPEL"))
    assert response.status_code == 403
    assert "service" in response.json()["detail"]


async def test_service_role_cannot_read_incidents(client: httpx.AsyncClient, auth: TokenFactory) -> None:
    headers = auth("service")
    assert (await client.get("/api/v1/incidents", headers=headers)).status_code == 403
    one = await client.get("/api/v1/incidents/00000000-0000-0000-0000-000000000000", headers=headers)
    assert one.status_code == 403


async def test_login_with_json_returns_a_working_token(client: httpx.AsyncClient, seeded: Session) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"username": "supervisor.terapel", "password": "supervisor-demo"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    claims = jwt.decode(body["access_token"], get_settings().jwt_secret, algorithms=["HS256"])
    assert claims["role"] == "supervisor"
    assert claims["locations"] == ["TERAPEL"]
    assert claims["sub"] == "stf-9a4c"  # pseudonymous staff id, not the username
    listed = await client.get(
        "/api/v1/incidents", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert listed.status_code == 200


async def test_login_with_oauth2_form(client: httpx.AsyncClient, seeded: Session) -> None:
    response = await client.post(
        "/api/v1/auth/login", data={"username": "admin", "password": "admin-demo", "grant_type": "password"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["access_token"]


@pytest.mark.parametrize(
    ("username", "password"),
    [("supervisor.terapel", "wrong"), ("nobody", "supervisor-demo")],
)
async def test_login_refuses_wrong_credentials_alike(
    client: httpx.AsyncClient, seeded: Session, username: str, password: str
) -> None:
    response = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 401
    assert response.json()["detail"] == "unknown username or wrong password"


async def test_login_with_a_bad_body_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/login", json={"username": "admin"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "password"]
    broken = await client.post(
        "/api/v1/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422

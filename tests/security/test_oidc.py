"""Production authentication (issue 6, part 1): Entra ID-style RS256 bearer tokens
checked against a JWKS served by a local HTTP server (no network), with key
rotation, issuer/audience checks and roles/locations from the mapping file."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.auth import oidc
from api.auth.service import create_token
from api.config import REPO_ROOT, Settings, get_settings

ISSUER = "https://login.microsoftonline.com/00000000-1111-2222-3333-444444444444/v2.0"
AUDIENCE = "api://coa-case-guidance"
MAPPING = REPO_ROOT / "api" / "auth" / "oidc_mapping.example.yml"


class Jwks:
    """A JWKS endpoint on 127.0.0.1 whose key set the test can rotate."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.fetches = 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.fetches += 1
                body = json.dumps({"keys": [jwks.public(kid) for kid in jwks.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/discovery/v2.0/keys"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add_key(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def public(self, kid: str) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
        return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}

    def token(self, kid: str, key: Any = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 3600,
                "oid": "5f7c-oid-counsellor", "sub": "pairwise-sub", "roles": ["COA.Counsellor"]}  # fmt: skip
        body.update(claims)
        return jwt.encode(body, key or self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    server = Jwks()
    server.add_key("key-1")
    server.thread.start()
    oidc.jwks_client.cache_clear()
    yield server
    server.server.shutdown()
    server.server.server_close()
    oidc.jwks_client.cache_clear()


def oidc_settings(jwks: Jwks, mapping: Path = MAPPING, **extra: Any) -> Settings:
    return Settings(
        COA_AUTH_MODE="oidc", COA_OIDC_ISSUER=ISSUER, COA_OIDC_AUDIENCE=AUDIENCE,
        COA_OIDC_JWKS_URL=jwks.url, COA_OIDC_MAPPING=str(mapping), **extra,
    )  # fmt: skip


@pytest.fixture
def oidc_app(app: FastAPI, jwks: Jwks) -> FastAPI:
    # No cooldown between JWKS fetches here, so that the rotation test need not wait.
    app.dependency_overrides[get_settings] = lambda: oidc_settings(jwks, COA_OIDC_JWKS_COOLDOWN_SECONDS=0)
    return app


async def _get(app: FastAPI, path: str, token: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await http.get(path, headers={"Authorization": f"Bearer {token}"})


def test_roles_and_locations_come_from_the_mapping_file(jwks: Jwks) -> None:
    settings = oidc_settings(jwks)
    from api.auth.service import decode_token

    user = decode_token(
        settings, jwks.token("key-1", roles=["COA.Supervisor", "COA.Location.TERAPEL"], groups=["COA.Location.BUDEL"])
    )
    assert (user.sub, user.role, user.locations) == ("5f7c-oid-counsellor", "supervisor", ("BUDEL", "TERAPEL"))
    # File order decides between two mapped roles: admin is listed first.
    assert decode_token(settings, jwks.token("key-1", roles=["COA.Counsellor", "COA.Admin"])).role == "admin"


def test_a_mapping_in_configuration_changes_roles_without_code(jwks: Jwks, tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yml"
    mapping.write_text(
        "subject_claim: oid\nroles:\n  'a1b2-group-id': contact_person\nlocations:\n  'a1b2-group-id': [ZEIST]\n"
    )
    from api.auth.service import decode_token

    user = decode_token(oidc_settings(jwks, mapping), jwks.token("key-1", roles=[], groups=["a1b2-group-id"]))
    assert (user.role, user.locations) == ("contact_person", ("ZEIST",))


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"iss": "https://evil.example/v2.0"}, "issuer"),
        ({"aud": "api://another-app"}, "audience"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"roles": ["Some.Other.Role"]}, "no role"),
    ],
)
async def test_wrong_tokens_answer_401(
    oidc_app: FastAPI, jwks: Jwks, seeded: Session, claims: dict, message: str
) -> None:
    response = await _get(oidc_app, "/api/v1/locations", jwks.token("key-1", **claims))
    assert response.status_code == 401
    assert message in response.json()["detail"].lower()


async def test_a_valid_token_is_accepted_and_scoped(oidc_app: FastAPI, jwks: Jwks, seeded: Session) -> None:
    assert (await _get(oidc_app, "/api/v1/locations", jwks.token("key-1"))).status_code == 200
    # A counsellor may not read indicators; the role came from the token's app role.
    assert (await _get(oidc_app, "/api/v1/indicators", jwks.token("key-1"))).status_code == 403
    service = jwks.token("key-1", roles=["COA.ActionServer"], oid="action-server-app")
    assert (await _get(oidc_app, "/api/v1/sessions", service)).status_code == 403


async def test_local_and_foreign_tokens_are_refused_in_oidc_mode(
    oidc_app: FastAPI, jwks: Jwks, seeded: Session
) -> None:
    # The HS256 tokens of `make token` are not accepted in production mode.
    local = create_token(get_settings(), sub="x", role="admin", locations=["TERAPEL"])
    assert (await _get(oidc_app, "/api/v1/locations", local)).status_code == 401
    # Signed by a key the JWKS does not have, under a known kid.
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert (await _get(oidc_app, "/api/v1/locations", jwks.token("key-1", key=stranger))).status_code == 401
    # alg=none / HS256 with the public key as secret: the algorithm list is fixed.
    unsigned = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "roles": ["COA.Admin"]}, None, algorithm="none",
                          headers={"kid": "key-1"})  # fmt: skip
    assert (await _get(oidc_app, "/api/v1/locations", unsigned)).status_code == 401


async def test_key_rotation_needs_no_restart(oidc_app: FastAPI, jwks: Jwks, seeded: Session) -> None:
    assert (await _get(oidc_app, "/api/v1/locations", jwks.token("key-1"))).status_code == 200
    fetched = jwks.fetches
    # Cached: a second token with the same key does not fetch the key set again.
    assert (await _get(oidc_app, "/api/v1/locations", jwks.token("key-1"))).status_code == 200
    assert jwks.fetches == fetched
    # The provider rotates: a new key appears, the old one is withdrawn.
    jwks.add_key("key-2")
    old = jwks.keys.pop("key-1")
    rotated = await _get(oidc_app, "/api/v1/locations", jwks.token("key-2"))
    assert rotated.status_code == 200, rotated.text
    assert jwks.fetches == fetched + 1  # the unknown kid made the client fetch once
    assert (await _get(oidc_app, "/api/v1/locations", jwks.token("key-1", key=old))).status_code == 401


def test_oidc_mode_needs_its_settings(jwks: Jwks) -> None:
    with pytest.raises(ValidationError, match="COA_OIDC_AUDIENCE"):
        Settings(
            COA_AUTH_MODE="oidc", COA_OIDC_ISSUER=ISSUER, COA_OIDC_JWKS_URL=jwks.url, COA_OIDC_MAPPING=str(MAPPING)
        )
    with pytest.raises(ValidationError, match="https"):
        oidc_settings(jwks, COA_ENV="production", COA_JWT_SECRET="s" * 40)


def test_a_bad_mapping_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("roles:\n  COA.Admin: superuser\n")
    with pytest.raises(oidc.OidcError, match="superuser"):
        oidc.load_mapping(str(bad))

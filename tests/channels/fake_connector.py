"""A local stand-in for Microsoft's side of a Teams bot, for the tests.

Serves what the Teams channel talks to, on a loopback port:
- ``GET  /openid``                      OpenID configuration (issuer, ``jwks_uri``)
- ``GET  /keys``                        the key set (RSA keys generated at start, endorsed for ``msteams``)
- ``POST /<tenant>/oauth2/v2.0/token``  client-credentials token endpoint (records the tenant)
- ``POST /v3/conversations/<id>/activities``  the Bot Connector's reply endpoint (records replies)
- ``POST /v3/conversations``            creates a personal conversation with a user (proactive
  messages to someone without a stored conversation); the same member gets the same id, as in Teams
and, for tests that cannot sign tokens themselves (the end-to-end tests run in the
API environment, which has no ``cryptography``), test-only control routes under
``/_test/``: ``POST /_test/token`` signs an incoming-activity token, ``GET
/_test/replies``, ``GET /_test/token-requests``, ``GET /_test/conversations`` (the created
ones), ``POST /_test/rotate``.

Use in-process (``FakeConnector().start()``: a thread with its own event loop) or
as a process: ``python -m tests.channels.fake_connector --port 15006``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://api.botframework.com"
APP_ID = "00000000-0000-4000-8000-0000000b07a1"
APP_PASSWORD = "fake-app-password"  # a test value, not a secret
TENANT = "11111111-2222-4333-8444-555555555555"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class KeyPair:
    kid: str
    private: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))

    def jwk(self, endorsements: list[str]) -> dict[str, Any]:
        key = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        key.update({"kid": self.kid, "use": "sig", "endorsements": endorsements})
        return key

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class FakeConnector:
    def __init__(self, port: int = 0, app_id: str = APP_ID, app_password: str = APP_PASSWORD,
                 channel_id: str = "msteams") -> None:
        self.port = port
        self.app_id = app_id
        self.app_password = app_password
        self.channel_id = channel_id
        self.keys = [KeyPair("key-" + uuid.uuid4().hex[:8])]
        self.rogue = KeyPair("rogue-" + uuid.uuid4().hex[:8])
        self.outgoing_token = "connector-token-" + uuid.uuid4().hex
        self.replies: list[dict[str, Any]] = []
        self.rejected_replies = 0
        self.token_requests: list[dict[str, Any]] = []
        self.created: list[dict[str, Any]] = []
        self.key_fetches = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()

    # -- tokens for incoming activities

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openid_url(self) -> str:
        return f"{self.base_url}/openid"

    @property
    def service_url(self) -> str:
        return f"{self.base_url}/"

    def rotate(self) -> str:
        """A new signing key becomes current; the old one stays published (as Microsoft does)."""
        with self._lock:
            self.keys.insert(0, KeyPair("key-" + uuid.uuid4().hex[:8]))
            return self.keys[0].kid

    def sign(self, service_url: str | None = None, *, audience: str | None = None, issuer: str = ISSUER,
             expires_in: float = 3600, key: str = "current", kid: str | None = None, alg: str = "RS256",
             extra: dict[str, Any] | None = None) -> str:
        """A Bot Connector token; `key`: current | old | rogue; `alg`: RS256 | none | HS256-public."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer, "aud": audience or self.app_id, "iat": now - 5, "nbf": now - 5,
            "exp": now + int(expires_in), "serviceUrl": service_url or self.service_url,
        }
        claims.update(extra or {})
        pair = {"current": self.keys[0], "old": self.keys[-1], "rogue": self.rogue}[key]
        header_kid = kid or (self.keys[0].kid if key == "rogue" else pair.kid)
        if alg == "none":
            header = {"alg": "none", "typ": "JWT", "kid": header_kid}
            return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}."
        if alg == "HS256-public":
            # Algorithm confusion: HMAC keyed with the (public) RSA key of the key set.
            header = {"alg": "HS256", "typ": "JWT", "kid": header_kid}
            signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
            mac = hmac.new(self.keys[0].public_pem(), signing_input.encode(), hashlib.sha256).digest()
            return f"{signing_input}.{b64url(mac)}"
        return jwt.encode(claims, pair.private, algorithm=alg, headers={"kid": header_kid})

    # -- HTTP

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/openid", self._openid)
        app.router.add_get("/keys", self._keys)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._activity)
        app.router.add_post("/v3/conversations", self._create_conversation)
        app.router.add_get("/_test/health", lambda _r: web.json_response({"status": "ok"}))
        app.router.add_post("/_test/token", self._test_token)
        app.router.add_get("/_test/replies", self._test_replies)
        app.router.add_get("/_test/token-requests", self._test_token_requests)
        app.router.add_get("/_test/conversations", self._test_conversations)
        app.router.add_post("/_test/rotate", self._test_rotate)
        return app

    async def _openid(self, request: web.Request) -> web.Response:
        return web.json_response({"issuer": ISSUER, "jwks_uri": f"{self.base_url}/keys",
                                  "id_token_signing_alg_values_supported": ["RS256"]})

    async def _keys(self, request: web.Request) -> web.Response:
        with self._lock:
            self.key_fetches += 1
            keys = [pair.jwk([self.channel_id]) for pair in self.keys]
        return web.json_response({"keys": keys})

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        record = {"tenant": request.match_info["tenant"], "client_id": form.get("client_id"),
                  "scope": form.get("scope"), "grant_type": form.get("grant_type")}
        self.token_requests.append(record)
        if (form.get("client_id"), form.get("client_secret"), form.get("grant_type")) != (
                self.app_id, self.app_password, "client_credentials"):
            return web.json_response({"error": "invalid_client"}, status=401)
        return web.json_response({"token_type": "Bearer", "expires_in": 3600, "access_token": self.outgoing_token})

    async def _activity(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.outgoing_token}":
            self.rejected_replies += 1
            return web.json_response({"error": "unauthorized"}, status=401)
        activity = await request.json()
        self.replies.append({"conversation_id": request.match_info["conversation"], "activity": activity,
                             "received": time.time()})
        return web.json_response({"id": uuid.uuid4().hex})

    async def _create_conversation(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.outgoing_token}":
            self.rejected_replies += 1
            return web.json_response({"error": "unauthorized"}, status=401)
        body = await request.json()
        members = body.get("members") if isinstance(body, dict) else None
        if not isinstance(members, list) or len(members) != 1 or not isinstance(members[0], dict) \
                or not members[0].get("id") or not (body.get("bot") or {}).get("id"):
            return web.json_response({"error": {"code": "BadArgument", "message": "one member and the bot"}},
                                     status=400)
        conversation_id = "a:personal-" + hashlib.sha256(str(members[0]["id"]).encode()).hexdigest()[:16]
        self.created.append({"request": body, "id": conversation_id})
        return web.json_response({"id": conversation_id}, status=201)

    async def _test_conversations(self, request: web.Request) -> web.Response:
        return web.json_response({"created": self.created})

    async def _test_token(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"token": self.sign(**body)})

    async def _test_replies(self, request: web.Request) -> web.Response:
        conversation = request.query.get("conversation")
        items = [r for r in self.replies if conversation is None or r["conversation_id"] == conversation]
        return web.json_response({"replies": items, "rejected": self.rejected_replies})

    async def _test_token_requests(self, request: web.Request) -> web.Response:
        return web.json_response({"requests": self.token_requests})

    async def _test_rotate(self, request: web.Request) -> web.Response:
        return web.json_response({"kid": self.rotate()})

    # -- running in a thread

    def start(self) -> FakeConnector:
        self._thread = threading.Thread(target=self._run, name="fake-bot-connector", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("fake Bot Connector did not start")
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._runner = web.AppRunner(self.app())
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--app-id", default=APP_ID)
    parser.add_argument("--app-password", default=APP_PASSWORD)
    args = parser.parse_args()
    connector = FakeConnector(args.port, args.app_id, args.app_password)
    web.run_app(connector.app(), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()

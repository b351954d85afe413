"""Web chat widget channel: Rasa's socket.io channel, bound to the staff member's token.

Configured in the credentials file (replaces the plain ``socketio:`` entry; every
key is optional)::

    assistant.channels.webchat.WebChatInput:
      socketio_path: /socket.io
      allowed_origins: ${COA_WEBCHAT_ALLOWED_ORIGINS}   # comma separated
      env: production          # optional: as COA_ENV=production (deploy/credentials.production.yml)

The API's chat page (``GET /chat``) gets a short-lived token from
``POST /api/v1/auth/chat-token`` (session cookie + CSRF header) and hands it to the
socket in the connect packet (``io(url, {auth: {token}})``). That token is an
EdDSA (Ed25519) JWT with ``aud: "webchat"`` that only the API can sign
(``api/auth/chat_token.py``; docs: ``api/web/README.md``).

What this channel adds to Rasa's ``SocketIOInput``:

- **authentication on connect**: the token is verified with the chat token's
  *public* key (``COA_CHAT_TOKEN_PUBLIC_KEY`` or ``COA_CHAT_TOKEN_PUBLIC_KEY_FILE``,
  PEM, read once at start-up; issue 14: this internet-facing process can verify
  but never mint a token, and never holds ``COA_JWT_SECRET``). In production
  (``COA_ENV=production`` or ``env: production`` in the credentials) the key must
  be configured, the development key is refused, and the channel refuses to start
  when the API's signing secrets are in its environment. Without a key in
  development: the development public key. The algorithm list is fixed
  (``EdDSA``, never the one the token names), ``exp``, ``iat``, ``sub``, ``aud``, ``role`` and ``locations``
  are required, the audience must be ``webchat`` (so the long-lived login token
  is refused here, and the chat token is refused by the API). No token, a bad
  token or a service token: the connection is refused (``connect_error``).
- **sessions bound to the user**: a session id is
  ``wc-<owner>-<random>`` (the web chat's namespace, ``namespaces.py``), ``owner``
  an HMAC-SHA256 of the token's ``sub`` keyed with the public key (not secret: the
  check is that the owner matches the *verified* ``sub``, and the 128 random bits
  make a session id unguessable). A ``session_request`` for a session id that does not
  belong to the token's user is refused (``session_refused``; the socket does
  not join that room, so it never receives that conversation's replies). A
  message is always processed in the socket's own confirmed session; a message
  that names another session id is dropped.
- **identity from the token, never from the client**: every message gets the
  metadata ``{"staff_id": sub, "location": first location of the token,
  "channel": "webchat"}``; metadata sent by the client is ignored.
- **expiry**: a message arriving after the token's ``exp`` is not processed; the
  server emits ``session_expired`` and disconnects, and the page reconnects with
  a fresh token (the session id stays, so the conversation goes on).
- **origins**: only the configured origins may open the socket (default the
  API's chat page: ``http://127.0.0.1:8000``, ``http://localhost:8000``).
- **a message stays one message**: Rasa's socket.io output splits a text at every
  blank line and hangs the buttons on the last piece, so a question's "Bron: …"
  line became a bubble of its own carrying the question's buttons. The page
  shows the source as a citation line inside its message.
- fixes Rasa 3.6's handler with python-socketio 5.18, where ``enter_room`` is a
  coroutine that Rasa's channel never awaits (its replies then reach no one).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer
from socketio.exceptions import ConnectionRefusedError as SocketRefused

from assistant.channels.namespaces import MAX_MESSAGE_CHARS, WEBCHAT, WEBCHAT_PREFIX

logger = logging.getLogger(__name__)

CHANNEL = WEBCHAT
AUDIENCE = "webchat"
ALGORITHMS = ["EdDSA"]  # fixed: never the algorithm a token names
REQUIRED_CLAIMS = ["exp", "iat", "sub", "aud", "role", "locations"]
STAFF_ROLES = frozenset({"counsellor", "contact_person", "supervisor", "admin"})
DEFAULT_ORIGINS = ("http://127.0.0.1:8000", "http://localhost:8000")
# The API's development chat key (api/auth/chat_token.py DEV_CHAT_KEY_SEED); refused in production.
DEV_CHAT_KEY_SEED = hashlib.sha256(b"coa-development-chat-token-key").digest()
# The API's signing material: never in this process's environment in production.
API_SECRETS = ("COA_JWT_SECRET", "COA_CHAT_TOKEN_PRIVATE_KEY", "COA_CHAT_TOKEN_PRIVATE_KEY_FILE")
# engine.io's default is 1 MB per packet; a chat message is at most MAX_MESSAGE_CHARS.
MAX_PACKET_BYTES = 64 * 1024
SESSION_ID = re.compile(r"^" + re.escape(WEBCHAT_PREFIX) + r"([0-9a-f]{24})-([0-9a-f]{32})$")


class WebChatAuthError(Exception):
    pass


@dataclass(frozen=True)
class StaffIdentity:
    """Who is on the socket, as stated by a verified token."""

    sub: str
    role: str
    locations: tuple[str, ...]
    exp: float

    @property
    def location(self) -> str | None:
        return self.locations[0] if self.locations else None

    def metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = {"staff_id": self.sub, "channel": CHANNEL}
        if self.location:
            data["location"] = self.location
        return data


def dev_public_key() -> Ed25519PublicKey:
    return Ed25519PrivateKey.from_private_bytes(DEV_CHAT_KEY_SEED).public_key()


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_from_env(environ: Mapping[str, str], production: bool) -> Ed25519PublicKey:
    """The chat token's public key; see the module docstring for the production rules."""
    if production:
        held = [name for name in API_SECRETS if environ.get(name)]
        if held:
            raise ValueError(
                f"the web chat channel must not hold the API's keys in production: unset {', '.join(held)}"
            )
    pem = environ.get("COA_CHAT_TOKEN_PUBLIC_KEY", "")
    if not pem and environ.get("COA_CHAT_TOKEN_PUBLIC_KEY_FILE"):
        with open(environ["COA_CHAT_TOKEN_PUBLIC_KEY_FILE"], encoding="utf-8") as handle:
            pem = handle.read()
    if not pem:
        if production:
            raise ValueError("COA_CHAT_TOKEN_PUBLIC_KEY (or _FILE) must be set for the web chat in production")
        logger.warning("COA_CHAT_TOKEN_PUBLIC_KEY is not set: the web chat channel uses the development key")
        return dev_public_key()
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("COA_CHAT_TOKEN_PUBLIC_KEY must be an Ed25519 public key")
    if production and _raw(key) == _raw(dev_public_key()):
        raise ValueError("the development chat token key is refused in production")
    return key


def _origins(value: Any, environ: Mapping[str, str]) -> list[str]:
    raw = value if value not in (None, "") else environ.get("COA_WEBCHAT_ALLOWED_ORIGINS", "")
    items = [str(item).strip() for item in (raw.split(",") if isinstance(raw, str) else raw)]
    origins = [item.rstrip("/") for item in items if item]
    if "*" in origins:
        raise ValueError("allowed_origins must list the chat page's origins, not '*'")
    return origins or list(DEFAULT_ORIGINS)


class TokenVerifier:
    def __init__(self, key: Ed25519PublicKey, audience: str = AUDIENCE, leeway: float = 0) -> None:
        self._key = key
        self.audience = audience
        self.leeway = leeway

    def verify(self, token: Any) -> StaffIdentity:
        if not isinstance(token, str) or not token:
            raise WebChatAuthError("no token")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": REQUIRED_CLAIMS, "verify_signature": True, "verify_exp": True,
                         "verify_aud": True, "verify_iat": True},
            )
        except jwt.PyJWTError as exc:
            raise WebChatAuthError(f"invalid token: {exc}") from exc
        sub, role, locations = claims["sub"], claims["role"], claims["locations"]
        if not isinstance(sub, str) or not sub.strip():
            raise WebChatAuthError("claim 'sub' must be a non-empty string")
        if role not in STAFF_ROLES:
            raise WebChatAuthError(f"role {role!r} may not use the web chat")
        if not isinstance(locations, list) or not all(isinstance(code, str) for code in locations):
            raise WebChatAuthError("claim 'locations' must be a list of location codes")
        codes = tuple(code.strip().upper() for code in locations if code.strip())
        return StaffIdentity(sub=sub, role=role, locations=codes, exp=float(claims["exp"]))


class SessionIds:
    """Session ids that carry a keyed hash of their owner: ``wc-<owner>-<random>``."""

    def __init__(self, key: bytes) -> None:
        self._key = hashlib.sha256(b"coa-webchat-session:" + key).digest()

    def owner(self, sub: str) -> str:
        return hmac.new(self._key, sub.encode(), hashlib.sha256).hexdigest()[:24]

    def new(self, sub: str) -> str:
        return f"{WEBCHAT_PREFIX}{self.owner(sub)}-{secrets.token_hex(16)}"

    def belongs_to(self, session_id: Any, sub: str) -> bool:
        if not isinstance(session_id, str):
            return False
        match = SESSION_ID.match(session_id)
        return bool(match) and hmac.compare_digest(match.group(1), self.owner(sub))


class WebChatOutput(SocketIOOutput):
    """Rasa's socket.io output without splitting a text at blank lines."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._send_message(recipient_id, {"text": text.strip()})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        replies = [
            {"content_type": "text", "title": b["title"], "payload": b.get("payload", b["title"])}
            for b in buttons
        ]
        await self._send_message(recipient_id, {"text": text.strip(), "quick_replies": replies})


class WebChatInput(SocketIOInput):
    """socket.io channel for the API's chat page; see the module docstring."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        return cls(
            user_message_evt=credentials.get("user_message_evt") or "user_uttered",
            bot_message_evt=credentials.get("bot_message_evt") or "bot_uttered",
            namespace=credentials.get("namespace") or None,
            socketio_path=credentials.get("socketio_path") or "/socket.io",
            allowed_origins=credentials.get("allowed_origins"),
            production=credentials.get("env") == "production",
        )

    def __init__(
        self,
        user_message_evt: str = "user_uttered",
        bot_message_evt: str = "bot_uttered",
        namespace: str | None = None,
        socketio_path: str = "/socket.io",
        allowed_origins: Any = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        production: bool = False,
    ) -> None:
        # session_persistence is always on: replies go to the session's room, which
        # only sockets of the session's owner can join.
        super().__init__(
            user_message_evt=user_message_evt,
            bot_message_evt=bot_message_evt,
            namespace=namespace,
            session_persistence=True,
            socketio_path=socketio_path,
            jwt_key=None,
            metadata_key=None,
        )
        environ = os.environ if environ is None else environ
        production = production or environ.get("COA_ENV") == "production"
        key = public_key_from_env(environ, production)  # read once, at start-up
        self.verifier = TokenVerifier(key)
        self.session_ids = SessionIds(_raw(key))
        self.allowed_origins = _origins(allowed_origins, environ)
        self.clock = clock

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=self.allowed_origins,
                          max_http_buffer_size=MAX_PACKET_BYTES)
        blueprint = SocketBlueprint(sio, self.socketio_path, "webchat_webhook", __name__)
        self.sio = sio
        namespace = self.namespace

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=namespace)
        async def connect(sid: str, environ: dict, auth: Any = None) -> bool:
            token = auth.get("token") if isinstance(auth, dict) else None
            try:
                identity = self.verifier.verify(token)
            except WebChatAuthError as exc:
                logger.info("web chat connection %s refused: %s", sid, exc)
                raise SocketRefused({"error": "unauthorized"}) from None
            await sio.save_session(sid, {"identity": identity, "session_id": None}, namespace=namespace)
            logger.debug("web chat socket %s connected", sid)
            return True

        @sio.on("disconnect", namespace=namespace)
        async def disconnect(sid: str, *_args: Any) -> None:
            logger.debug("web chat socket %s disconnected", sid)

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: str, data: Any = None) -> None:
            state = await self._state(sid)
            if state is None:
                return
            identity: StaffIdentity = state["identity"]
            requested = data.get("session_id") if isinstance(data, dict) else None
            if requested:
                if not self.session_ids.belongs_to(requested, identity.sub):
                    logger.warning("web chat socket %s asked for a session of another user: refused", sid)
                    await sio.emit("session_refused", {"error": "not_your_session"}, room=sid, namespace=namespace)
                    return
                session_id = requested
            else:
                session_id = self.session_ids.new(identity.sub)
            previous = state.get("session_id")
            if previous and previous != session_id:
                await sio.leave_room(sid, previous, namespace=namespace)
            await sio.enter_room(sid, session_id, namespace=namespace)
            state["session_id"] = session_id
            await sio.save_session(sid, state, namespace=namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: str, data: Any = None) -> None:
            state = await self._state(sid)
            if state is None:
                return
            identity: StaffIdentity = state["identity"]
            if self.clock() >= identity.exp:
                await sio.emit("session_expired", {"error": "token_expired"}, room=sid, namespace=namespace)
                await sio.disconnect(sid, namespace=namespace)
                return
            session_id = state.get("session_id")
            if not session_id:
                logger.warning("web chat message before session_request on socket %s: ignored", sid)
                await sio.emit("session_refused", {"error": "no_session"}, room=sid, namespace=namespace)
                return
            claimed = data.get("session_id") if isinstance(data, dict) else None
            if claimed and claimed != session_id:
                logger.warning("web chat socket %s sent a message for another session: dropped", sid)
                await sio.emit("session_refused", {"error": "not_your_session"}, room=sid, namespace=namespace)
                return
            text = data.get("message") if isinstance(data, dict) else None
            if not isinstance(text, str) or not text.strip():
                return
            message = UserMessage(
                text[:MAX_MESSAGE_CHARS],
                WebChatOutput(sio, self.bot_message_evt),
                session_id,
                input_channel=self.name(),
                # From the verified token only: the client's metadata is never read.
                metadata=identity.metadata(),
            )
            await on_new_message(message)

        return blueprint

    async def _state(self, sid: str) -> dict[str, Any] | None:
        assert self.sio is not None
        try:
            state = dict(await self.sio.get_session(sid, namespace=self.namespace))
        except KeyError:
            return None
        return state if isinstance(state.get("identity"), StaffIdentity) else None

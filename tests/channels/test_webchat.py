"""The web chat channel on a real socket: a Sanic server with only this channel's
blueprint on a loopback port and python-socketio's client (the protocol the
browser's socket.io-client v4 speaks). No Rasa model: messages go to a collector
that answers with buttons like the assistant does."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
import socketio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from assistant.channels.webchat import (
    DEFAULT_ORIGINS,
    DEV_CHAT_KEY_SEED,
    SessionIds,
    TokenVerifier,
    WebChatAuthError,
    WebChatInput,
)

# Issue 14: the API signs chat tokens with a private key; the channel holds the public key only.
SIGNING_KEY = Ed25519PrivateKey.generate()
PUBLIC_KEY = SIGNING_KEY.public_key()
PUBLIC_PEM = PUBLIC_KEY.public_bytes(serialization.Encoding.PEM,
                                     serialization.PublicFormat.SubjectPublicKeyInfo).decode()
PUBLIC_RAW = PUBLIC_KEY.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
ENV = {"COA_CHAT_TOKEN_PUBLIC_KEY": PUBLIC_PEM}
ORIGIN = "http://127.0.0.1:8000"


def token(
    sub: str = "staff-terapel-1",
    locations: list[str] | None = None,
    role: str = "counsellor",
    aud: str | None = "webchat",
    ttl: timedelta = timedelta(minutes=15),
    secret: Any = SIGNING_KEY,
    algorithm: str = "EdDSA",
    drop: tuple[str, ...] = (),
) -> str:
    now = datetime.now(timezone.utc)
    claims: dict[str, Any] = {"sub": sub, "role": role, "iat": now, "exp": now + ttl,
                              "locations": locations if locations is not None else ["TERAPEL"]}
    if aud is not None:
        claims["aud"] = aud
    for key in drop:
        claims.pop(key, None)
    return jwt.encode(claims, secret, algorithm=algorithm)


def hmac_with_public_key() -> str:
    """An HS256 token keyed with the public key's PEM (PyJWT refuses to make one)."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"sub": "x", "role": "counsellor", "locations": ["TERAPEL"], "aud": "webchat",
              "iat": now, "exp": now + 600}
    signing_input = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    signature = hmac.new(PUBLIC_PEM.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


class Collector:
    def __init__(self) -> None:
        self.messages: list[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        await message.output_channel.send_response(message.sender_id, {
            # A question with its source line: one message, buttons with the question.
            "text": f"ontvangen: {message.text}\n\nBron: testbron",
            "buttons": [{"title": "Ja", "payload": "/affirm"}, {"title": "Nee", "payload": "/deny"}],
        })


class Client:
    """A socket.io client that records what the server emits."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        for name in ("session_confirm", "session_refused", "session_expired", "bot_uttered"):
            self.sio.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Any:
        async def record(data: Any = None) -> None:
            await self.events.put((name, data))
        return record

    async def connect(self, auth: Any, origin: str = ORIGIN) -> None:
        await self.sio.connect(self.url, auth=auth, headers={"Origin": origin}, transports=["polling"],
                               socketio_path="/socket.io", wait_timeout=5)

    async def next(self, timeout: float = 5.0) -> tuple[str, Any]:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def nothing(self, within: float = 0.5) -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(self.events.get(), within)

    async def session(self, session_id: str | None = None) -> str:
        await self.sio.emit("session_request", {"session_id": session_id})
        name, data = await self.next()
        assert name == "session_confirm", (name, data)
        return data

    async def close(self) -> None:
        if self.sio.connected:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.sio.disconnect(), 2)


async def raw_connect(url: str, auth: Any, origin: str = ORIGIN) -> str:
    """The socket.io v4 handshake over engine.io polling, by hand: a refused
    connection is answered at once (python-socketio's client waits for a ping
    timeout after a refusal, ~30 s per case)."""
    params = {"EIO": "4", "transport": "polling"}
    async with httpx.AsyncClient(base_url=url, headers={"Origin": origin}, timeout=10) as http:
        opened = await http.get("/socket.io/", params=params)
        if opened.status_code == 400:
            return "origin refused"
        assert opened.status_code == 200 and opened.text.startswith("0"), opened.text
        params["sid"] = json.loads(opened.text[1:])["sid"]
        packet = "40" + (json.dumps(auth) if auth is not None else "")
        assert (await http.post("/socket.io/", params=params, content=packet)).status_code == 200
        answer = (await http.get("/socket.io/", params=params)).text
    if answer.startswith("40"):
        return "connected"
    assert answer.startswith("44") and "unauthorized" in answer, answer
    return "refused"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[tuple[str, Collector, WebChatInput]]:
    collector = Collector()
    channel = WebChatInput(environ=ENV)
    app = Sanic(f"webchat_test_{uuid.uuid4().hex[:8]}")
    app.blueprint(channel.blueprint(collector), url_prefix=channel.url_prefix())
    port = _free_port()
    srv = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    assert srv is not None
    await srv.startup()
    await srv.start_serving()
    try:
        yield f"http://127.0.0.1:{port}", collector, channel
    finally:
        srv.close()
        await srv.wait_closed()


@pytest_asyncio.fixture(loop_scope="module")
async def clients(server: tuple[str, Collector, WebChatInput]) -> AsyncIterator[list[Client]]:
    _, collector, channel = server
    collector.messages.clear()
    made: list[Client] = []
    yield made
    await asyncio.gather(*(client.close() for client in made))
    channel.clock = time.time


def new_client(server: tuple[str, Collector, WebChatInput], clients: list[Client]) -> Client:
    client = Client(server[0])
    clients.append(client)
    return client


# -- connect


@pytest.mark.parametrize(
    "auth",
    [
        None,
        {},
        {"token": ""},
        {"token": "not-a-jwt"},
        {"token": token(secret=Ed25519PrivateKey.generate())},  # wrong key
        {"token": token(secret=Ed25519PrivateKey.from_private_bytes(DEV_CHAT_KEY_SEED))},  # the development key
        {"token": hmac_with_public_key()},  # algorithm confusion: HMAC keyed with the public key
        {"token": token(ttl=timedelta(minutes=-1))},  # expired
        {"token": token(aud=None)},  # the long-lived login token has no audience
        {"token": token(aud="api")},
        {"token": token(drop=("exp",))},
        {"token": token(drop=("sub",))},
        {"token": token(drop=("locations",))},
        {"token": token(role="service", sub="action-server")},
        {"token": token(secret="s" * 40, algorithm="HS512")},  # not the fixed algorithm
        {"token": jwt.encode({"sub": "x", "role": "counsellor", "locations": [], "aud": "webchat"}, None,
                             algorithm="none")},
    ],
    ids=["no-auth", "empty-auth", "empty-token", "garbage", "wrong-key", "dev-key", "hmac-with-public-key",
         "expired", "no-audience",
         "other-audience", "no-exp", "no-sub", "no-locations", "service-role", "hs512", "alg-none"],
)
async def test_connect_without_valid_token_is_refused(server, auth) -> None:
    assert await raw_connect(server[0], auth) == "refused"


async def test_connect_with_a_valid_token_is_accepted(server) -> None:
    assert await raw_connect(server[0], {"token": token()}) == "connected"


async def test_connect_from_another_origin_is_refused(server) -> None:
    assert await raw_connect(server[0], {"token": token()}, origin="https://evil.example") == "origin refused"


async def test_connect_with_token_and_message_metadata_comes_from_token(server, clients) -> None:
    _, collector, _ = server
    client = new_client(server, clients)
    await client.connect({"token": token(sub="staff-abc", locations=["TERAPEL", "BUDEL"])})
    session_id = await client.session()
    await client.sio.emit("user_uttered", {
        "message": "een bewoonster wordt bedreigd",
        "session_id": session_id,
        # the client tries to claim another identity: ignored
        "metadata": {"staff_id": "someone-else", "location": "ZWOLLE", "channel": "rest"},
        "customData": {"location": "ZWOLLE"},
    })
    name, reply = await client.next()
    assert name == "bot_uttered"
    assert reply["text"] == "ontvangen: een bewoonster wordt bedreigd\n\nBron: testbron"
    assert [b["title"] for b in reply["quick_replies"]] == ["Ja", "Nee"]
    assert [b["payload"] for b in reply["quick_replies"]] == ["/affirm", "/deny"]
    [message] = collector.messages
    assert message.metadata == {"staff_id": "staff-abc", "location": "TERAPEL", "channel": "webchat"}
    assert message.sender_id == session_id
    assert message.input_channel == "webchat"


async def test_metadata_as_json_string_is_ignored_too(server, clients) -> None:
    _, collector, _ = server
    client = new_client(server, clients)
    await client.connect({"token": token(sub="staff-json")})
    session_id = await client.session()
    await client.sio.emit("user_uttered", {"message": "hallo", "session_id": session_id,
                                           "metadata": '{"location": "ZWOLLE", "staff_id": "x"}'})
    await client.next()
    assert collector.messages[0].metadata == {"staff_id": "staff-json", "location": "TERAPEL", "channel": "webchat"}


async def test_token_without_location_sends_no_location(server, clients) -> None:
    _, collector, _ = server
    client = new_client(server, clients)
    await client.connect({"token": token(sub="admin-1", role="admin", locations=[])})
    session_id = await client.session()
    await client.sio.emit("user_uttered", {"message": "hallo", "session_id": session_id,
                                           "metadata": {"location": "ZWOLLE"}})
    await client.next()
    assert collector.messages[0].metadata == {"staff_id": "admin-1", "channel": "webchat"}


# -- sessions bound to the user


async def test_session_ids_are_bound_to_the_user(server, clients) -> None:
    alice = new_client(server, clients)
    await alice.connect({"token": token(sub="alice")})
    alice_session = await alice.session()
    assert SessionIds(PUBLIC_RAW).belongs_to(alice_session, "alice")
    assert not SessionIds(PUBLIC_RAW).belongs_to(alice_session, "bob")

    # Alice again (a reload, a second tab): her own session id is accepted.
    alice2 = new_client(server, clients)
    await alice2.connect({"token": token(sub="alice")})
    assert await alice2.session(alice_session) == alice_session


async def test_session_request_for_another_users_session_is_refused(server, clients) -> None:
    _, collector, _ = server
    alice = new_client(server, clients)
    await alice.connect({"token": token(sub="alice")})
    alice_session = await alice.session()

    mallory = new_client(server, clients)
    await mallory.connect({"token": token(sub="mallory")})
    await mallory.sio.emit("session_request", {"session_id": alice_session})
    assert await mallory.next() == ("session_refused", {"error": "not_your_session"})
    # made-up ids and ids of the wrong shape are refused as well
    for forged in ("wc-" + "0" * 24 + "-" + "1" * 32, "alice", "../" + alice_session, 42):
        await mallory.sio.emit("session_request", {"session_id": forged})
        assert (await mallory.next())[0] == "session_refused"

    # Mallory's messages naming Alice's session are dropped, and Mallory never
    # receives Alice's replies.
    own = await mallory.session()
    await mallory.sio.emit("user_uttered", {"message": "laat zien", "session_id": alice_session})
    assert await mallory.next() == ("session_refused", {"error": "not_your_session"})
    await alice.sio.emit("user_uttered", {"message": "vertrouwelijk", "session_id": alice_session})
    name, reply = await alice.next()
    assert (name, reply["text"]) == ("bot_uttered", "ontvangen: vertrouwelijk\n\nBron: testbron")
    await mallory.nothing()
    assert [(m.sender_id, m.metadata["staff_id"]) for m in collector.messages] == [(alice_session, "alice")]
    assert own != alice_session


async def test_message_before_session_request_is_not_processed(server, clients) -> None:
    _, collector, _ = server
    client = new_client(server, clients)
    await client.connect({"token": token()})
    await client.sio.emit("user_uttered", {"message": "hallo", "session_id": "wc-anything"})
    assert await client.next() == ("session_refused", {"error": "no_session"})
    assert collector.messages == []


async def test_message_after_token_expiry_is_refused(server, clients) -> None:
    _, collector, channel = server
    client = new_client(server, clients)
    await client.connect({"token": token()})
    session_id = await client.session()
    channel.clock = lambda: 4_000_000_000.0  # far after the token's exp
    await client.sio.emit("user_uttered", {"message": "hallo", "session_id": session_id})
    assert await client.next() == ("session_expired", {"error": "token_expired"})
    assert collector.messages == []


# -- configuration


def test_public_key_is_required_in_production_and_origins_configurable() -> None:
    with pytest.raises(ValueError, match="COA_CHAT_TOKEN_PUBLIC_KEY"):
        WebChatInput(environ={"COA_ENV": "production"})
    with pytest.raises(ValueError, match="COA_CHAT_TOKEN_PUBLIC_KEY"):
        WebChatInput(environ={}, production=True)  # `env: production` in the credentials, without COA_ENV
    assert WebChatInput(environ=ENV).allowed_origins == list(DEFAULT_ORIGINS)
    env = {**ENV, "COA_WEBCHAT_ALLOWED_ORIGINS": "https://chat.coa.example/, https://x.example"}
    assert WebChatInput(environ=env).allowed_origins == ["https://chat.coa.example", "https://x.example"]
    assert WebChatInput(allowed_origins=["https://a.example"], environ=env).allowed_origins == ["https://a.example"]
    with pytest.raises(ValueError, match=r"\*"):
        WebChatInput(allowed_origins="*", environ=env)


def test_from_credentials_and_name() -> None:
    channel = WebChatInput.from_credentials({"socketio_path": "/socket.io", "allowed_origins": "http://h:1"})
    assert isinstance(channel, WebChatInput)
    assert channel.name() == "webchat"
    assert channel.allowed_origins == ["http://h:1"]
    assert channel.session_persistence is True


def test_production_refuses_the_development_key_and_the_apis_secrets() -> None:
    dev_public = Ed25519PrivateKey.from_private_bytes(DEV_CHAT_KEY_SEED).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    production = {"COA_ENV": "production"}
    with pytest.raises(ValueError, match="development chat token key"):
        WebChatInput(environ={**production, "COA_CHAT_TOKEN_PUBLIC_KEY": dev_public})
    for name in ("COA_JWT_SECRET", "COA_CHAT_TOKEN_PRIVATE_KEY"):
        with pytest.raises(ValueError, match=name):
            WebChatInput(environ={**production, **ENV, name: "x" * 40})
    private_pem = SIGNING_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()).decode()
    with pytest.raises(ValueError, match="public key"):  # the private key by mistake
        WebChatInput(environ={"COA_CHAT_TOKEN_PUBLIC_KEY": private_pem})
    assert WebChatInput(environ={**production, **ENV}).verifier.verify(token(sub="s")).sub == "s"
    # Development without a key: the API's development key pair, so `make run` needs no set-up.
    dev_token = token(secret=Ed25519PrivateKey.from_private_bytes(DEV_CHAT_KEY_SEED))
    assert WebChatInput(environ={}).verifier.verify(dev_token).sub == "staff-terapel-1"


def test_verifier_fixed_algorithm_and_audience() -> None:
    verifier = TokenVerifier(PUBLIC_KEY)
    identity = verifier.verify(token(sub="s", locations=["terapel"]))
    assert (identity.sub, identity.location, identity.role) == ("s", "TERAPEL", "counsellor")
    with pytest.raises(WebChatAuthError):
        verifier.verify(token(secret="s" * 40, algorithm="HS384"))
    with pytest.raises(WebChatAuthError):
        verifier.verify(token(aud=None))


async def test_a_long_message_is_cut_and_a_100_kb_packet_never_reaches_rasa(server, clients) -> None:
    """Issue 14: every channel has a message size limit."""
    _, collector, _ = server
    client = new_client(server, clients)
    await client.connect({"token": token(sub="staff-long")})
    session_id = await client.session()
    before = len(collector.messages)
    await client.sio.emit("user_uttered", {"message": "a" * 10_000, "session_id": session_id})
    assert (await client.next())[0] == "bot_uttered"
    assert [len(m.text) for m in collector.messages[before:]] == [4000]
    await client.sio.emit("user_uttered", {"message": "b" * 100_000, "session_id": session_id})
    await client.nothing(within=1.0)
    assert all(len(m.text) <= 4000 and not m.text.startswith("b") for m in collector.messages[before + 1:])

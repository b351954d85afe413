"""The chat page and the socket token (httpx, ASGI): POST /api/v1/auth/chat-token
needs the session cookie plus the CSRF header (or a bearer token), answers a
15-minute HS256 token with audience "webchat" that the API itself refuses;
GET /chat for logged-in staff with a CSP that allows only the Rasa socket origin."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth.chat_token import CHAT_AUDIENCE, create_chat_token, signing_key
from api.auth.cookies import CSRF_COOKIE, SESSION_COOKIE
from api.auth.models import UserAccount
from api.auth.schemas import User
from api.auth.service import create_token
from api.config import get_settings
from api.knowledge_ref import get_knowledge
from api.web.chat import chat_csp, rasa_public_origin
from api.web.setup import VENDOR

from .conftest import login

TOKEN_URL = "/api/v1/auth/chat-token"
COUNSELLOR = ("begeleider.terapel", "begeleider-demo")
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def decode_chat(token: str) -> dict:
    return jwt.decode(token, signing_key(get_settings()).public_key(), algorithms=["EdDSA"], audience=CHAT_AUDIENCE,
                      options={"require": ["exp", "iat", "sub", "aud", "role", "locations"]})


@pytest.fixture
async def counsellor(client: httpx.AsyncClient, seeded: Session) -> httpx.AsyncClient:
    response = await login(client, *COUNSELLOR, next_path="/chat")
    assert response.status_code == 303 and response.headers["location"] == "/chat"
    return client


def staff_id_of(session: Session, username: str) -> str:
    return session.scalar(select(UserAccount.staff_id).where(UserAccount.username == username))


# -- POST /api/v1/auth/chat-token


async def test_chat_token_with_cookie_and_csrf_header(counsellor: httpx.AsyncClient, seeded: Session) -> None:
    page = await counsellor.get("/chat")
    csrf = META_CSRF.search(page.text).group(1)
    assert csrf == counsellor.cookies[CSRF_COOKIE]
    response = await counsellor.post(TOKEN_URL, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["audience"] == "webchat"
    assert 14 * 60 <= body["expires_in"] <= 15 * 60
    claims = decode_chat(body["token"])
    assert claims["sub"] == staff_id_of(seeded, "begeleider.terapel")
    assert claims["role"] == "counsellor"
    assert claims["locations"] == ["TERAPEL"]
    assert claims["exp"] - claims["iat"] == 15 * 60
    # Issue 14: the chat token has its own asymmetric key.
    assert jwt.get_unverified_header(body["token"])["alg"] == "EdDSA"


async def test_chat_token_needs_the_csrf_header_with_a_cookie(counsellor: httpx.AsyncClient) -> None:
    assert (await counsellor.post(TOKEN_URL)).status_code == 403
    assert (await counsellor.post(TOKEN_URL, headers={"X-CSRF-Token": "wrong"})).status_code == 403


async def test_chat_token_needs_a_login(client: httpx.AsyncClient, seeded: Session) -> None:
    assert (await client.post(TOKEN_URL)).status_code == 401
    client.cookies.set(SESSION_COOKIE, "not-a-jwt")
    client.cookies.set(CSRF_COOKIE, "x")
    assert (await client.post(TOKEN_URL, headers={"X-CSRF-Token": "x"})).status_code == 401


async def test_chat_token_with_a_bearer_token_and_not_for_the_service(client: httpx.AsyncClient, auth) -> None:
    response = await client.post(TOKEN_URL, headers=auth("supervisor", "BUDEL", "ZWOLLE", sub="sup-1"))
    assert response.status_code == 200
    claims = decode_chat(response.json()["token"])
    assert (claims["sub"], claims["role"], claims["locations"]) == ("sup-1", "supervisor", ["BUDEL", "ZWOLLE"])
    assert (await client.post(TOKEN_URL, headers=auth("service", sub="action-server"))).status_code == 403
    assert (await client.get(TOKEN_URL, headers=auth("counsellor", "TERAPEL"))).status_code == 405


async def test_a_chat_token_does_not_work_on_the_api(client: httpx.AsyncClient, auth) -> None:
    response = await client.post(TOKEN_URL, headers=auth("supervisor", "TERAPEL"))
    chat = response.json()["token"]
    for path in ("/api/v1/incidents", "/api/v1/locations"):
        assert (await client.get(path, headers={"Authorization": f"Bearer {chat}"})).status_code == 401
    # nor can it mint new chat tokens
    assert (await client.post(TOKEN_URL, headers={"Authorization": f"Bearer {chat}"})).status_code == 401


def test_chat_token_never_outlives_the_session() -> None:
    now = datetime.now(UTC)
    user = User(sub="s", role="counsellor", locations=("TERAPEL",))
    token, expires_in = create_chat_token(get_settings(), user, now=now, not_after=now + timedelta(minutes=3))
    assert expires_in == 180
    assert decode_chat(token)["exp"] == int((now + timedelta(minutes=3)).timestamp())


# -- GET /chat


async def test_chat_page_redirects_to_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/chat")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/chat"


async def test_chat_page_for_a_counsellor(counsellor: httpx.AsyncClient) -> None:
    response = await counsellor.get("/chat")
    assert response.status_code == 200
    page = response.text
    assert response.headers["cache-control"] == "no-store"
    # the location from the account, in the header of the chat
    assert "Ter Apel" in page and "(TERAPEL, uit uw account)" in page
    # the socket library from our own origin, our scripts as files, nothing inline
    assert '<script src="/static/vendor/socket.io/socket.io.min.js" defer></script>' in page
    assert '<script src="/static/js/chat.js" defer></script>' in page
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []
    assert not re.search(r"<[^>]+\son[a-z]+=", page)  # no event-handler attributes
    assert 'data-socket-url="http://127.0.0.1:5005"' in page
    # accessible: live log, labelled input, status
    assert 'role="log" aria-live="polite"' in page
    assert '<label for="chat-input"' in page
    assert 'role="status"' in page
    assert '<a href="/chat" aria-current="page">Chat</a>' in page
    policy = response.headers["content-security-policy"]
    assert "connect-src 'self' http://127.0.0.1:5005 ws://127.0.0.1:5005" in policy
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy


async def test_chat_page_opens_with_the_topics_from_the_knowledge_and_the_112_line(
        counsellor: httpx.AsyncClient) -> None:
    page = (await counsellor.get("/chat")).text
    assert '<strong>Direct gevaar? Bel eerst <a href="tel:112">112</a>.</strong>' in page
    raw = re.search(r"data-opening='([^']*)'", page)
    assert raw, "the opening choices are on the page"
    choices = json.loads(html.unescape(raw.group(1)))
    knowledge = get_knowledge()
    protocols = {f"/{p.intent}": p.title for p in knowledge.protocols.values()}
    assert {c["payload"]: c["title"] for c in choices if c["payload"] in protocols} == protocols
    assert {"title": "Wanneer meld ik bij Veilig Thuis?",
            "payload": '/vraag_wanneer_melden{"organisation": "veilig_thuis"}'} in choices
    assert '/vraag_stappen{"protocol": "meldcode"}' in {c["payload"] for c in choices}


async def test_chat_page_uses_the_configured_rasa_url(counsellor: httpx.AsyncClient, monkeypatch) -> None:
    monkeypatch.setenv("COA_RASA_PUBLIC_URL", "https://chat.coa.example/")
    response = await counsellor.get("/chat")
    assert 'data-socket-url="https://chat.coa.example"' in response.text
    assert "connect-src 'self' https://chat.coa.example wss://chat.coa.example;" in (
        response.headers["content-security-policy"]
    )


def test_rasa_public_url_is_checked() -> None:
    assert rasa_public_origin("") == "http://127.0.0.1:5005"
    assert rasa_public_origin("http://localhost:5005/path") == "http://localhost:5005"
    for bad in ("javascript:alert(1)", "ftp://x", "http://a b", "http://x;script-src *", "//host", "http://u:p@h"):
        with pytest.raises(ValueError):
            rasa_public_origin(bad)
    assert chat_csp("https://h").count("wss://h") == 1


async def test_the_service_role_gets_no_chat_page(client: httpx.AsyncClient) -> None:
    client.cookies.set(SESSION_COOKIE, create_token(get_settings(), sub="action-server", role="service"))
    assert (await client.get("/chat")).status_code == 403


async def test_nav_has_chat_for_staff(logged_in: httpx.AsyncClient) -> None:
    page = (await logged_in.get("/protocollen")).text
    assert '<a href="/chat">Chat</a>' in page


async def test_socket_io_client_is_served_from_node_modules(counsellor: httpx.AsyncClient) -> None:
    assert VENDOR["socket.io"] == "socket.io-client/dist"
    response = await counsellor.get("/static/vendor/socket.io/socket.io.min.js")
    assert response.status_code == 200
    assert "Socket.IO v4." in response.text[:300]
    for script in ("/static/js/chat.js", "/static/js/chat-format.js", "/static/css/chat.css"):
        assert (await counsellor.get(script)).status_code == 200


def test_chat_tokens_are_signed_with_their_own_asymmetric_key(tmp_path) -> None:
    """Issue 14: an EdDSA token from the configured private key; neither the API's
    secret nor the development key verifies it, and the API refuses it as a login."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from api.auth.schemas import User
    from api.auth.service import InvalidToken, decode_token
    from api.config import Settings

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    (tmp_path / "chat.pem").write_text(pem)
    user = User(sub="stf-1", role="counsellor", locations=("TERAPEL",))
    for settings in (Settings(COA_CHAT_TOKEN_PRIVATE_KEY=pem),
                     Settings(COA_CHAT_TOKEN_PRIVATE_KEY_FILE=str(tmp_path / "chat.pem"))):
        token, _ = create_chat_token(settings, user)
        assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
        claims = jwt.decode(token, key.public_key(), algorithms=["EdDSA"], audience=CHAT_AUDIENCE)
        assert claims["sub"] == "stf-1"
        with pytest.raises(jwt.PyJWTError):
            jwt.decode(token, signing_key(Settings()).public_key(), algorithms=["EdDSA"], audience=CHAT_AUDIENCE)
        with pytest.raises(jwt.PyJWTError):
            jwt.decode(token, settings.jwt_secret, algorithms=["HS256"], audience=CHAT_AUDIENCE)
        with pytest.raises(InvalidToken):
            decode_token(settings, token)

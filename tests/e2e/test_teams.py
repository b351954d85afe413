"""Microsoft Teams, end to end: the real stack (API, action server, Rasa with the
Teams channel) against a local fake Bot Connector (tests/channels/fake_connector.py,
run in the assistant environment because it signs with `cryptography`).

The Rasa server gets the Teams channel through COA_RASA_CREDENTIALS (read by
scripts/stack.py); the variables below are set when this module is imported, i.e.
at collection, before the session's `stack` fixture starts the processes.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from assistant.channels.teams_identity import staff_id
from tests.e2e.conftest import ROOT, make_token

pytestmark = pytest.mark.e2e

API = "http://127.0.0.1:8000/api/v1"
TEAMS_WEBHOOK = "http://127.0.0.1:5005/webhooks/teams/webhook"
REFERENCE = re.compile(r"Referentie[^:]*:\s*\**([A-Z]+-[0-9]+-[A-Z0-9]+)")

APP_ID = "00000000-0000-4000-8000-0000000b07a1"
APP_PASSWORD = "e2e-fake-app-password"
TENANT = "11111111-2222-4333-8444-555555555555"
SALT = "e2e-staff-salt"
AAD_ZWOLLE = "0f1e2d3c-0000-4000-8000-00000000a002"  # ZWOLLE in the example mapping
STAFF_LOCATIONS = ROOT / "assistant" / "channels" / "staff_locations.example.yml"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CONNECTOR_PORT = int(os.environ.get("COA_E2E_TEAMS_CONNECTOR_PORT") or _free_port())
CONNECTOR = f"http://127.0.0.1:{CONNECTOR_PORT}"
os.environ.update({
    "COA_E2E_TEAMS_CONNECTOR_PORT": str(CONNECTOR_PORT),
    "COA_RASA_CREDENTIALS": "tests/channels/credentials.teams.yml",
    "COA_TEAMS_APP_ID": APP_ID,
    "COA_TEAMS_APP_PASSWORD": APP_PASSWORD,
    "COA_TEAMS_TENANT_ID": TENANT,
    "COA_TEAMS_STAFF_ID_SALT": SALT,
    "COA_TEAMS_OPENID_CONFIG_URL": f"{CONNECTOR}/openid",
    "COA_TEAMS_TOKEN_URL": f"{CONNECTOR}/{TENANT}/oauth2/v2.0/token",
    "COA_TEAMS_TRUSTED_SERVICE_URLS": f"{CONNECTOR}/",
    "COA_TEAMS_STAFF_LOCATIONS": str(STAFF_LOCATIONS),
})


@pytest.fixture(scope="module")
def connector() -> Iterator[str]:
    log = (ROOT / "test-artifacts").joinpath("fake-bot-connector.log")
    log.parent.mkdir(exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(ROOT / ".venv-rasa" / "bin" / "python"), "-m", "tests.channels.fake_connector",
             "--port", str(CONNECTOR_PORT), "--app-id", APP_ID, "--app-password", APP_PASSWORD],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{CONNECTOR}/_test/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"fake Bot Connector did not start:\n{log.read_text()}")
                time.sleep(0.2)
            yield CONNECTOR
        finally:
            process.terminate()
            process.wait(timeout=10)


def sign(**kwargs: Any) -> str:
    kwargs.setdefault("service_url", f"{CONNECTOR}/")
    response = httpx.post(f"{CONNECTOR}/_test/token", json=kwargs, timeout=10)
    response.raise_for_status()
    return response.json()["token"]


def replies(conversation_id: str) -> list[dict]:
    response = httpx.get(f"{CONNECTOR}/_test/replies", params={"conversation": conversation_id}, timeout=10)
    response.raise_for_status()
    return [r["activity"] for r in response.json()["replies"]]


def texts(activities: list[dict]) -> str:
    parts = []
    for activity in activities:
        parts.append(activity.get("text") or "")
        parts.extend(a.get("content", {}).get("text") or "" for a in activity.get("attachments", []))
    return "\n".join(p for p in parts if p)


def card_buttons(activities: list[dict]) -> list[dict]:
    return [b for a in activities for c in a.get("attachments", [])
            if c.get("contentType") == "application/vnd.microsoft.card.hero"
            for b in c.get("content", {}).get("buttons", [])]


class TeamsChat:
    """A counsellor in a personal Teams chat with the bot, as the Bot Connector delivers it."""

    def __init__(self, aad_object_id: str = AAD_ZWOLLE) -> None:
        self.conversation_id = "a:e2e-" + uuid.uuid4().hex
        self.aad_object_id = aad_object_id
        self.seen = 0
        self.transcript: list[tuple[str, list[dict]]] = []

    def activity(self, **fields: Any) -> dict:
        body = {
            "type": "message", "id": uuid.uuid4().hex, "channelId": "msteams",
            "serviceUrl": f"{CONNECTOR}/",
            "from": {"id": "29:e2e-user", "name": "E2E Begeleider", "aadObjectId": self.aad_object_id},
            "recipient": {"id": f"28:{APP_ID}", "name": "COA casusbegeleider"},
            "conversation": {"id": self.conversation_id, "conversationType": "personal", "tenantId": TENANT},
            "channelData": {"tenant": {"id": TENANT}},
        }
        body.update(fields)
        return body

    def post(self, body: dict, token: str | None = "valid") -> httpx.Response:
        headers = {} if token is None else {"Authorization": f"Bearer {sign() if token == 'valid' else token}"}
        return httpx.post(TEAMS_WEBHOOK, json=body, headers=headers, timeout=30)

    def wait(self, timeout: float = 60.0, settle: float = 1.0) -> list[dict]:
        """The replies after the last turn, once no new one has arrived for `settle` seconds."""
        deadline = time.monotonic() + timeout
        count, changed = self.seen, time.monotonic()
        while time.monotonic() < deadline:
            current = replies(self.conversation_id)
            if len(current) != count:
                count, changed = len(current), time.monotonic()
            elif count > self.seen and time.monotonic() - changed >= settle:
                new = current[self.seen:]
                self.seen = count
                return new
            time.sleep(0.2)
        raise AssertionError(f"no reply in {timeout} s:\n{self.dump()}")

    def say(self, text: str) -> list[dict]:
        response = self.post(self.activity(text=text))
        assert response.status_code == 202, response.text
        new = self.wait()
        self.transcript.append((text, new))
        return new

    def click(self, button: dict) -> list[dict]:
        """A hero-card button click as Teams delivers it."""
        if button["type"] == "messageBack":
            body = self.activity(text=button.get("text"), value=button.get("value"))
        else:  # imBack
            body = self.activity(text=button["value"])
        response = self.post(body)
        assert response.status_code == 202, response.text
        new = self.wait()
        self.transcript.append((f"[{button['title']}]", new))
        return new

    def dump(self) -> str:
        lines = []
        for said, answer in self.transcript:
            lines.append(f"> {said}")
            lines.extend(f"< {texts([a])} {[b['title'] for b in card_buttons([a])]}" for a in answer)
        return "\n".join(lines)


def test_signed_message_gets_a_hero_card_with_working_buttons(stack, connector) -> None:
    chat = TeamsChat()
    first = chat.say("een bewoonster wordt bedreigd door haar broer, ze moet trouwen")
    buttons = card_buttons(first)
    assert [b["title"] for b in buttons] == ["Ja", "Nee"], chat.dump()
    assert all(b["type"] == "messageBack" for b in buttons)
    assert [b["value"]["payload"] for b in buttons] == ["/affirm", "/deny"]

    after_yes = chat.click(buttons[0])
    assert "112" in texts(after_yes), chat.dump()
    assert card_buttons(after_yes), "the protocol continues with the next question:\n" + chat.dump()


@pytest.mark.parametrize("token", [None, "forged", "rogue", "none", "HS256-public", "expired", "other-audience"])
def test_unsigned_or_wrongly_signed_activities_get_401_and_no_reply(stack, connector, token) -> None:
    chat = TeamsChat()
    bad = {
        None: None,
        "forged": "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl",
        "rogue": sign(key="rogue"),
        "none": sign(alg="none"),
        "HS256-public": sign(alg="HS256-public"),
        "expired": sign(expires_in=-3600),
        "other-audience": sign(audience="another-bot"),
    }[token]
    response = chat.post(chat.activity(text="een bewoonster wordt bedreigd door haar broer"), token=bad)
    assert response.status_code == 401
    time.sleep(2)
    assert replies(chat.conversation_id) == []


def test_whole_protocol_through_teams_is_recorded_with_staff_id_and_mapped_location(stack, connector) -> None:
    chat = TeamsChat()
    installed = chat.post(chat.activity(type="conversationUpdate",
                                        membersAdded=[{"id": f"28:{APP_ID}"}]))
    assert installed.status_code == 202
    greeting = chat.wait()
    assert "casusbegeleider" in texts(greeting), "the assistant greets when it is added"

    answer = chat.say("een bewoonster wordt bedreigd door haar broer, ze moet trouwen")
    for _ in range(30):
        if REFERENCE.search(texts(answer)):
            break
        buttons = card_buttons(answer)
        answer = chat.click(buttons[0]) if buttons else chat.say("dat weet ik niet")
    else:
        raise AssertionError(f"no recorded decision:\n{chat.dump()}")
    reference = REFERENCE.search(texts(answer)).group(1)

    token = make_token("supervisor", "ZWOLLE")
    # Teams conversations are namespaced (issue 14): teams-<Bot Framework conversation id>.
    response = httpx.get(f"{API}/incidents", params={"conversation_id": "teams-" + chat.conversation_id},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert body["total"] == 1, chat.dump()
    incident = body["items"][0]
    assert incident["reference"] == reference
    assert incident["location"] == "ZWOLLE", "the location comes from the staff mapping, not from the chat"
    assert incident["staff_id"] == staff_id(SALT, TENANT, AAD_ZWOLLE)
    assert AAD_ZWOLLE not in str(incident)
    assert incident["channel"] == "teams"
    assert incident["protocol"] == "eergerelateerd_geweld"
    assert "veilig_thuis" in incident["referrals"]

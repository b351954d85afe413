"""Fixtures for the action-server tests: the real knowledge, a real local HTTP API
stand-in, and rasa_sdk trackers built with ``Tracker.from_dict``."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from actions import api_client, knowledge_cache, outbox
from actions.api_client import ApiError
from actions.engine import ProtocolEngine
from knowledge import Knowledge, load_knowledge, load_protocol_file
from tests.actions.helpers import HOLDERS, LOCATIONS, NUMBER_PROTOCOL, SERVICE_TOKEN


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return load_knowledge()


@pytest.fixture(scope="session")
def engine(knowledge: Knowledge) -> ProtocolEngine:
    return ProtocolEngine(knowledge)


@pytest.fixture(scope="session")
def test_knowledge(knowledge: Knowledge, tmp_path_factory: pytest.TempPathFactory) -> Knowledge:
    """The real knowledge plus a small protocol with a number step and a leading instruction."""
    path = Path(tmp_path_factory.mktemp("protocols")) / "testprotocol.yml"
    path.write_text(NUMBER_PROTOCOL, encoding="utf-8")
    extra = load_protocol_file(path, knowledge.organisations, knowledge.sources, check_invariants=False)
    return Knowledge(protocols={**knowledge.protocols, extra.id: extra},
                     organisations=knowledge.organisations, sources=knowledge.sources)


@pytest.fixture(autouse=True)
def _real_knowledge_in_actions(knowledge: Knowledge) -> Iterator[None]:
    knowledge_cache.set_knowledge(knowledge)
    yield
    knowledge_cache.set_knowledge(None)


@pytest.fixture(autouse=True)
def _own_outbox_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
                     ) -> Iterator[Path]:
    """Every test has its own outbox file (never the repository's var/outbox.db), and
    the session events the actions store stay in it, undelivered, for the test to
    read (a module with ``DELIVER_SESSION_EVENTS = True`` delivers them)."""
    path = tmp_path / "outbox.db"
    monkeypatch.setenv("COA_OUTBOX_PATH", str(path))
    if not getattr(request.module, "DELIVER_SESSION_EVENTS", False):
        def held(payload: dict[str, Any]) -> dict[str, Any]:
            raise ApiError("session events are held in the action tests")

        def held_batch(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
            raise ApiError("session events are held in the action tests")

        monkeypatch.setattr(outbox, "_session_event_sender", held)
        monkeypatch.setattr(outbox, "_session_event_batch_sender", held_batch)
    outbox.close_outbox()
    yield path
    outbox.close_outbox()


@pytest.fixture
def outbox_file(_own_outbox_file: Path) -> Path:
    """This test's outbox file (``COA_OUTBOX_PATH``)."""
    return _own_outbox_file


# --------------------------------------------------------------------------- fake API


@dataclass
class FakeApi:
    """A real HTTP server speaking the parts of the API the action server uses."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_status: int | None = None
    fail_body: Any = None
    #: Incident posts answered with 500 before the API works again (a momentary lock).
    fail_incident_posts: int = 0
    delay: float = 0.0
    #: Session events stored, by idempotency key (single and batch route).
    session_events: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Session events (by key) the API refuses with 422, as it refuses an unknown location.
    refuse_events: set[str] = field(default_factory=set)
    #: What ``GET /api/v1/chat/follow-ups`` answers (a counsellor's due follow-ups).
    due_follow_ups: list[dict[str, Any]] = field(default_factory=list)

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r["method"] == method and r["path"] == path)


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep the test output quiet
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = b"" if status == 204 else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self, body: Any = None) -> bool:
            api.requests.append({"method": self.command, "path": self.path, "body": body,
                                 "authorization": self.headers.get("Authorization"),
                                 "arrived": time.monotonic()})
            if api.delay:
                threading.Event().wait(api.delay)
            if self.headers.get("Authorization") != f"Bearer {SERVICE_TOKEN}":
                self._reply(401, {"detail": "not authenticated"})
                return False
            if api.fail_status:
                self._reply(api.fail_status, api.fail_body or {"detail": "broken on purpose"})
                return False
            if api.fail_incident_posts and self.command == "POST" and self.path == "/api/v1/incidents":
                api.fail_incident_posts -= 1
                self._reply(500, {"detail": "database error; nothing was stored"})
                return False
            return True

        def do_GET(self) -> None:
            if not self._record():
                return
            if self.path == "/api/v1/locations":
                self._reply(200, LOCATIONS)
                return
            if self.path.startswith("/api/v1/chat/follow-ups?"):
                due = api.due_follow_ups
                self._reply(200, {"items": due, "total": len(due), "open": len(due), "overdue": 0})
                return
            match = re.fullmatch(r"/api/v1/locations/([^/]+)/key-positions", self.path)
            if match and match.group(1) in HOLDERS:
                self._reply(200, HOLDERS[match.group(1)])
                return
            self._reply(404, {"detail": "not found"})

        def do_PUT(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if self._record(json.loads(self.rfile.read(length) or b"null")):
                self._reply(204 if self.path == "/api/v1/teams/conversations" else 404, None)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            if not self._record(body):
                return
            if self.path == "/api/v1/sessions/events":
                stored = _store_event(api, body, 0)
                if isinstance(stored, list):
                    self._reply(422, {"detail": stored})
                    return
                self._reply(201 if stored.pop("_created") else 200, stored)
                return
            if self.path == "/api/v1/sessions/events/batch":
                events = body.get("events") if isinstance(body, dict) else None
                if not isinstance(events, list) or not 1 <= len(events) <= 100:
                    self._reply(422, {"detail": [{"loc": ["body", "events"], "msg": "1..100 events"}]})
                    return
                before = dict(api.session_events)
                out = []
                for index, event in enumerate(events):
                    stored = _store_event(api, event, index, batch=True)
                    if isinstance(stored, list):  # all or nothing
                        api.session_events.clear()
                        api.session_events.update(before)
                        self._reply(422, {"detail": stored})
                        return
                    out.append(stored)
                created = sum(1 for e in out if e.pop("_created"))
                self._reply(200, {"events": out, "created": created})
                return
            if self.path != "/api/v1/incidents":
                self._reply(404, {"detail": "not found"})
                return
            key = body["idempotency_key"]
            if key in api.incidents:
                self._reply(200, api.incidents[key])
                return
            incident = {**body, "id": f"id-{len(api.incidents) + 1}",
                        "reference": f"EGG-20261129-{len(api.incidents) + 1:04d}",
                        "review_status": "nieuw", "created_at": "2026-11-29T10:00:00Z"}
            api.incidents[key] = incident
            self._reply(201, incident)

    return Handler


def _store_event(api: FakeApi, body: Any, index: int, *, batch: bool = False) -> dict[str, Any] | list[dict]:
    """One session event as the API stores it (idempotent by key, ``seq`` per
    conversation), or the 422 detail when ``api.refuse_events`` names its key."""
    key = body.get("idempotency_key") if isinstance(body, dict) else None
    if not key or key in api.refuse_events:
        where = ["body", "events", index, "location"] if batch else ["body", "location"]
        return [{"loc": where, "msg": f"event {index}: refused on purpose" if batch else "refused on purpose"}]
    if key in api.session_events:
        return {**api.session_events[key], "_created": False}
    conversation = body.get("conversation_id")
    seq = 1 + sum(1 for e in api.session_events.values() if e["conversation_id"] == conversation)
    stored = {"session_id": f"s-{conversation}", "seq": seq, "conversation_id": conversation,
              "idempotency_key": key, "type": (body.get("event") or {}).get("type")}
    api.session_events[key] = stored
    return {**stored, "_created": True}


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    api = FakeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    monkeypatch.setenv("COA_API_URL", api.url)
    monkeypatch.setenv("COA_SERVICE_TOKEN", SERVICE_TOKEN)
    monkeypatch.setenv("COA_API_TIMEOUT", "2")
    api_client.close_api_client()
    yield api
    api_client.close_api_client()
    server.shutdown()
    server.server_close()


@pytest.fixture
def api_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An API URL on which nothing listens (a port that was just freed)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    monkeypatch.setenv("COA_API_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("COA_SERVICE_TOKEN", SERVICE_TOKEN)
    monkeypatch.setenv("COA_API_TIMEOUT", "1")
    api_client.close_api_client()
    yield
    api_client.close_api_client()

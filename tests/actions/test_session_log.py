"""actions.session_log against a real local HTTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from actions import api_client
from actions.api_client import ApiError
from actions.session_log import SessionEvent, SessionLog, idempotency_key
from tests.actions.helpers import SERVICE_TOKEN


@dataclass
class EventsApi:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: int | None = None
    delay: float = 0.0


@pytest.fixture
def events_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[EventsApi]:
    api = EventsApi()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            api.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
            if api.delay:
                time.sleep(api.delay)
            if self.headers.get("Authorization") != f"Bearer {SERVICE_TOKEN}":
                return self._reply(401, {"detail": "not authenticated"})
            if api.status:
                return self._reply(api.status, {"detail": "broken on purpose"})
            if self.path != "/api/v1/sessions/events":
                return self._reply(404, {"detail": "not found"})
            key = body["idempotency_key"]
            if key in api.stored:
                return self._reply(200, api.stored[key])
            event = {"session_id": "s-1", "seq": len(api.stored) + 1, **body["event"]}
            api.stored[key] = event
            return self._reply(201, event)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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


COMMON = {"location": "TERAPEL", "protocol": "eergerelateerd_geweld", "protocol_version": "1.0.0"}


def test_record_posts_the_event_with_the_service_token(events_api: EventsApi) -> None:
    log = SessionLog()
    stored = log.record(
        "conv-1", marker=3, staff_id="stf-1", channel="rest",
        event=SessionEvent("question_asked", step="acuut_gevaar", text="Is er nu direct gevaar?"), **COMMON,
    )  # fmt: skip
    assert stored["seq"] == 1
    (request,) = events_api.requests
    assert request["auth"] == f"Bearer {SERVICE_TOKEN}"
    body = request["body"]
    assert body["conversation_id"] == "conv-1" and body["staff_id"] == "stf-1" and body["channel"] == "rest"
    assert body["event"] == {"type": "question_asked", "step": "acuut_gevaar", "text": "Is er nu direct gevaar?"}
    assert body["idempotency_key"].startswith("sl-")


def test_a_retry_uses_the_same_key_and_a_new_moment_a_new_one(events_api: EventsApi) -> None:
    log = SessionLog()
    event = SessionEvent("answer_given", step="acuut_gevaar", answer="nee")
    first = log.record("conv-1", marker=4, event=event, **COMMON)
    again = log.record("conv-1", marker=4, event=event, **COMMON)
    later = log.record("conv-1", marker=9, event=event, **COMMON)
    assert first == again and later["seq"] == 2
    assert idempotency_key("conv-1", 4, event) != idempotency_key("conv-2", 4, event)


def test_error_status_raises_and_quiet_variants_return_none(events_api: EventsApi) -> None:
    events_api.status = 422
    log = SessionLog()
    with pytest.raises(ApiError, match="422"):
        log.record("conv-1", marker=1, event=SessionEvent("started"), **COMMON)
    assert log.record_quietly("conv-1", marker=1, event=SessionEvent("started"), **COMMON) is None


async def test_arecord_never_raises(events_api: EventsApi) -> None:
    log = SessionLog()
    stored = await log.arecord("conv-1", marker=1, event=SessionEvent("started"), **COMMON)
    assert stored is not None and stored["seq"] == 1
    events_api.status = 500
    assert await log.arecord("conv-1", marker=2, event=SessionEvent("stopped"), **COMMON) is None


def test_timeout_is_respected(events_api: EventsApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COA_API_TIMEOUT", "0.2")
    events_api.delay = 0.6
    started = time.monotonic()
    assert SessionLog().record_quietly("conv-1", marker=1, event=SessionEvent("started"), **COMMON) is None
    assert time.monotonic() - started < 0.55


def test_unknown_event_type_is_refused_before_any_request(events_api: EventsApi) -> None:
    with pytest.raises(ValueError, match="unknown session event type"):
        SessionEvent("gezellig")
    assert events_api.requests == []


def test_each_protocol_run_sends_its_own_run_id(events_api: EventsApi) -> None:
    log = SessionLog()
    log.record("conv-1", marker=2, run_id=2, event=SessionEvent("started"), **COMMON)
    log.record("conv-1", marker=5, run_id=2, event=SessionEvent("outcome", outcome="melding"), **COMMON)
    second = {**COMMON, "protocol": "seksueel_geweld"}
    log.record("conv-1", marker=7, run_id=7, event=SessionEvent("started"), **second)
    assert [request["body"]["run_id"] for request in events_api.requests] == ["2", "2", "7"]
    log.record("conv-2", marker=1, event=SessionEvent("started"), **COMMON)
    assert "run_id" not in events_api.requests[-1]["body"]  # the API's default run

"""The durable outbox against a real local HTTP server that is down, fails or hangs."""

from __future__ import annotations

import os
import random
import socket
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from actions import api_client, outbox
from actions.api_client import ApiError, get_api_client
from actions.outbox import DELIVERED, PENDING, REJECTED, Outbox, backoff_delay, provisional_reference
from tests.actions.conftest import FakeApi

PAYLOAD = {"idempotency_key": "egg:key-1", "conversation_id": "conv-1", "location": "TERAPEL",
           "protocol": "eergerelateerd_geweld", "protocol_version": "1.0.0", "acute": True,
           "referrals": ["politie", "veilig_thuis"], "steps": [{"step": "acuut_gevaar", "answer": "ja"}],
           "outcome": "melding_veilig_thuis_acuut"}
KEY = PAYLOAD["idempotency_key"]
#: The conftest holds session events back in the other action tests.
DELIVER_SESSION_EVENTS = True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Outbox]:
    created = Outbox(tmp_path / "outbox.db", base_delay=0.05, max_delay=0.2, idle_poll=0.1)
    yield created
    created.close()


def posts(api: FakeApi, path: str = "/api/v1/incidents") -> list[dict]:
    return [r for r in api.requests if r["method"] == "POST" and r["path"] == path]


def api_goes_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COA_API_URL", f"http://127.0.0.1:{free_port()}")


def api_comes_back(api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COA_API_URL", api.url)


# --------------------------------------------------------------------------- storage


def test_the_file_is_sqlite_wal_owner_only_one_row_per_key(box: Outbox) -> None:
    box.enqueue("incident", KEY, PAYLOAD, wake=False)
    again = box.enqueue("incident", KEY, {**PAYLOAD, "acute": False}, wake=False)
    assert again.payload == PAYLOAD, "a known key is not overwritten"
    assert stat.S_IMODE(os.stat(box.path).st_mode) == 0o600
    with sqlite3.connect(box.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1
        columns = {row[1] for row in conn.execute("PRAGMA table_info(outbox)")}
    assert {"idempotency_key", "payload", "attempts", "next_attempt_at", "delivered_at"} <= columns


def test_an_unknown_kind_is_refused(box: Outbox) -> None:
    with pytest.raises(ValueError, match="no sender for outbox kind"):
        box.enqueue("fax", "k", {})


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    for attempts, full in [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (9, 30.0), (40, 30.0)]:
        delays = [backoff_delay(attempts, 1.0, 30.0, rng) for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays)
        assert len(set(delays)) > 1, "jittered"


def test_provisional_reference_is_stable_and_short() -> None:
    assert provisional_reference(KEY) == provisional_reference(KEY)
    assert provisional_reference(KEY).startswith("VOORLOPIG-") and len(provisional_reference(KEY)) == 18
    assert provisional_reference(KEY) != provisional_reference(KEY + "x")


# --------------------------------------------------------------------------- delivery


def test_delivered_at_once_when_the_api_is_up(fake_api: FakeApi, box: Outbox) -> None:
    box.enqueue("incident", KEY, PAYLOAD, wake=False)
    item = box.deliver(KEY)
    assert item.status == DELIVERED and item.attempts == 1
    assert item.result == {"id": "id-1", "reference": "EGG-20261129-0001"}
    assert item.payload == {}, "the special-category payload is not kept after delivery"
    assert box.deliver(KEY).status == DELIVERED
    assert len(posts(fake_api)) == 1


def test_api_down_keeps_it_and_delivers_once_when_back(fake_api: FakeApi, box: Outbox,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    api_goes_down(monkeypatch)
    box.enqueue("incident", KEY, PAYLOAD, wake=False)
    item = box.deliver(KEY)
    assert item.status == PENDING and item.attempts == 1 and item.last_error
    assert item.payload == PAYLOAD
    assert item.next_attempt_at > time.time() - 1

    box.start()
    wait_for(lambda: box.get(KEY).attempts >= 3)
    assert box.get(KEY).status == PENDING
    assert fake_api.incidents == {}

    api_comes_back(fake_api, monkeypatch)
    wait_for(lambda: box.get(KEY).status == DELIVERED)
    time.sleep(0.3)  # the loop keeps running: nothing is sent twice
    assert len(posts(fake_api)) == 1
    assert len(fake_api.incidents) == 1


def test_server_errors_are_retried_until_accepted(fake_api: FakeApi, box: Outbox) -> None:
    fake_api.fail_status = 500
    box.enqueue("incident", KEY, PAYLOAD)
    box.start()
    wait_for(lambda: len(posts(fake_api)) >= 3)
    assert box.get(KEY).status == PENDING
    fake_api.fail_status = None
    wait_for(lambda: box.get(KEY).status == DELIVERED)
    sent = posts(fake_api)
    assert {r["body"]["idempotency_key"] for r in sent} == {KEY}
    assert len(fake_api.incidents) == 1


def test_a_hanging_api_times_out_and_the_retry_finds_the_incident_that_arrived(
    fake_api: FakeApi, box: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COA_API_TIMEOUT", "0.3")
    fake_api.delay = 1.0  # the request arrives and is stored, the answer comes too late
    box.enqueue("incident", KEY, PAYLOAD, wake=False)
    started = time.monotonic()
    assert box.deliver(KEY).status == PENDING
    assert time.monotonic() - started < 1.0, "the turn is not blocked for long"
    wait_for(lambda: len(fake_api.incidents) == 1)  # it did arrive
    fake_api.delay = 0.0
    box.start()
    wait_for(lambda: box.get(KEY).status == DELIVERED)
    assert len(posts(fake_api)) == 2
    assert len(fake_api.incidents) == 1, "the idempotency key made the retry return the same incident"
    assert box.get(KEY).result["reference"] == "EGG-20261129-0001"


def test_a_new_outbox_on_the_same_file_resumes_delivery(fake_api: FakeApi, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "outbox.db"
    api_goes_down(monkeypatch)
    first = Outbox(path, base_delay=0.05, max_delay=0.2, idle_poll=0.1)
    first.enqueue("incident", KEY, PAYLOAD, wake=False)
    assert first.deliver(KEY).status == PENDING
    first.close()  # the action server stops with the record undelivered

    api_comes_back(fake_api, monkeypatch)
    second = Outbox(path, base_delay=0.05, max_delay=0.2, idle_poll=0.1)
    try:
        assert second.pending_count() == 1
        second.start()
        wait_for(lambda: second.get(KEY).status == DELIVERED)
        assert len(fake_api.incidents) == 1
    finally:
        second.close()


def test_resume_if_pending_starts_the_process_wide_loop(fake_api: FakeApi, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "outbox.db"
    monkeypatch.setenv("COA_OUTBOX_PATH", str(path))
    outbox.close_outbox()
    outbox.resume_if_pending()
    assert not path.exists(), "nothing is created when there is no outbox"

    api_goes_down(monkeypatch)
    earlier = Outbox(path)
    earlier.enqueue("incident", KEY, PAYLOAD, wake=False)
    earlier.deliver(KEY)
    earlier.close()
    api_comes_back(fake_api, monkeypatch)
    try:
        outbox.resume_if_pending()
        # The loop retries after the first backoff (about a second).
        wait_for(lambda: outbox.get_outbox(start=False).get(KEY).status == DELIVERED)
        assert len(fake_api.incidents) == 1
    finally:
        outbox.close_outbox()


def test_a_rejected_record_is_kept_for_an_operator_and_not_retried(fake_api: FakeApi, box: Outbox) -> None:
    fake_api.fail_status = 422
    box.enqueue("incident", KEY, PAYLOAD, wake=False)
    item = box.deliver(KEY)
    assert item.status == REJECTED and item.payload == PAYLOAD
    box.start()
    time.sleep(0.3)
    assert len(posts(fake_api)) == 1
    fake_api.fail_status = None
    assert box.retry_failed() == 1
    wait_for(lambda: box.get(KEY).status == DELIVERED)
    assert len(fake_api.incidents) == 1


def test_a_refused_service_token_is_retried_not_dropped(fake_api: FakeApi, box: Outbox,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COA_SERVICE_TOKEN", "wrong")
    box.enqueue("incident", KEY, PAYLOAD, wake=False)
    assert box.deliver(KEY).status == PENDING


def test_session_events_go_to_the_session_endpoint(fake_api: FakeApi, box: Outbox) -> None:
    event = {"idempotency_key": "sl-1", "conversation_id": "conv-1", "event": {"type": "started"}}
    box.enqueue("session_event", "sl-1", event, wake=False)
    box.deliver("sl-1")
    (sent,) = posts(fake_api, "/api/v1/sessions/events")
    assert sent["body"] == event


def test_custom_senders_can_be_registered(box: Outbox) -> None:
    got: list[dict] = []
    box.register("note", lambda payload: got.append(payload) or {"id": "n1"})
    box.enqueue("note", "n-1", {"x": 1}, wake=False)
    assert box.deliver("n-1").result == {"id": "n1"}
    assert got == [{"x": 1}]


def test_a_sender_bug_does_not_lose_the_record(box: Outbox) -> None:
    def broken(payload: dict) -> dict:
        raise KeyError("bug")

    box.register("note", broken)
    box.enqueue("note", "n-1", {"x": 1}, wake=False)
    item = box.deliver("n-1")
    assert item.status == PENDING and "KeyError" in item.last_error


# --------------------------------------------------------------------------- the API client


def test_after_a_timeout_the_client_fails_fast_but_a_probe_goes_through(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COA_API_TIMEOUT", "0.3")
    fake_api.delay = 0.6
    client = get_api_client()
    with pytest.raises(ApiError) as first:
        client.locations()
    assert first.value.transient and first.value.status is None
    assert not client.available
    fake_api.delay = 0.0
    started = time.monotonic()
    with pytest.raises(ApiError, match="unavailable"):
        client.key_position_holders("TERAPEL")
    assert time.monotonic() - started < 0.1
    assert client.record_incident(PAYLOAD, probe=True)["reference"]
    assert client.available, "a successful probe closes it again"
    assert client.key_position_holders("TERAPEL")


def test_the_connect_timeout_is_short(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COA_API_TIMEOUT", "10")
    api_client.close_api_client()
    timeout = get_api_client()._http.timeout
    assert (timeout.connect, timeout.read) == (2.0, 10.0)
    api_client.close_api_client()


def test_client_errors_are_not_transient() -> None:
    assert not ApiError("x", 422).transient and not ApiError("x", 404).transient
    assert ApiError("x", 503).transient and ApiError("x", 401).transient and ApiError("x").transient

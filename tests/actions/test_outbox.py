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


# --------------------------------------------------------------------------- several at once (issue 8)

BATCH_PATH = "/api/v1/sessions/events/batch"
SINGLE_PATH = "/api/v1/sessions/events"


def session_event(conversation: str, n: int) -> dict:
    return {"idempotency_key": f"{conversation}-{n}", "conversation_id": conversation, "location": "TERAPEL",
            "protocol": "eergerelateerd_geweld", "protocol_version": "1.0.0",
            "event": {"type": "question_asked", "step": f"s{n}"}}


def messages(conversation: str, numbers: range) -> list[tuple[str, dict]]:
    return [(f"{conversation}-{n}", session_event(conversation, n)) for n in numbers]


def sent_keys(request: dict) -> list[str]:
    body = request["body"]
    return [e["idempotency_key"] for e in body["events"]] if "events" in body else [body["idempotency_key"]]


def seqs(api: FakeApi, conversation: str) -> list[str]:
    """The conversation's events as the API numbered them."""
    mine = [e for e in api.session_events.values() if e["conversation_id"] == conversation]
    return [e["idempotency_key"] for e in sorted(mine, key=lambda e: e["seq"])]


class CountingWake:
    def __init__(self) -> None:
        self.sets = 0

    def set(self) -> None:
        self.sets += 1

    def wait(self, timeout: float | None = None) -> bool:
        return False

    def clear(self) -> None:
        pass


def test_enqueue_many_stores_all_in_one_transaction_and_wakes_once(box: Outbox) -> None:
    statements: list[str] = []
    box._db.set_trace_callback(statements.append)
    box._wake = CountingWake()
    items = box.enqueue_many("session_event", messages("a", range(1, 6)))
    box._db.set_trace_callback(None)
    assert [i.key for i in items] == [f"a-{n}" for n in range(1, 6)]
    assert all(i.status == PENDING and i.payload == session_event("a", n) for n, i in enumerate(items, 1))
    assert [s for s in statements if s.startswith(("BEGIN", "COMMIT"))] == ["BEGIN IMMEDIATE", "COMMIT"]
    assert sum(1 for s in statements if s.startswith("INSERT")) == 5
    assert box._wake.sets == 1
    with sqlite3.connect(box.path) as conn:
        rows = conn.execute("SELECT idempotency_key, order_key FROM outbox ORDER BY id").fetchall()
    assert rows == [(f"a-{n}", "conversation:a") for n in range(1, 6)]

    # Known keys are kept as stored (and returned), new ones added; nothing for an empty list.
    again = box.enqueue_many("session_event", [("a-2", {"changed": True}), *messages("a", range(6, 7))], wake=False)
    assert again[0].payload == session_event("a", 2) and again[1].key == "a-6"
    assert box.enqueue_many("session_event", []) == []
    assert box.pending_count() == 6
    with pytest.raises(ValueError, match="no sender for outbox kind"):
        box.enqueue_many("fax", [("f-1", {})])


def test_enqueue_many_is_all_or_nothing(box: Outbox) -> None:
    box.enqueue("session_event", "a-0", session_event("a", 0), wake=False)
    box._db.execute("CREATE TRIGGER refuse BEFORE INSERT ON outbox WHEN NEW.idempotency_key = 'a-3'"
                    " BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
    with pytest.raises(sqlite3.Error, match="disk says no"):
        box.enqueue_many("session_event", messages("a", range(1, 6)))
    assert [i.key for i in box.items()] == ["a-0"], "none of the batch, the earlier row untouched"
    box._db.execute("DROP TRIGGER refuse")
    assert len(box.enqueue_many("session_event", messages("a", range(1, 6)), wake=False)) == 5
    assert box.pending_count() == 6


def test_a_conversations_pending_events_go_in_one_request(fake_api: FakeApi, box: Outbox) -> None:
    box.enqueue_many("session_event", messages("a", range(1, 6)), wake=False)
    assert box.deliver_due() == 5
    (batch,) = posts(fake_api, BATCH_PATH)
    assert sent_keys(batch) == [f"a-{n}" for n in range(1, 6)]
    assert batch["body"]["events"][0] == session_event("a", 1)
    assert posts(fake_api, SINGLE_PATH) == []
    for n, item in enumerate(box.items(), 1):
        assert item.status == DELIVERED and item.attempts == 1
        assert item.payload == {}, "payloads are erased after delivery"
        assert item.result == {"session_id": "s-a", "seq": n}
    assert seqs(fake_api, "a") == [f"a-{n}" for n in range(1, 6)]
    assert box.deliver_due() == 0 and len(fake_api.requests) == 1


def test_batches_are_per_conversation_in_order_and_at_most_the_limit(fake_api: FakeApi, tmp_path: Path) -> None:
    box = Outbox(tmp_path / "limit.db", base_delay=0.05, max_delay=0.2, idle_poll=0.1, batch_limit=3)
    try:
        for n in range(1, 8):  # interleaved, as two conversations happen at the same time
            box.enqueue("session_event", f"a-{n}", session_event("a", n), wake=False)
            if n <= 4:
                box.enqueue("session_event", f"b-{n}", session_event("b", n), wake=False)
        while box.deliver_due():
            pass
        assert box.pending_count() == 0
        requests = posts(fake_api, BATCH_PATH) + posts(fake_api, SINGLE_PATH)
        assert len(requests) == 5  # a: 3 + 3 + 1 (one row: the single endpoint); b: 3 + 1
        assert [sent_keys(r) for r in posts(fake_api, BATCH_PATH)] == [
            ["a-1", "a-2", "a-3"], ["b-1", "b-2", "b-3"], ["a-4", "a-5", "a-6"]]
        assert [sent_keys(r) for r in posts(fake_api, SINGLE_PATH)] == [["b-4"], ["a-7"]]
        assert seqs(fake_api, "a") == [f"a-{n}" for n in range(1, 8)]
        assert seqs(fake_api, "b") == [f"b-{n}" for n in range(1, 5)]
    finally:
        box.close()


def test_a_refused_batch_is_sent_one_by_one_and_only_the_bad_row_is_rejected(fake_api: FakeApi,
                                                                             box: Outbox) -> None:
    fake_api.refuse_events = {"a-3"}
    box.enqueue_many("session_event", [*messages("a", range(1, 6)), *messages("b", range(1, 3))], wake=False)
    assert box.deliver_due() == 6
    assert [sent_keys(r) for r in posts(fake_api, BATCH_PATH)] == [
        ["a-1", "a-2", "a-3", "a-4", "a-5"], ["b-1", "b-2"]]
    assert [sent_keys(r)[0] for r in posts(fake_api, SINGLE_PATH)] == ["a-1", "a-2", "a-3", "a-4", "a-5"]
    rejected = box.get("a-3")
    assert rejected.status == REJECTED and rejected.payload == session_event("a", 3), "kept for an operator"
    assert "422" in rejected.last_error
    assert {i.key for i in box.items(DELIVERED)} == {"a-1", "a-2", "a-4", "a-5", "b-1", "b-2"}
    assert seqs(fake_api, "a") == ["a-1", "a-2", "a-4", "a-5"], "the good ones, in order"
    assert seqs(fake_api, "b") == ["b-1", "b-2"]
    # The rejected row holds nothing back: later events of the conversation go as a batch again.
    box.enqueue_many("session_event", messages("a", range(6, 8)), wake=False)
    assert box.deliver_due() == 2
    assert sent_keys(posts(fake_api, BATCH_PATH)[-1]) == ["a-6", "a-7"]


def test_a_transient_batch_error_backs_off_all_of_them(fake_api: FakeApi, tmp_path: Path) -> None:
    box = Outbox(tmp_path / "slow.db", base_delay=60, max_delay=120)

    def due_now() -> None:  # the backoff is over
        box._db.execute("UPDATE outbox SET next_attempt_at = 0 WHERE delivered_at IS NULL")

    try:
        fake_api.fail_status = 503
        box.enqueue_many("session_event", messages("a", range(1, 5)), wake=False)
        before = time.time()
        assert box.deliver_due() == 0
        assert len(posts(fake_api, BATCH_PATH)) == 1 and posts(fake_api, SINGLE_PATH) == []
        items = box.items()
        assert all(i.status == PENDING and i.attempts == 1 and "503" in i.last_error for i in items)
        assert all(i.payload == session_event("a", n) for n, i in enumerate(items, 1)), "kept until delivered"
        assert all(i.next_attempt_at >= before + 30 for i in items), "all in backoff"
        assert len({i.next_attempt_at for i in items}) == 1
        assert box.deliver_due() == 0 and len(posts(fake_api, BATCH_PATH)) == 1, "not before the backoff"

        due_now()
        assert box.deliver_due() == 0  # still failing: attempt 2 for all, a longer backoff
        assert {i.attempts for i in box.items()} == {2}
        assert all(i.next_attempt_at >= time.time() + 50 for i in box.items())
        fake_api.fail_status = None
        due_now()
        assert box.deliver_due() == 4
        assert posts(fake_api, SINGLE_PATH) == []
        assert [sent_keys(r) for r in posts(fake_api, BATCH_PATH)] == [[f"a-{n}" for n in range(1, 5)]] * 3
        assert seqs(fake_api, "a") == [f"a-{n}" for n in range(1, 5)]
        assert {(i.status, i.attempts) for i in box.items()} == {(DELIVERED, 3)}
    finally:
        box.close()


def test_a_transient_error_in_the_one_by_one_fallback_holds_the_rest_back(tmp_path: Path) -> None:
    single_sent: list[str] = []
    batches: list[list[str]] = []
    flaky = {"a-2"}

    def single(payload: dict) -> dict:
        key = payload["idempotency_key"]
        if key in flaky:
            flaky.discard(key)
            raise ApiError("timeout")
        single_sent.append(key)
        return {"seq": len(single_sent)}

    def batch(payloads: list[dict]) -> list[dict]:
        batches.append([p["idempotency_key"] for p in payloads])
        raise ApiError("refused", 422)

    box = Outbox(tmp_path / "o.db", senders={"session_event": single}, batch_senders={"session_event": batch},
                 base_delay=60)
    try:
        box.enqueue_many("session_event", messages("a", range(1, 5)), wake=False)
        assert box.deliver_due() == 1
        assert batches == [["a-1", "a-2", "a-3", "a-4"]] and single_sent == ["a-1"]
        assert box.get("a-2").status == PENDING and box.get("a-2").attempts == 1
        assert box.get("a-3").attempts == 0, "not sent behind a pending row"
        assert box.deliver_due() == 0, "a-2 is in backoff, a-3 and a-4 wait behind it"
        box.deliver("a-2")
        assert box.deliver_due() == 2
        assert batches[-1] == ["a-3", "a-4"] and single_sent == ["a-1", "a-2", "a-3", "a-4"]
    finally:
        box.close()


def test_an_api_without_the_batch_route_gets_single_requests(tmp_path: Path) -> None:
    single_sent: list[str] = []
    batch_calls: list[int] = []

    def single(payload: dict) -> dict:
        single_sent.append(payload["idempotency_key"])
        return {}

    def batch(payloads: list[dict]) -> list[dict]:
        batch_calls.append(len(payloads))
        raise ApiError("POST /sessions/events/batch: status 404", 404)

    box = Outbox(tmp_path / "o.db", senders={"session_event": single}, batch_senders={"session_event": batch})
    try:
        box.enqueue_many("session_event", messages("a", range(1, 4)), wake=False)
        assert box.deliver_due() == 3 and batch_calls == [3]
        box.enqueue_many("session_event", messages("a", range(4, 7)), wake=False)
        assert box.deliver_due() == 3 and batch_calls == [3], "no batch tried again for a while"
        assert single_sent == [f"a-{n}" for n in range(1, 7)]
    finally:
        box.close()


def test_incidents_still_go_one_by_one_and_the_actions_own_try_works(fake_api: FakeApi, box: Outbox) -> None:
    box.enqueue_many("session_event", messages("conv-1", range(1, 4)), wake=False)
    box.enqueue("incident", KEY, PAYLOAD, wake=False)
    assert box.deliver(KEY).status == DELIVERED
    (incident,) = posts(fake_api)
    assert incident["body"] == PAYLOAD
    box.enqueue("incident", "egg:key-2", {**PAYLOAD, "idempotency_key": "egg:key-2"}, wake=False)
    assert box.deliver_due() == 4
    assert len(posts(fake_api)) == 2 and len(posts(fake_api, BATCH_PATH)) == 1


def test_register_replaces_the_batch_sender_too(box: Outbox) -> None:
    got: list[str] = []
    box.register("session_event", lambda payload: got.append(payload["idempotency_key"]) or {})
    box.enqueue_many("session_event", messages("a", range(1, 3)), wake=False)
    assert box.deliver_due() == 2 and got == ["a-1", "a-2"]
    with pytest.raises(ValueError, match="before its batch sender"):
        box.register_batch("fax", lambda payloads: [])


def test_the_loops_stale_list_does_not_send_a_row_the_action_delivered_meanwhile(fake_api: FakeApi,
                                                                                  box: Outbox) -> None:
    stale = box.enqueue("incident", KEY, PAYLOAD, wake=False)  # as in the loop's list of due rows
    assert box.deliver(KEY).status == DELIVERED  # the action's own try wins the race
    assert box._attempt(stale).status == DELIVERED
    assert len(posts(fake_api)) == 1


def test_the_loop_lets_the_rows_of_one_turn_join_one_batch(fake_api: FakeApi, tmp_path: Path) -> None:
    box = Outbox(tmp_path / "linger.db", base_delay=0.05, max_delay=0.2, idle_poll=5, linger=0.5)
    try:
        box.start()
        time.sleep(0.2)  # the loop is idle, waiting for a wake
        box.enqueue_many("session_event", messages("a", range(1, 3)))  # the action's first store
        time.sleep(0.05)
        box.enqueue_many("session_event", messages("a", range(3, 5)))  # its second store, a moment later
        wait_for(lambda: box.pending_count() == 0)
        assert [sent_keys(r) for r in posts(fake_api, BATCH_PATH)] == [["a-1", "a-2", "a-3", "a-4"]]
        assert posts(fake_api, SINGLE_PATH) == []
    finally:
        box.close()


# --------------------------------------------------------------------------- issue 14: nothing left behind


def test_an_erased_payload_is_in_none_of_the_files(box: Outbox, fake_api: FakeApi) -> None:
    """Erase on delivery must reach the disk: without secure_delete the old bytes stay
    in the database's free space, without a checkpoint they stay in outbox.db-wal."""
    secret = "VRIJE-TEKST-de-bewoonster-vertelde-4711"
    box.enqueue("incident", KEY, {**PAYLOAD, "steps": [{"step": "toelichting", "answer": secret}]}, wake=False)
    assert any(secret.encode() in path.read_bytes() for path in box.path.parent.glob("outbox.db*"))
    assert box.deliver(KEY).status == DELIVERED
    for path in box.path.parent.glob("outbox.db*"):
        assert secret.encode() not in path.read_bytes(), f"{path.name} still holds the answer"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path.name

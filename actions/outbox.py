"""A durable outbox: what the action server must send to the API is never lost.

Write first, send second: ``enqueue`` stores the message in a local SQLite file
(WAL, ``synchronous=FULL``) before anything goes over the network; ``deliver``
then tries it once at once, and a background thread (one per action-server
process, started lazily) retries whatever is still pending with exponential
backoff and jitter until the API accepts it. Every message carries an
idempotency key that the API deduplicates on, so a request that timed out but
did arrive, a retry after a crash, or two processes delivering the same row
all end in exactly one record.

Generic over the kind of message: a *sender* per kind does the POST
(``incident`` -> ``POST /api/v1/incidents``, ``session_event`` ->
``POST /api/v1/sessions/events``); register more with ``Outbox.register``.

Order: rows are delivered oldest first, and a row with an *order key* is not
sent while an older row with the same key is still pending (in backoff, or
being sent by this or another process): the API numbers a session's events in
arrival order, so the events of one conversation must arrive in the order they
happened. ``session_event`` rows are keyed by their conversation; a rejected
row (4xx) no longer holds the later ones back.

A sender returns the API's answer or raises ``ApiError``; ``ApiError.transient``
decides between "retry later" and "rejected" (a 4xx such as 422: the same
request can never succeed, so it is not retried; the row is kept with
``failed_at`` for an operator and logged by key, never by content).

Privacy: a payload can hold special-category data (protocol answers). It lives
in the file only while undelivered: on delivery it is replaced by ``{}`` and only
the key, the times and the API's reference are kept. The file is created 0600.

Operators: ``python -m actions.outbox`` prints the counts and the undelivered
keys; ``python -m actions.outbox retry-failed`` puts rejected rows back in the
queue (after fixing what the API rejected).
"""

from __future__ import annotations

import json
import logging
import os
import random
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actions.api_client import ApiError, get_api_client
from actions.settings import outbox_path

logger = logging.getLogger(__name__)

#: ``sender(payload) -> answer``; raises ``ApiError`` (``transient`` or not).
Sender = Callable[[dict[str, Any]], dict[str, Any]]

BASE_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 30.0
#: How often the loop looks at the file even when nobody woke it (rows written by
#: another process, or the start of this one).
IDLE_POLL_SECONDS = 5.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    delivered_at REAL,
    failed_at REAL,
    last_error TEXT,
    result TEXT,
    order_key TEXT
);
CREATE INDEX IF NOT EXISTS ix_outbox_due ON outbox (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
"""
#: After the column exists (files written before ``order_key`` get it added).
ORDER_INDEX = """
CREATE INDEX IF NOT EXISTS ix_outbox_order ON outbox (order_key, id)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
"""
#: An older pending row with the same order key holds ``o`` back.
_HELD_BACK_SQL = (
    "o.order_key IS NOT NULL AND EXISTS (SELECT 1 FROM outbox p WHERE p.order_key = o.order_key"
    " AND p.id < o.id AND p.delivered_at IS NULL AND p.failed_at IS NULL)"
)

PENDING = "pending"
DELIVERED = "delivered"
REJECTED = "rejected"


@dataclass(frozen=True)
class OutboxItem:
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int
    next_attempt_at: float
    delivered_at: float | None
    failed_at: float | None
    last_error: str | None
    result: dict[str, Any] | None

    @property
    def status(self) -> str:
        if self.delivered_at is not None:
            return DELIVERED
        return REJECTED if self.failed_at is not None else PENDING


def provisional_reference(key: str) -> str:
    """A short, stable reference for a queued record, derived from its key
    (``VOORLOPIG-1A2B3C4D``): the counsellor can quote it, and a supervisor can
    find the record by it once delivered (``Outbox.get(key)`` / the log)."""
    import hashlib

    return "VOORLOPIG-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:8].upper()


def backoff_delay(attempts: int, base: float = BASE_DELAY_SECONDS, cap: float = MAX_DELAY_SECONDS,
                  rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: a random delay in [d/2, d] with
    d = min(cap, base * 2**(attempts-1)), so many action servers coming back at
    once do not hammer the API in step."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return delay * (0.5 + 0.5 * (rng or random).random())


def _incident_sender(payload: dict[str, Any]) -> dict[str, Any]:
    return get_api_client().record_incident(payload, probe=True)


def _session_event_sender(payload: dict[str, Any]) -> dict[str, Any]:
    return get_api_client().record_session_event(payload, probe=True)


def default_senders() -> dict[str, Sender]:
    return {"incident": _incident_sender, "session_event": _session_event_sender}


def _conversation_order(payload: dict[str, Any]) -> str | None:
    conversation = payload.get("conversation_id")
    return f"conversation:{conversation}" if conversation else None


#: Kinds whose rows are delivered in order per key (see the module docstring).
ORDER_KEYS: dict[str, Callable[[dict[str, Any]], str | None]] = {"session_event": _conversation_order}


class Outbox:
    """``Outbox(path)``; ``enqueue`` + ``deliver`` (or leave it to the loop); ``start()``
    for the background loop. Thread-safe; one SQLite connection guarded by a lock."""

    def __init__(self, path: Path | str, senders: dict[str, Sender] | None = None, *,
                 base_delay: float = BASE_DELAY_SECONDS, max_delay: float = MAX_DELAY_SECONDS,
                 idle_poll: float = IDLE_POLL_SECONDS) -> None:
        self.path = Path(path)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.idle_poll = idle_poll
        self._senders: dict[str, Sender] = dict(default_senders() if senders is None else senders)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when an attempt ends
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._inflight: set[str] = set()
        self._thread: threading.Thread | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # Owner-only before the first byte of a payload is written.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._db = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False,
                                   isolation_level=None)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed enqueue survives a power cut, not only a crash.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
            if "order_key" not in columns:
                self._db.execute("ALTER TABLE outbox ADD COLUMN order_key TEXT")
            self._db.executescript(ORDER_INDEX)

    # ----------------------------------------------------------------- registry

    def register(self, kind: str, sender: Sender) -> None:
        self._senders[kind] = sender

    # ----------------------------------------------------------------- storage

    def enqueue(self, kind: str, key: str, payload: dict[str, Any], *, wake: bool = True,
                order_key: str | None = None) -> OutboxItem:
        """Store the message (once per key: enqueueing a known key again is a no-op
        and returns the stored row, delivered or not) and wake the loop (``wake=False``
        when the caller delivers it at once itself). ``order_key``: delivered only after
        every older row with the same key (default per kind, ``ORDER_KEYS``)."""
        if kind not in self._senders:
            raise ValueError(f"no sender for outbox kind {kind!r}; known: {', '.join(sorted(self._senders))}")
        if order_key is None and kind in ORDER_KEYS:
            order_key = ORDER_KEYS[kind](payload)
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO outbox (kind, idempotency_key, payload, created_at, next_attempt_at,"
                " order_key) VALUES (?, ?, ?, ?, ?, ?)",
                (kind, key, json.dumps(payload, ensure_ascii=False), now, now, order_key),
            )
        if wake:
            self._wake.set()
        item = self.get(key)
        assert item is not None
        return item

    def get(self, key: str) -> OutboxItem | None:
        with self._lock:
            row = self._db.execute(
                "SELECT kind, idempotency_key, payload, attempts, next_attempt_at, delivered_at, failed_at,"
                " last_error, result FROM outbox WHERE idempotency_key = ?", (key,)).fetchone()
        return None if row is None else _item(row)

    def items(self, status: str | None = None) -> list[OutboxItem]:
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, idempotency_key, payload, attempts, next_attempt_at, delivered_at, failed_at,"
                " last_error, result FROM outbox ORDER BY id").fetchall()
        items = [_item(row) for row in rows]
        return [i for i in items if status is None or i.status == status]

    def pending_count(self) -> int:
        with self._lock:
            (count,) = self._db.execute(
                "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL").fetchone()
        return int(count)

    def retry_failed(self) -> int:
        """Put rejected rows back in the queue (an operator fixed the cause)."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE outbox SET failed_at = NULL, next_attempt_at = ? WHERE failed_at IS NOT NULL"
                " AND delivered_at IS NULL", (time.time(),))
        self._wake.set()
        return cursor.rowcount

    # ----------------------------------------------------------------- delivery

    def held_back(self, key: str) -> bool:
        """An older row with the same order key is still pending: this one waits."""
        with self._lock:
            row = self._db.execute(
                f"SELECT 1 FROM outbox o WHERE o.idempotency_key = ? AND {_HELD_BACK_SQL}", (key,)).fetchone()
        return row is not None

    def deliver(self, key: str) -> OutboxItem:
        """One attempt now, whatever the backoff says (the action's own try), unless an
        older row of the same order key is still pending. Returns the row afterwards;
        its ``status`` says what happened."""
        item = self.get(key)
        if item is None:
            raise KeyError(key)
        if item.status != PENDING:
            return item
        return self._attempt(item, wait=True)

    def deliver_due(self) -> int:
        """Attempts every pending row whose time has come; returns how many were delivered."""
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, idempotency_key, payload, attempts, next_attempt_at, delivered_at, failed_at,"
                " last_error, result FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL"
                " AND next_attempt_at <= ? ORDER BY id", (time.time(),)).fetchall()
        delivered = 0
        for row in rows:
            if self._stop.is_set():
                break
            if self._attempt(_item(row)).status == DELIVERED:
                delivered += 1
        return delivered

    def _attempt(self, item: OutboxItem, *, wait: bool = False) -> OutboxItem:
        """One send of ``item``, unless this process is sending it already: the
        action's own try and the loop never send one row at the same time (harmless
        thanks to the key, but a wasted request). ``wait``: then wait for that
        attempt and return its result instead of skipping."""
        with self._lock:
            if item.key in self._inflight:
                if not wait:
                    return item
                while item.key in self._inflight:
                    self._idle.wait()
                busy = True
            else:
                self._inflight.add(item.key)
                busy = False
        if busy:
            return self.get(item.key) or item
        try:
            if self.held_back(item.key):
                return item
            return self._send(item)
        finally:
            with self._lock:
                self._inflight.discard(item.key)
                self._idle.notify_all()

    def _send(self, item: OutboxItem) -> OutboxItem:
        sender = self._senders.get(item.kind)
        attempts = item.attempts + 1
        now = time.time()
        if sender is None:
            error, transient = f"no sender for kind {item.kind!r}", True
        else:
            try:
                answer = sender(item.payload)
            except ApiError as exc:
                error, transient = str(exc)[:300], exc.transient
            except Exception as exc:  # a sender bug must not kill the loop or lose the row
                logger.exception("outbox sender %s failed", item.kind)
                error, transient = f"{type(exc).__name__}: {exc}"[:300], True
            else:
                with self._lock:
                    # The payload is no longer needed once the API has it (data minimisation).
                    self._db.execute(
                        "UPDATE outbox SET attempts = ?, delivered_at = ?, last_error = NULL, result = ?,"
                        " payload = '{}' WHERE idempotency_key = ? AND delivered_at IS NULL",
                        (attempts, now, json.dumps(_result_summary(answer)), item.key))
                if item.attempts:
                    logger.info("outbox: delivered %s %s after %d attempts", item.kind, item.key, attempts)
                return self.get(item.key) or item
        if transient:
            delay = backoff_delay(attempts, self.base_delay, self.max_delay)
            with self._lock:
                self._db.execute(
                    "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?"
                    " WHERE idempotency_key = ? AND delivered_at IS NULL",
                    (attempts, now + delay, error, item.key))
            logger.warning("outbox: %s %s not delivered (attempt %d), next in %.1f s: %s",
                           item.kind, item.key, attempts, delay, error)
        else:
            with self._lock:
                self._db.execute(
                    "UPDATE outbox SET attempts = ?, failed_at = ?, last_error = ?"
                    " WHERE idempotency_key = ? AND delivered_at IS NULL",
                    (attempts, now, error, item.key))
            logger.error("outbox: %s %s REJECTED by the API, kept for an operator "
                         "(python -m actions.outbox): %s", item.kind, item.key, error)
        return self.get(item.key) or item

    # ----------------------------------------------------------------- the loop

    def next_due_in(self) -> float | None:
        """Seconds until the next row may be sent (rows held back by an older one do not count)."""
        with self._lock:
            (due,) = self._db.execute(
                "SELECT min(o.next_attempt_at) FROM outbox o WHERE o.delivered_at IS NULL AND o.failed_at IS NULL"
                f" AND NOT ({_HELD_BACK_SQL})"
            ).fetchone()
        return None if due is None else max(0.0, due - time.time())

    def start(self) -> None:
        """Starts the background delivery thread (once; a daemon thread, so it is not
        bound to any event loop and never keeps the process alive)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="coa-outbox", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
                due = self.next_due_in()
            except Exception:  # the loop must survive a locked file, a full disk, ...
                logger.exception("outbox delivery loop")
                due = self.idle_poll
            wait = self.idle_poll if due is None else min(due, self.idle_poll)
            self._wake.wait(timeout=wait)
            self._wake.clear()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._thread = None

    def close(self) -> None:
        self.stop()
        with self._lock:
            self._db.close()


def _item(row: tuple[Any, ...]) -> OutboxItem:
    kind, key, payload, attempts, next_at, delivered_at, failed_at, last_error, result = row
    return OutboxItem(kind=kind, key=key, payload=json.loads(payload), attempts=attempts,
                      next_attempt_at=next_at, delivered_at=delivered_at, failed_at=failed_at,
                      last_error=last_error, result=json.loads(result) if result else None)


def _result_summary(answer: Any) -> dict[str, Any]:
    """What to keep of the API's answer: identifiers, never content."""
    if not isinstance(answer, dict):
        return {}
    return {k: answer[k] for k in ("id", "reference", "session_id", "seq") if k in answer}


# --------------------------------------------------------------------------- process-wide outbox

_outbox: Outbox | None = None
_outbox_lock = threading.Lock()


def get_outbox(*, start: bool = True) -> Outbox:
    """The process-wide outbox on ``COA_OUTBOX_PATH``, its delivery loop started.
    Re-opened when the path changes (tests)."""
    global _outbox
    path = outbox_path()
    with _outbox_lock:
        if _outbox is None or _outbox.path != path:
            if _outbox is not None:
                _outbox.close()
            _outbox = Outbox(path)
        if start:
            _outbox.start()
        return _outbox


def close_outbox() -> None:
    global _outbox
    with _outbox_lock:
        if _outbox is not None:
            _outbox.close()
        _outbox = None


def resume_if_pending() -> None:
    """At action-server start: when the file holds undelivered rows (the process
    stopped before delivering them), start the loop now instead of at the next
    decision. Does nothing (and creates nothing) when there is no file."""
    if os.environ.get("COA_OUTBOX_RESUME", "1").strip() == "0" or not outbox_path().exists():
        return
    try:
        box = get_outbox(start=False)
        if box.pending_count():
            box.start()
    except sqlite3.Error:
        logger.exception("outbox: could not open %s", outbox_path())


def main(argv: list[str]) -> int:
    box = get_outbox(start=False)
    if argv[:1] == ["retry-failed"]:
        print(f"{box.retry_failed()} rejected row(s) queued again; the action server delivers them")
        return 0
    items = box.items()
    counts = {s: sum(1 for i in items if i.status == s) for s in (PENDING, DELIVERED, REJECTED)}
    print(f"{box.path}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    for item in items:
        if item.status != DELIVERED:
            print(f"  {item.status:9} {item.kind:14} {item.key} attempts={item.attempts} "
                  f"last_error={item.last_error or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""A durable outbox: what the action server must send to the API is never lost.

Write first, send second: ``enqueue`` stores the message in a local SQLite file
(WAL, ``synchronous=FULL``) before anything goes over the network (``enqueue_many``:
several messages in one transaction, one fsync); ``deliver`` then tries it once at
once, and a background thread (one per action-server process, started lazily)
retries whatever is still pending with exponential backoff and jitter until the
API accepts it. Every message carries an idempotency key that the API
deduplicates on, so a request that timed out but did arrive, a retry after a
crash, or two processes delivering the same row all end in exactly one record.

Generic over the kind of message: a *sender* per kind does the POST
(``incident`` -> ``POST /api/v1/incidents``, ``session_event`` ->
``POST /api/v1/sessions/events``); register more with ``Outbox.register``.

Batches: a kind may also have a *batch sender* (``register_batch``; ``session_event``
-> ``POST /api/v1/sessions/events/batch``). The loop then sends the due pending rows
of one order key (a conversation), oldest first, up to ``BATCH_LIMIT``, in one
request: accepted, all are delivered; a transient error backs them all off; a
rejection (4xx) of the batch sends them again one by one with the single sender,
so that only a bad row is rejected and the others are delivered, in order.
Incidents (no order key, no batch sender) go one by one, and ``deliver(key)``
always sends one row. Woken by new rows, the loop first waits ``LINGER_SECONDS``,
so that the rows of one action (and turn) go in one request, after the reply.

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
Erased means gone from the disk too (issue 14): ``secure_delete`` zeroes the old
bytes in the database file, and a ``wal_checkpoint(TRUNCATE)`` after every erase
empties ``outbox.db-wal``, where the row as first written would otherwise stay.

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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actions.api_client import ApiError, get_api_client
from actions.settings import outbox_path

logger = logging.getLogger(__name__)

#: ``sender(payload) -> answer``; raises ``ApiError`` (``transient`` or not).
Sender = Callable[[dict[str, Any]], dict[str, Any]]
#: ``batch_sender([payload, ...]) -> [answer, ...]`` (same order, all stored or none);
#: raises ``ApiError`` (``transient`` or not).
BatchSender = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]

BASE_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 30.0
#: How often the loop looks at the file even when nobody woke it (rows written by
#: another process, or the start of this one).
IDLE_POLL_SECONDS = 5.0
#: At most this many rows in one batch request (the API takes up to 100).
BATCH_LIMIT = 50
#: After a 404/405 on a batch (an API without the batch route) the kind is sent one
#: by one for this long before a batch is tried again.
BATCH_UNSUPPORTED_SECONDS = 300.0
#: When woken by new rows the loop waits this long before sending: the other rows of
#: the same action and turn join the batch, and the requests go out after the reply
#: instead of competing with the action server (and Rasa) for the CPU while it answers.
#: Only the background loop waits; ``deliver(key)`` (the action's own try) never does.
LINGER_SECONDS = 0.1

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
#: The columns ``_item`` reads.
_COLUMNS = "kind, idempotency_key, payload, attempts, next_attempt_at, delivered_at, failed_at, last_error, result"
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


def _session_event_batch_sender(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return get_api_client().record_session_events(payloads, probe=True)


def default_senders() -> dict[str, Sender]:
    return {"incident": _incident_sender, "session_event": _session_event_sender}


def default_batch_senders() -> dict[str, BatchSender]:
    return {"session_event": _session_event_batch_sender}


def _conversation_order(payload: dict[str, Any]) -> str | None:
    conversation = payload.get("conversation_id")
    return f"conversation:{conversation}" if conversation else None


#: Kinds whose rows are delivered in order per key (see the module docstring).
ORDER_KEYS: dict[str, Callable[[dict[str, Any]], str | None]] = {"session_event": _conversation_order}


class Outbox:
    """``Outbox(path)``; ``enqueue`` + ``deliver`` (or leave it to the loop); ``start()``
    for the background loop. Thread-safe; one SQLite connection guarded by a lock.

    ``senders`` None: the default senders and batch senders; given: those, and the
    batch senders only from ``batch_senders``."""

    def __init__(self, path: Path | str, senders: dict[str, Sender] | None = None, *,
                 batch_senders: dict[str, BatchSender] | None = None,
                 base_delay: float = BASE_DELAY_SECONDS, max_delay: float = MAX_DELAY_SECONDS,
                 idle_poll: float = IDLE_POLL_SECONDS, batch_limit: int = BATCH_LIMIT,
                 linger: float = LINGER_SECONDS) -> None:
        self.path = Path(path)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.idle_poll = idle_poll
        self.batch_limit = batch_limit
        self.linger = linger
        self._senders: dict[str, Sender] = dict(default_senders() if senders is None else senders)
        if batch_senders is None:
            batch_senders = default_batch_senders() if senders is None else {}
        self._batch_senders: dict[str, BatchSender] = {}
        #: kind -> time.monotonic() until which batches are not tried (404/405).
        self._batch_off_until: dict[str, float] = {}
        for kind, batch_sender in batch_senders.items():
            self.register_batch(kind, batch_sender)
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
            # An erased payload's bytes are overwritten, not left in free space.
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.executescript(SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
            if "order_key" not in columns:
                self._db.execute("ALTER TABLE outbox ADD COLUMN order_key TEXT")
            self._db.executescript(ORDER_INDEX)

    # ----------------------------------------------------------------- registry

    def register(self, kind: str, sender: Sender) -> None:
        """The sender of ``kind``; a batch sender of that kind is dropped (it would
        bypass this one): ``register_batch`` one again to keep batching."""
        self._senders[kind] = sender
        self._batch_senders.pop(kind, None)

    def register_batch(self, kind: str, batch_sender: BatchSender) -> None:
        """Send the ordered rows of ``kind`` in batches (see the module docstring); the
        kind's single sender stays the fallback, so it must be registered first."""
        if kind not in self._senders:
            raise ValueError(f"register a sender for outbox kind {kind!r} before its batch sender")
        self._batch_senders[kind] = batch_sender

    # ----------------------------------------------------------------- storage

    def enqueue(self, kind: str, key: str, payload: dict[str, Any], *, wake: bool = True,
                order_key: str | None = None) -> OutboxItem:
        """Store the message (once per key: enqueueing a known key again is a no-op
        and returns the stored row, delivered or not) and wake the loop (``wake=False``
        when the caller delivers it at once itself). ``order_key``: delivered only after
        every older row with the same key (default per kind, ``ORDER_KEYS``)."""
        return self.enqueue_many(kind, [(key, payload)], wake=wake, order_key=order_key)[0]

    def enqueue_many(self, kind: str, messages: Sequence[tuple[str, dict[str, Any]]], *, wake: bool = True,
                     order_key: str | None = None) -> list[OutboxItem]:
        """``enqueue`` for several ``(key, payload)`` messages in ONE transaction (one
        fsync; all stored or none, in this order) and one wake of the loop at the end.
        Returns the stored rows in the order given (a known key: the row stored first)."""
        if kind not in self._senders:
            raise ValueError(f"no sender for outbox kind {kind!r}; known: {', '.join(sorted(self._senders))}")
        if not messages:
            return []
        now = time.time()
        order_of = ORDER_KEYS.get(kind)
        rows = [
            (kind, key, json.dumps(payload, ensure_ascii=False), now, now,
             order_key if order_key is not None or order_of is None else order_of(payload))
            for key, payload in messages
        ]
        keys = [key for key, _payload in messages]
        with self._lock:
            with self._transaction():
                self._db.executemany(
                    "INSERT OR IGNORE INTO outbox (kind, idempotency_key, payload, created_at, next_attempt_at,"
                    " order_key) VALUES (?, ?, ?, ?, ?, ?)", rows)
            stored = self._rows_by_key(keys)
        if wake:
            self._wake.set()
        return [stored[key] for key in keys]

    def _checkpoint(self) -> None:
        """Copies the WAL into the database and truncates it, so an erased payload
        does not stay in ``-wal``. Best effort: a reader in another process can make
        it incomplete; the next erase checkpoints again."""
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.OperationalError as exc:
                logger.warning("outbox checkpoint skipped: %s", exc)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction (hold ``self._lock``): BEGIN IMMEDIATE takes the file's
        write lock at once (no deadlock with another process upgrading), COMMIT or
        ROLLBACK at the end."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _rows_by_key(self, keys: Sequence[str]) -> dict[str, OutboxItem]:
        """Hold ``self._lock``."""
        found: dict[str, OutboxItem] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self._db.execute(f"SELECT {_COLUMNS} FROM outbox WHERE idempotency_key IN ({marks})", chunk):
                item = _item(row)
                found[item.key] = item
        return found

    def get(self, key: str) -> OutboxItem | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM outbox WHERE idempotency_key = ?", (key,)).fetchone()
        return None if row is None else _item(row)

    def items(self, status: str | None = None) -> list[OutboxItem]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM outbox ORDER BY id").fetchall()
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
        """Attempts every pending row whose time has come (in batches per order key
        where the kind has a batch sender); returns how many were delivered."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS}, order_key FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL"
                " AND next_attempt_at <= ? ORDER BY id", (time.time(),)).fetchall()
        delivered = 0
        batched: set[tuple[str, str]] = set()
        for row in rows:
            if self._stop.is_set():
                break
            item, order_key = _item(row[:-1]), row[-1]
            if (item.kind, order_key) in batched:
                continue  # sent with its order key's batch (or held back behind it)
            if order_key is not None and self._batching(item.kind):
                batched.add((item.kind, order_key))
                delivered += self._deliver_batch(item.kind, order_key)
            elif self._attempt(item).status == DELIVERED:
                delivered += 1
        return delivered

    def _batching(self, kind: str) -> bool:
        return kind in self._batch_senders and time.monotonic() >= self._batch_off_until.get(kind, 0.0)

    def _deliver_batch(self, kind: str, order_key: str) -> int:
        """The due pending rows of ``order_key`` from its oldest pending row on (so none
        is held back), of ``kind``, up to ``batch_limit``, in one request (one row: the
        single sender). Stops at a row of another kind, one in backoff, or one this
        process is sending already. Returns how many were delivered."""
        now = time.time()
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE order_key = ? AND delivered_at IS NULL AND failed_at IS NULL"
                " ORDER BY id LIMIT ?", (order_key, self.batch_limit)).fetchall()
            batch: list[OutboxItem] = []
            for row in rows:
                item = _item(row)
                if item.kind != kind or item.next_attempt_at > now or item.key in self._inflight:
                    break
                batch.append(item)
            self._inflight.update(item.key for item in batch)
        if not batch:
            return 0
        try:
            if len(batch) == 1:
                return int(self._send(batch[0]).status == DELIVERED)
            return self._send_batch(kind, batch)
        finally:
            with self._lock:
                self._inflight.difference_update(item.key for item in batch)
                self._idle.notify_all()

    def _send_batch(self, kind: str, batch: list[OutboxItem]) -> int:
        sender = self._batch_senders.get(kind)
        attempts = max(item.attempts for item in batch) + 1
        now = time.time()
        where = f"{len(batch)} {kind} rows {batch[0].key} .. {batch[-1].key}"
        try:
            if sender is None:
                raise ApiError(f"no batch sender for kind {kind!r}")
            answers = sender([item.payload for item in batch])
            if not isinstance(answers, list) or len(answers) != len(batch):
                raise ApiError(f"batch of {len(batch)}: the answer does not match")
        except ApiError as exc:
            if not exc.transient:
                return self._send_one_by_one(kind, batch, exc)
            error = str(exc)[:300]
        except Exception as exc:  # a sender bug must not kill the loop or lose the rows
            logger.exception("outbox batch sender %s failed", kind)
            error = f"{type(exc).__name__}: {exc}"[:300]
        else:
            with self._lock, self._transaction():
                # The payloads are no longer needed once the API has them (data minimisation).
                self._db.executemany(
                    "UPDATE outbox SET attempts = ?, delivered_at = ?, last_error = NULL, result = ?,"
                    " payload = '{}' WHERE idempotency_key = ? AND delivered_at IS NULL",
                    [(item.attempts + 1, now, json.dumps(_result_summary(answer)), item.key)
                     for item, answer in zip(batch, answers, strict=True)])
            self._checkpoint()
            if attempts > 1:
                logger.info("outbox: delivered %s after %d attempts", where, attempts)
            return len(batch)
        delay = backoff_delay(attempts, self.base_delay, self.max_delay)
        with self._lock, self._transaction():
            self._db.executemany(
                "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?"
                " WHERE idempotency_key = ? AND delivered_at IS NULL",
                [(item.attempts + 1, now + delay, error, item.key) for item in batch])
        logger.warning("outbox: %s not delivered (attempt %d), next in %.1f s: %s", where, attempts, delay, error)
        return 0

    def _send_one_by_one(self, kind: str, batch: list[OutboxItem], refusal: ApiError) -> int:
        """The batch was refused (4xx): each row with the single sender, in order, so a
        bad row is rejected alone; a transient failure stops here (the rest waits
        behind that row, as the order requires)."""
        logger.warning("outbox: batch of %d %s rows %s .. %s refused (%s); sending them one by one",
                       len(batch), kind, batch[0].key, batch[-1].key, refusal)
        if refusal.status in (404, 405):  # an API without the batch route
            self._batch_off_until[kind] = time.monotonic() + BATCH_UNSUPPORTED_SECONDS
        delivered = 0
        for item in batch:
            if self._stop.is_set():
                break
            status = self._send(item).status
            if status == DELIVERED:
                delivered += 1
            elif status == PENDING:
                break
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
            # The loop's list of due rows may be stale: the action's own try (or another
            # process) may have delivered this row since; do not send it twice.
            current = self.get(item.key)
            if current is None or current.status != PENDING:
                return current or item
            if self.held_back(item.key):
                return current
            return self._send(current)
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
                self._checkpoint()
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
            if self._wake.wait(timeout=wait) and self.linger > 0:
                # New rows: let the rest of this action's (and turn's) rows join them.
                self._stop.wait(self.linger)
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

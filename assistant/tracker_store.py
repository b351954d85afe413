"""Rasa's SQL tracker store with an in-process cache of the trackers it last saved (issue 8).

Rasa's `SQLTrackerStore` reads the whole conversation session back from the database on
every turn (ORM query, `json.loads` of every event, `DialogueStateTracker.from_dict`
replaying ~100-150 events) and, on save, counts the stored events with an ORM subquery
before adding the new ones one ORM object at a time: ~10 ms of a ~45 ms turn. Between
two turns of one conversation the tracker does not change unless someone writes to the
database, so `CachedSQLTrackerStore` keeps the tracker object it saved and hands it out
again after one cheap indexed query has shown that the conversation's rows are still
the ones it wrote.

What stays exactly as in Rasa (the cache is an optimisation, never a second source of
truth):
- the table, its columns and the values written (`sender_id`, `type_name`, `timestamp`,
  `intent_name`, `action_name`, `data = json.dumps(event.as_dict())`), so a plain
  `type: SQL` store, `rasa export` or a replica without the cache reads the same rows;
- durability: every save is committed before `save` returns, i.e. before Rasa answers
  (issue 7: a restarted Rasa continues the conversation from the database);
- what `retrieve` returns: the events since the latest `SessionStarted` (Rasa's
  timestamp rule), replayed over the domain's slots. A cached tracker is only returned
  when it is, event for event, what Rasa's own `retrieve` would build from the rows;
  whenever that cannot be shown cheaply the superclass does the work;
- `retrieve_full_tracker`, `keys`, `exists`, event streaming (`stream_events`) and the
  `login_db` / schema handling: the superclass's.

Validity of a cache entry (checked on every `retrieve` and `save`):
- the database fingerprint of the conversation, the `max(id)` and `min(id)` of its rows
  (two lookups at the ends of an index, whatever the conversation's length), equals the
  one recorded after our own insert (or before our own read): any write by another
  process (a second Rasa replica on the same PostgreSQL, production profile) or a
  deletion (the retention job deletes whole conversations) changes it, and the entry is
  refreshed; after a save, the rows newer than the fingerprint taken before it must be
  exactly the ones it inserted;
- the cached object still has exactly the events it had when saved (count and identity
  of the last one): Rasa mutates the tracker it got from `retrieve` in place, so a turn
  that failed after `tracker.update(...)` must not leak its unsaved events;
- the domain is the one the tracker was built with (a model reload replaces it).

Kept after a save: the saved object, or, when a new event's `as_dict()` does not come
back equal from its JSON row (Rasa NLU's `text_tokens` are tuples, JSON has lists), the
tracker replayed over the stored events plus those events parsed from their rows, i.e.
what Rasa's retrieve would build, for ~0.1 ms instead of Rasa's ~5 ms read.

Dropped instead of kept after a save: a save whose new events contain `SessionStarted`
or `Restarted` (Rasa's `retrieve` then returns only the new session, not the object in
memory), a save of a tracker that is not the cached object, a new event whose timestamp
falls before the session start (Rasa's timestamp filter would hide it), and a save that
saw other rows appear (concurrent writer).

Concurrency: Rasa runs the store on one asyncio event loop; each check-and-use of the
cache happens without an `await` in between, and the dictionary itself is guarded by a
lock, so a stray thread cannot corrupt it. Two turns of one conversation never run at
once (Rasa's lock store; Redis + the pinning proxy in production); if they did, Rasa's
own store would already mix up their events, and the fingerprint checks make this one
fall back to the database rather than serve a stale tracker. Readers outside the
conversation lock (e.g. Rasa's HTTP API `predict`) may get the cached object itself,
as any later turn does.

Memory: an LRU of `cache_size` conversations (default 1000; endpoints key
`cache_size`; 0 turns the cache off). A protocol conversation of ~120 events takes
about 0.17 MB in memory (tracemalloc), so the default bounds the cache at roughly
170 MB; an evicted conversation is simply read from the database on its next turn.
A conversation unused for `cache_ttl` seconds (default 3600) is dropped as well, so
the process does not hold transcripts long after their last turn (SECURITY.md: the
retention job deletes the rows; a deleted conversation is never served from memory
either, its row count is 0).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, Restarted, SessionStarted, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

logger = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 1000
DEFAULT_CACHE_TTL = 3600.0  # seconds a conversation may stay cached without being used

_EVENTS = SQLTrackerStore.SQLEvent.__table__

# Module-level Core statements with bound parameters: SQLAlchemy compiles them once per
# dialect and reuses the compiled form from the engine's statement cache (no ORM Query
# building per call).
#
# The fingerprint is the conversation's newest and oldest row id: two lookups at the ends
# of the (sender_id, id) index, so its cost does not grow with the conversation (issue 16:
# a counsellor's Teams conversation holds months of sessions; counting its rows cost a
# scan of all of them on every turn). Rows are only ever appended, and deleted by the
# retention job a whole conversation at a time (api/retention.py), so a write by another
# process moves the newest id and a deletion moves both.
_SENDER = _EVENTS.c.sender_id == sa.bindparam("sender_id")
_FINGERPRINT = sa.select(
    sa.select(sa.func.max(_EVENTS.c.id)).where(_SENDER).scalar_subquery(),
    sa.select(sa.func.min(_EVENTS.c.id)).where(_SENDER).scalar_subquery(),
)
#: Rows of the conversation after a given id: what a save appended (an index range).
_APPENDED = sa.select(sa.func.count()).where(_SENDER, _EVENTS.c.id > sa.bindparam("after_id"))
#: Makes the fingerprint and _APPENDED index lookups also on PostgreSQL (Rasa's own index
#: is on sender_id alone; SQLite's index entries hold the row id anyway). An extra index
#: on Rasa's table: the rows, columns and values stay exactly Rasa's.
_SENDER_ID_INDEX = sa.Index("ix_events_sender_id_id", _EVENTS.c.sender_id, _EVENTS.c.id)
_INSERT = _EVENTS.insert()

#: (newest row id, oldest row id) of a conversation; (None, None) when it has no rows.
Fingerprint = tuple[int | None, int | None]


@dataclasses.dataclass
class _Entry:
    tracker: DialogueStateTracker
    #: Rows of the conversation in the database (newest and oldest row id) when cached.
    fingerprint: Fingerprint
    #: Number of events the tracker had when cached and its last one (identity): the
    #: object is only valid while nobody has appended to it since.
    n_events: int
    last_event: Event
    #: Latest `SessionStarted` timestamp (Rasa's `retrieve` returns the events from that
    #: timestamp on), None when the conversation has no session start.
    session_start: float | None
    domain: Domain
    #: When the entry was last stored or served (monotonic clock), for the idle limit.
    used: float = 0.0

    def unchanged_in_memory(self) -> bool:
        events = self.tracker.events
        return len(events) == self.n_events and events[-1] is self.last_event

    def is_prefix_of(self, tracker: DialogueStateTracker) -> bool:
        """The tracker is the cached object with zero or more events appended."""
        events = tracker.events
        return (
            tracker is self.tracker
            and len(events) >= self.n_events
            and events[self.n_events - 1] is self.last_event
        )


def _write_ahead_log(engine: sa.engine.Engine) -> None:
    """SQLite (the single-process default, `make run`): write-ahead log instead of
    Rasa's default rollback journal. Every commit is still on disk before Rasa answers
    (``synchronous=FULL``: the log is fsynced at each commit), but a commit is one
    append and one fsync instead of creating, syncing and deleting a journal file
    (issue 8: most of a save's time). The journal mode is kept in the file; read it
    with ``sqlite3`` or copy it with ``.backup`` (the -wal file belongs to it)."""

    def pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    sa.event.listen(engine, "connect", pragmas)
    # Connections made before the listener (Rasa creates the table in __init__).
    engine.dispose()


def _create_sender_id_index(engine: sa.engine.Engine) -> None:
    """Replicas that start together on a new database (scale-out, a rolling deploy) can
    both find the index missing; the slower one's CREATE INDEX then fails on PostgreSQL's
    catalogue (a unique violation, or "already exists"). As Rasa does for its own table,
    that is fine as long as the index is there afterwards, so look again before failing."""
    try:
        _SENDER_ID_INDEX.create(engine, checkfirst=True)
    except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
        indexes = sa.inspect(engine).get_indexes(_EVENTS.name)
        if not any(index["name"] == _SENDER_ID_INDEX.name for index in indexes):
            raise
        logger.info("Index %s was created by another process at the same time", _SENDER_ID_INDEX.name)


def _session_start(tracker: DialogueStateTracker) -> float | None:
    starts = [event.timestamp for event in tracker.events if isinstance(event, SessionStarted)]
    return max(starts) if starts else None


def _row(sender_id: str, event: Event) -> tuple[dict[str, Any], dict[str, Any]]:
    """The column values Rasa's `SQLTrackerStore.save` writes for an event (same rules),
    and the event's `as_dict()` they were made from."""
    data = event.as_dict()
    row = {
        "sender_id": sender_id,
        "type_name": event.type_name,
        "timestamp": data.get("timestamp"),
        "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
        "action_name": data.get("name"),
        "data": json.dumps(data),
    }
    return row, data


class CachedSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` (same schema, rows and semantics) that serves a conversation's
    tracker from memory while the database shows no change. See the module docstring.

    Endpoints: ``type: assistant.tracker_store.CachedSQLTrackerStore`` with the keys of
    ``type: SQL`` (dialect, url, port, db, username, password, login_db, query) and
    optionally ``cache_size`` (conversations kept, default 1000) and ``cache_ttl``
    (seconds a conversation stays cached without a turn, default 3600).
    """

    def __init__(
        self,
        *args: Any,
        cache_size: int | str = DEFAULT_CACHE_SIZE,
        cache_ttl: float | str = DEFAULT_CACHE_TTL,
        **kwargs: Any,
    ) -> None:
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._clock = time.monotonic
        self.cache_size = int(cache_size)
        self.cache_ttl = float(cache_ttl)
        if self.cache_size < 0 or self.cache_ttl < 0:
            raise ValueError(f"cache_size and cache_ttl must be 0 or more, got {cache_size!r}, {cache_ttl!r}")
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            _write_ahead_log(self.engine)
        _create_sender_id_index(self.engine)

    # The domain's slots are copied into every tracker: a new domain (model reload)
    # empties the cache (the entries also check the domain they were built with).
    @property
    def domain(self) -> Domain:
        return self._domain

    @domain.setter
    def domain(self, domain: Domain | None) -> None:
        self._domain = domain or Domain.empty()
        self.clear_cache()

    # --- cache bookkeeping -------------------------------------------------------------

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    def cached_conversations(self) -> int:
        return len(self._cache)

    def _entry(self, sender_id: str) -> _Entry | None:
        """The live entry of a conversation, None when absent or idle too long."""
        with self._cache_lock:
            self._drop_idle()
            return self._cache.get(sender_id)

    def _remember(self, sender_id: str, entry: _Entry) -> None:
        if self.cache_size == 0:
            return
        with self._cache_lock:
            entry.used = self._clock()
            self._cache[sender_id] = entry
            self._cache.move_to_end(sender_id)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
            self._drop_idle()

    def _touch(self, sender_id: str, entry: _Entry) -> None:
        with self._cache_lock:
            if self._cache.get(sender_id) is entry:
                entry.used = self._clock()
                self._cache.move_to_end(sender_id)

    def _drop_idle(self) -> None:
        """Drops the entries unused for longer than cache_ttl (oldest first: the dict is
        in order of use). Called with the lock held."""
        limit = self._clock() - self.cache_ttl
        while self._cache:
            oldest = next(iter(self._cache.values()))
            if oldest.used >= limit:
                break
            self._cache.popitem(last=False)

    def _forget(self, sender_id: str) -> None:
        with self._cache_lock:
            self._cache.pop(sender_id, None)

    @staticmethod
    def _fingerprint(session: Any, sender_id: str) -> Fingerprint:
        newest, oldest = session.execute(_FINGERPRINT, {"sender_id": sender_id}).one()
        return newest, oldest

    @staticmethod
    def _appended(session: Any, sender_id: str, after: Fingerprint) -> int:
        """Rows of the conversation newer than the fingerprint ``after`` was taken."""
        return session.execute(_APPENDED, {"sender_id": sender_id, "after_id": after[0] or 0}).scalar_one()

    # --- TrackerStore ------------------------------------------------------------------

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The tracker of the latest session: the cached object while the conversation's
        rows are unchanged and nobody appended to the object since it was cached,
        otherwise the superclass's read (which is then cached)."""
        with self.session_scope() as session:
            fingerprint = self._fingerprint(session, sender_id)
        if fingerprint[0] is None:
            # No rows at all: Rasa's retrieve finds no events and returns None.
            self._forget(sender_id)
            return None
        entry = self._entry(sender_id)
        if (
            entry is not None
            and entry.fingerprint == fingerprint
            and entry.domain is self.domain
            and entry.unchanged_in_memory()
        ):
            self._touch(sender_id, entry)
            return entry.tracker

        tracker = await super().retrieve(sender_id)
        if tracker is None or not tracker.events:
            self._forget(sender_id)
            return tracker
        # The fingerprint was taken before this read: if another process wrote in
        # between, the entry is older than the rows and the next check refreshes it.
        self._remember(
            sender_id,
            _Entry(
                tracker=tracker,
                fingerprint=fingerprint,
                n_events=len(tracker.events),
                last_event=tracker.events[-1],
                session_start=_session_start(tracker),
                domain=self.domain,
            ),
        )
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Inserts the events not yet stored (the same rows as Rasa's save), commits, and
        keeps the tracker cached when it is what Rasa's retrieve would now return."""
        await self.stream_events(tracker)

        sender_id = tracker.sender_id
        entry = self._entry(sender_id)
        with self.session_scope() as session:
            before = self._fingerprint(session, sender_id)
            if (
                entry is not None
                and entry.fingerprint == before
                and entry.domain is self.domain
                and entry.is_prefix_of(tracker)
            ):
                # The rows are the ones the cached tracker was built from or saved with,
                # so Rasa's count of stored events since the session start is n_events.
                new_events = list(itertools.islice(tracker.events, entry.n_events, None))
            elif before[0] is None:
                entry = None
                new_events = list(tracker.events)  # nothing stored: Rasa's count is 0
            else:
                entry = None
                new_events = list(self._additional_events(session, tracker))  # Rasa's count query

            rows = [_row(sender_id, event) for event in new_events]
            if rows:
                # One executemany instead of one ORM object per event.
                session.execute(_INSERT, [row for row, _ in rows])
                after = self._fingerprint(session, sender_id)
                appended = self._appended(session, sender_id, before)
            else:
                after, appended = before, 0
            session.commit()

        logger.debug(f"Tracker with sender_id '{sender_id}' stored to database")
        try:
            self._update_after_save(sender_id, tracker, entry, new_events, rows, after, appended)
        except Exception:  # the rows are committed: the cache must not fail the save
            logger.exception(f"Could not cache the tracker of '{sender_id}'; it is read from the database next time")
            self._forget(sender_id)

    def _update_after_save(
        self,
        sender_id: str,
        tracker: DialogueStateTracker,
        entry: _Entry | None,
        new_events: list[Event],
        rows: list[tuple[dict[str, Any], dict[str, Any]]],
        after: Fingerprint,
        appended: int,
    ) -> None:
        if (
            entry is None  # not the cached object: the next retrieve reads the rows
            or not tracker.events
            or any(isinstance(event, (SessionStarted, Restarted)) for event in new_events)
            or appended != len(new_events)  # someone else wrote meanwhile
            or (
                entry.session_start is not None
                and any(event.timestamp is None or event.timestamp < entry.session_start for event in new_events)
            )
        ):
            self._forget(sender_id)
            return
        # An event whose as_dict() does not survive the JSON round trip (Rasa NLU's
        # `text_tokens` are tuples, the rows hold lists) comes back from Rasa's retrieve
        # as the parsed JSON: cache the tracker replayed over such parsed events (the
        # stored ones are reused as they are; replaying ~120 events costs ~0.1 ms, the
        # JSON parsing and event lookup that Rasa's read adds, ~2.5 ms, are avoided).
        parsed: dict[int, Event] = {}
        for index, (row, data) in enumerate(rows):
            stored = json.loads(row["data"])
            if stored != data:
                events = deserialise_events([stored])
                if len(events) != 1:
                    self._forget(sender_id)
                    return
                parsed[index] = events[0]
        if parsed:
            kept = len(tracker.events) - len(new_events)
            tracker = DialogueStateTracker.from_events(
                sender_id,
                [
                    *itertools.islice(tracker.events, kept),
                    *(parsed.get(index, event) for index, event in enumerate(new_events)),
                ],
                self.domain.slots,
            )
        self._remember(
            sender_id,
            dataclasses.replace(
                entry, tracker=tracker, fingerprint=after, n_events=len(tracker.events), last_event=tracker.events[-1]
            ),
        )

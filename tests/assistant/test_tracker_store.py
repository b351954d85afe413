"""assistant.tracker_store.CachedSQLTrackerStore (issue 8): the tracker of a conversation
is served from memory while its rows are unchanged, and everything observable (rows
written, what `retrieve` returns, session semantics, other replicas' writes) is what
Rasa's plain SQLTrackerStore does. Real SQLite files, and real PostgreSQL for the
replica and production-profile tests."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from rasa.core.agent import Agent
from rasa.core.tracker_store import (
    AwaitableTrackerStore,
    FailSafeTrackerStore,
    SQLTrackerStore,
    TrackerStore,
)
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    DefinePrevUserUtteredFeaturization,
    EntitiesAdded,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from assistant.tracker_store import CachedSQLTrackerStore

ROOT = Path(__file__).resolve().parents[2]
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
PG_TEST_DB = "coa_test_trackerstore"

DOMAIN_YAML = """
version: "3.1"
intents: [beschrijf_situatie, ja, nee, opnieuw]
entities: [relatie]
slots:
  location: {type: text, influence_conversation: false, mappings: [{type: custom}]}
  protocol: {type: text, influence_conversation: true, mappings: [{type: custom}]}
  protocol_step: {type: text, influence_conversation: true, mappings: [{type: custom}]}
  acute: {type: bool, influence_conversation: true, mappings: [{type: custom}]}
  misses: {type: float, influence_conversation: false, mappings: [{type: custom}]}
  protocol_answers: {type: list, influence_conversation: false, mappings: [{type: custom}]}
responses:
  utter_vraag: [{text: "Is er nu acuut gevaar?"}]
actions: [action_start_protocol, action_record_decision]
forms:
  protocol_form: {required_slots: []}
"""


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.from_yaml(DOMAIN_YAML)


# --- scripted conversations -------------------------------------------------------------
# Fresh event objects with fixed timestamps on every call, so two stores can be fed the
# very same conversation (Rasa mutates events in place, they must not be shared).

T0 = 1_790_000_000.0


class Script:
    def __init__(self, start: float = T0) -> None:
        self.now = start

    def ts(self, step: float = 0.01) -> float:
        self.now += step
        return round(self.now, 6)

    def session_start(self) -> list[Event]:
        return [
            SlotSet("location", "TERAPEL", timestamp=self.ts()),
            ActionExecuted("action_session_start", timestamp=self.ts()),
            SessionStarted(timestamp=self.ts()),
            SlotSet("location", "TERAPEL", timestamp=self.ts()),
            ActionExecuted("action_listen", timestamp=self.ts()),
        ]

    def user(self, text: str, intent: str, entities: list[dict] | None = None) -> list[Event]:
        entities = entities or []
        parse_data = {
            "text": text,
            "intent": {"name": intent, "confidence": 0.93},
            "entities": entities,
            "intent_ranking": [{"name": intent, "confidence": 0.93}, {"name": "nee", "confidence": 0.07}],
            "message_id": f"m-{self.now}",
            "metadata": {"location": "TERAPEL"},
        }
        if not text.startswith("/"):
            # Rasa NLU's parse of typed text has the token offsets as tuples; the rows
            # (JSON) hold lists. A button payload goes through the regex parser: none.
            parse_data["text_tokens"] = [(0, min(3, len(text))), (min(4, len(text)), len(text))]
        return [
            UserUttered(text, parse_data["intent"], entities, parse_data, timestamp=self.ts(),
                        input_channel="rest", message_id=parse_data["message_id"], metadata={"location": "TERAPEL"}),
            DefinePrevUserUtteredFeaturization(False, timestamp=self.ts()),
        ]

    def protocol_turn(self, text: str, intent: str, step: str, n: int) -> list[Event]:
        return [
            *self.user(text, intent, [{"entity": "relatie", "value": "broer", "start": 0, "end": 5}] if n == 0 else []),
            EntitiesAdded([{"entity": "relatie", "value": "broer"}], timestamp=self.ts()) if n == 0 else
            SlotSet("misses", float(n), timestamp=self.ts()),
            ActionExecuted("protocol_form", timestamp=self.ts()),
            ActiveLoop("protocol_form", timestamp=self.ts()),
            SlotSet("protocol", "eergerelateerd_geweld", timestamp=self.ts()),
            SlotSet("protocol_step", step, timestamp=self.ts()),
            SlotSet("acute", n % 2 == 0, timestamp=self.ts()),
            SlotSet("protocol_answers", [f"antwoord-{i}" for i in range(n)], timestamp=self.ts()),
            BotUttered(f"Vraag {n}: {step}?", {"buttons": [{"title": "Ja", "payload": "/ja"}]},
                       {"utter_action": "utter_vraag"}, timestamp=self.ts()),
            ActionExecuted("action_listen", timestamp=self.ts()),
        ]

    def restart(self) -> list[Event]:
        return [
            *self.user("opnieuw", "opnieuw"),
            ActionExecuted("action_restart", timestamp=self.ts()),
            Restarted(timestamp=self.ts()),
            ActionExecuted("action_listen", timestamp=self.ts()),
        ]


def conversation() -> list[list[Event]]:
    """Turns of one conversation: a session start, protocol questions, a restart, a new
    session, an expired session started again, and an event stamped (clock stepped
    back) before the current session start, which Rasa's retrieve leaves out."""
    s = Script()
    turns = [[*s.session_start(), *s.protocol_turn("mijn broer bedreigt haar", "beschrijf_situatie", "acuut", 0)]]
    turns += [s.protocol_turn(text, "nee", f"stap_{n}", n) for n, text in enumerate(["nee", "/ja", "/nee", "/ja"], 1)]
    turns += [s.restart()]
    turns += [[*s.session_start(), *s.protocol_turn("opnieuw begonnen", "beschrijf_situatie", "acuut", 0)]]
    turns += [s.protocol_turn("ja", "ja", "stap_1", 1)]
    s.ts(4000.0)  # session expired (Rasa: new session on the next message)
    turns += [[*s.session_start(), *s.protocol_turn("na de pauze", "beschrijf_situatie", "acuut", 0)]]
    turns += [s.protocol_turn("/nee", "nee", "stap_1", 1)]
    stepped_back = s.protocol_turn("/ja", "ja", "stap_2", 2)
    stepped_back[3].timestamp = stepped_back[3].timestamp - 100.0  # before the session start
    turns += [stepped_back]
    turns += [s.protocol_turn(text, "nee", f"stap_{n}", n) for n, text in enumerate(["/nee", "nee", "/nee"], 3)]
    return turns


# --- helpers ----------------------------------------------------------------------------


def state(tracker: DialogueStateTracker | None) -> dict | None:
    return None if tracker is None else tracker.current_state(EventVerbosity.ALL)


async def run_turn(store: TrackerStore, sender: str, events: list[Event]) -> DialogueStateTracker:
    """What Rasa's processor does with the store in one turn: get (or create) the
    tracker, update it in place, save it."""
    tracker = await store.get_or_create_tracker(sender, append_action_listen=False)
    for event in events:
        tracker.update(event)
    await store.save(tracker)
    return tracker


def rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT sender_id, type_name, timestamp, intent_name, action_name, data FROM events ORDER BY id"
        ).fetchall()


@pytest.fixture
def stores(domain: Domain) -> Iterator[Callable[..., SQLTrackerStore]]:
    """`make(cls, path or **kwargs)` for SQL stores that are disposed of afterwards."""
    made: list[SQLTrackerStore] = []

    def make(cls: type[SQLTrackerStore] = CachedSQLTrackerStore, path: Path | None = None, **kwargs) -> SQLTrackerStore:
        if path is not None:
            kwargs = {"dialect": "sqlite", "db": str(path), **kwargs}
        store = cls(domain=domain, **kwargs)
        made.append(store)
        return store

    yield make
    for store in made:
        store.engine.dispose()


@pytest.fixture
def superclass_reads(monkeypatch) -> dict[int, int]:
    """Counts Rasa's own database reads (`SQLTrackerStore._retrieve`) per store."""
    counts: dict[int, int] = {}
    original = SQLTrackerStore._retrieve

    async def counting(self, sender_id, fetch_events_from_all_sessions):
        counts[id(self)] = counts.get(id(self), 0) + 1
        return await original(self, sender_id, fetch_events_from_all_sessions)

    monkeypatch.setattr(SQLTrackerStore, "_retrieve", counting)
    return counts


# --- SQLite -----------------------------------------------------------------------------


async def test_same_rows_and_same_trackers_as_rasas_sql_store(tmp_path, stores, superclass_reads) -> None:
    """The whole scripted conversation through both stores: identical rows (ids aside),
    and after every turn our retrieve equals Rasa's retrieve, both of its own file and of
    ours, including after the restart, the session starts and the stepped-back clock."""
    ours_path, plain_path = tmp_path / "ours.db", tmp_path / "plain.db"
    ours = stores(CachedSQLTrackerStore, ours_path)
    plain = stores(SQLTrackerStore, plain_path)
    reader = stores(SQLTrackerStore, ours_path)  # Rasa's store reading our file

    turns_a, turns_b = conversation(), conversation()
    hits, same_object = [], []
    for number, (events_ours, events_plain) in enumerate(zip(turns_a, turns_b, strict=True)):
        saved = await run_turn(ours, "gesprek-1", events_ours)
        await run_turn(plain, "gesprek-1", events_plain)

        reads_before = superclass_reads.get(id(ours), 0)
        got = await ours.retrieve("gesprek-1")
        expected = state(await reader.retrieve("gesprek-1"))
        assert state(got) == expected, f"turn {number}"
        assert state(await plain.retrieve("gesprek-1")) == expected, f"turn {number}"
        if superclass_reads.get(id(ours), 0) == reads_before:
            hits.append(number)  # served from memory, without Rasa's read
        if got is saved:
            same_object.append(number)
        assert rows(ours_path) == rows(plain_path), f"turn {number}"
        # Rasa's full tracker (all sessions) is untouched superclass behaviour.
        assert state(await ours.retrieve_full_tracker("gesprek-1")) == state(
            await plain.retrieve_full_tracker("gesprek-1")
        )

    assert rows(ours_path), "rows were written"
    # Turns within a session are served from memory; not those that start a session (0,
    # 6, 8) or restart (5), nor the one whose event falls before the session start (10).
    assert hits == [1, 2, 3, 4, 7, 9, 11, 12, 13]
    # After a typed message (text_tokens) the cache holds the tracker replayed over the
    # stored JSON of the new events; after a button payload, the saved object itself.
    assert same_object == [2, 3, 4, 9, 11, 13]


async def test_a_session_start_or_restart_drops_the_cached_tracker(tmp_path, stores) -> None:
    store = stores(CachedSQLTrackerStore, tmp_path / "t.db")
    s = Script()
    first = await run_turn(store, "g", [*s.session_start(), *s.protocol_turn("hoi", "beschrijf_situatie", "acuut", 0)])
    assert store.cached_conversations() == 0  # events before the SessionStarted are in memory only

    tracker = await store.retrieve("g")
    assert tracker is not first
    assert isinstance(tracker.events[0], SessionStarted)  # Rasa: events since the session start
    assert await store.retrieve("g") is tracker

    await run_turn(store, "g", s.restart())
    assert store.cached_conversations() == 0
    after_restart = await store.retrieve("g")
    assert after_restart is not tracker
    assert after_restart.slots["protocol_step"].value is None  # replayed: the restart reset it
    assert store.cached_conversations() == 1


async def test_another_replica_writing_invalidates_the_cache(tmp_path, stores) -> None:
    path = tmp_path / "shared.db"
    await _two_replicas(stores(CachedSQLTrackerStore, path), stores(CachedSQLTrackerStore, path),
                        stores(SQLTrackerStore, path))


async def test_a_save_racing_another_replica_writes_what_rasas_store_writes(tmp_path, stores) -> None:
    """Two replicas writing one conversation at once (the lock store prevents it): the
    stale replica's save must not trust its cache but count the stored events as Rasa
    does, so the rows end up exactly as with Rasa's store."""
    ours, plain = tmp_path / "ours.db", tmp_path / "plain.db"
    for cls, path in ((CachedSQLTrackerStore, ours), (SQLTrackerStore, plain)):
        first, second = stores(cls, path), stores(cls, path)
        s = Script()
        await run_turn(first, "g", [*s.session_start(), *s.protocol_turn("hoi", "beschrijf_situatie", "acuut", 0)])
        await run_turn(first, "g", s.protocol_turn("nee", "nee", "stap_1", 1))
        stale = await first.retrieve("g")
        await run_turn(second, "g", s.protocol_turn("ja", "ja", "stap_2", 2))
        for event in s.protocol_turn("nee", "nee", "stap_3", 3):
            stale.update(event)
        await first.save(stale)
        assert state(await first.retrieve("g")) == state(await stores(SQLTrackerStore, path).retrieve("g"))
    assert rows(ours) == rows(plain)


async def test_an_unsaved_change_to_the_tracker_is_not_served_from_the_cache(tmp_path, stores) -> None:
    """Rasa updates the retrieved object in place; a turn that fails before its save
    must not leave its events in the next turn's tracker."""
    path = tmp_path / "t.db"
    store, reader = stores(CachedSQLTrackerStore, path), stores(SQLTrackerStore, path)
    s = Script()
    await run_turn(store, "g", [*s.session_start(), *s.protocol_turn("hoi", "beschrijf_situatie", "acuut", 0)])
    await run_turn(store, "g", s.protocol_turn("nee", "nee", "stap_1", 1))
    cached = await store.retrieve("g")
    assert await store.retrieve("g") is cached

    for event in s.protocol_turn("niet opgeslagen", "ja", "stap_9", 9):
        cached.update(event)  # the turn fails here: no save

    fresh = await store.retrieve("g")
    assert fresh is not cached
    assert state(fresh) == state(await reader.retrieve("g"))
    assert "niet opgeslagen" not in [getattr(e, "text", None) for e in fresh.events]
    assert fresh.slots["protocol_step"].value == "stap_1"
    # The fresh object is cached in turn, and the next turn builds on it.
    assert await store.retrieve("g") is fresh
    saved = await run_turn(store, "g", s.protocol_turn("ja", "ja", "stap_2", 2))
    assert saved is fresh
    assert state(await store.retrieve("g")) == state(await reader.retrieve("g"))


async def test_the_cache_is_bounded_and_an_evicted_conversation_is_read_again(tmp_path, stores) -> None:
    path = tmp_path / "t.db"
    store, reader = stores(CachedSQLTrackerStore, path, cache_size=2), stores(SQLTrackerStore, path)
    for sender in ("a", "b", "c"):
        s = Script()
        await run_turn(store, sender, [*s.session_start(), *s.protocol_turn("hoi", "beschrijf_situatie", "x", 0)])
        await run_turn(store, sender, s.protocol_turn("nee", "nee", "stap_1", 1))
    assert store.cached_conversations() == 2
    for sender in ("a", "b", "c"):
        assert state(await store.retrieve(sender)) == state(await reader.retrieve(sender))
    assert store.cached_conversations() == 2

    off = stores(CachedSQLTrackerStore, path, cache_size=0)
    assert state(await off.retrieve("a")) == state(await reader.retrieve("a"))
    assert off.cached_conversations() == 0


async def test_an_idle_conversation_leaves_the_cache(tmp_path, stores, superclass_reads) -> None:
    """cache_ttl: a conversation without a turn for that long is read from the database
    again and no longer held in memory; one deleted by the retention job is gone."""
    path = tmp_path / "t.db"
    store = stores(CachedSQLTrackerStore, path, cache_ttl=60)
    now = [1000.0]
    store._clock = lambda: now[0]
    for sender in ("a", "b"):
        s = Script()
        await run_turn(store, sender, [*s.session_start(), *s.protocol_turn("hoi", "beschrijf_situatie", "x", 0)])
        await run_turn(store, sender, s.protocol_turn("/nee", "nee", "stap_1", 1))
    assert store.cached_conversations() == 2

    now[0] += 50
    reads = superclass_reads.get(id(store), 0)
    await store.retrieve("a")  # served, and "a" is used again
    assert superclass_reads.get(id(store), 0) == reads
    now[0] += 30  # "b" idle for 80 s, "a" for 30 s
    await store.retrieve("a")
    assert store.cached_conversations() == 1
    await store.retrieve("b")
    assert superclass_reads.get(id(store), 0) == reads + 1

    with sqlite3.connect(path) as conn:  # the retention job (api/retention.py)
        conn.execute("DELETE FROM events WHERE sender_id = 'a'")
    assert await store.retrieve("a") is None
    assert store.cached_conversations() == 1


async def test_unknown_conversation_and_new_domain(tmp_path, stores, domain) -> None:
    store = stores(CachedSQLTrackerStore, tmp_path / "t.db")
    assert await store.retrieve("onbekend") is None
    assert not await store.exists("onbekend")
    tracker = await store.get_or_create_tracker("nieuw")  # Rasa's create + save
    assert [e.as_dict()["name"] for e in tracker.events] == ["action_listen"]
    assert state(await store.retrieve("nieuw")) == state(tracker)

    cached = await store.retrieve("nieuw")
    assert await store.retrieve("nieuw") is cached
    store.domain = Domain.from_yaml(DOMAIN_YAML)  # a model reload brings a new domain
    assert await store.retrieve("nieuw") is not cached


# --- endpoints: what Rasa builds from our files ------------------------------------------


def _unwrap(store: TrackerStore) -> TrackerStore:
    while isinstance(store, (AwaitableTrackerStore, FailSafeTrackerStore)):
        store = store._tracker_store
    return store


async def test_assistant_endpoints_build_the_cached_store(tmp_path, monkeypatch, domain) -> None:
    """assistant/endpoints.yml as is (Rasa silently falls back to an in-memory store when
    a custom type does not import): run from a scratch directory so that its relative
    `db: var/rasa_tracker.db` lands there, then as Rasa's Agent wraps it."""
    (tmp_path / "var").mkdir()
    monkeypatch.chdir(tmp_path)
    endpoints = AvailableEndpoints.read_endpoints(str(ROOT / "assistant" / "endpoints.yml"))
    assert endpoints.tracker_store.kwargs["dialect"] == "sqlite"
    created = TrackerStore.create(endpoints.tracker_store, domain)
    agent_store = Agent._create_tracker_store(created, domain)  # what `rasa run` serves from
    store = _unwrap(agent_store)
    try:
        assert isinstance(store, CachedSQLTrackerStore)
        assert Path(store.engine.url.database) == Path("var/rasa_tracker.db")
        s = Script()
        await run_turn(agent_store, "g", [*s.session_start(), *s.protocol_turn("hoi", "beschrijf_situatie", "x", 0)])
        assert (tmp_path / "var" / "rasa_tracker.db").exists()
        assert len(rows(tmp_path / "var" / "rasa_tracker.db")) == 16
    finally:
        store.engine.dispose()


async def test_a_test_stack_points_the_cached_store_at_its_own_state_dir(tmp_path, domain) -> None:
    """scripts/stack.py rewrites `db` for a test stack (dialect sqlite) and keeps the type."""
    import yaml

    from scripts.stack import Stack

    stack = Stack(env={}, state_dir=tmp_path / "state")
    stack.state.mkdir()
    path = stack.endpoints_file()
    written = yaml.safe_load(Path(path).read_text())["tracker_store"]
    assert written["type"] == "assistant.tracker_store.CachedSQLTrackerStore"
    assert written["db"] == str(tmp_path / "state" / "rasa_tracker.db")
    store = _unwrap(TrackerStore.create(AvailableEndpoints.read_endpoints(path).tracker_store, domain))
    try:
        assert isinstance(store, CachedSQLTrackerStore)
        assert store.engine.url.database == str(tmp_path / "state" / "rasa_tracker.db")
    finally:
        store.engine.dispose()


PRODUCTION_ENV = {
    "ACTION_SERVER_URL": "http://127.0.0.1:5055/webhook", "COA_ACTION_SERVER_TOKEN": "t",
    "DB_HOST": PG["host"], "DB_PORT": str(PG["port"]), "RASA_TRACKER_DB": PG_TEST_DB,
    "DB_USER": PG["user"], "DB_PASSWORD": "", "DB_LOGIN_DB": "postgres",
    "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6379", "REDIS_LOCK_DB": "1", "REDIS_PASSWORD": "",
    "REDIS_LOCK_PREFIX": "coatest",
}


def test_production_endpoints_name_the_cached_store(monkeypatch) -> None:
    """Without a database: the type in deploy/endpoints.production.yml imports as our class
    (the full build against PostgreSQL is in the postgres test below)."""
    from rasa.shared.utils.common import class_from_module_path

    for key, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(key, value)
    config = AvailableEndpoints.read_endpoints(str(ROOT / "deploy" / "endpoints.production.yml")).tracker_store
    assert class_from_module_path(config.type) is CachedSQLTrackerStore
    assert config.kwargs["dialect"] == "postgresql"


# --- PostgreSQL: two replicas on one database, the production profile --------------------


def _admin() -> object:
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", connect_timeout=3, **PG)
    conn.autocommit = True
    return conn


def _drop_test_database() -> None:
    conn = _admin()
    try:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {PG_TEST_DB} WITH (FORCE)")
    finally:
        conn.close()


@pytest.fixture
def postgres() -> Iterator[None]:
    """An empty database `coa_test_trackerstore` name reserved for these tests (created
    by the store through `login_db`, as in production), dropped afterwards."""
    import psycopg2

    try:
        _drop_test_database()
    except psycopg2.OperationalError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI: {error}")
        pytest.skip(f"PostgreSQL not reachable at {PG['host']}:{PG['port']}: {error}")
    yield
    _drop_test_database()


async def _two_replicas(first: CachedSQLTrackerStore, second: CachedSQLTrackerStore, reader: SQLTrackerStore) -> None:
    """Turns of one conversation alternate between two replicas sharing one database."""
    s = Script()
    t1 = await run_turn(first, "g", [*s.session_start(), *s.protocol_turn("hoi", "beschrijf_situatie", "acuut", 0)])
    # Button payloads: the saved object itself stays cached (typed text: see above).
    t1 = await run_turn(first, "g", s.protocol_turn("/nee", "nee", "stap_1", 1))
    assert await first.retrieve("g") is t1  # cached

    t2 = await run_turn(second, "g", s.protocol_turn("/ja", "ja", "stap_2", 2))
    assert t2 is not t1
    got = await first.retrieve("g")
    assert got is not t1, "the other replica's write must refresh the cache"
    assert state(got) == state(await reader.retrieve("g")) == state(t2)
    assert got.slots["protocol_step"].value == "stap_2"

    t1 = await run_turn(first, "g", s.protocol_turn("/nee", "nee", "stap_3", 3))
    assert t1 is got
    assert state(await second.retrieve("g")) == state(await reader.retrieve("g")) == state(t1)
    assert (await second.retrieve("g")).slots["protocol_step"].value == "stap_3"

    # Every event stored once, in order.
    stored = list((await reader.retrieve_full_tracker("g")).events)
    assert [e.timestamp for e in stored] == sorted(e.timestamp for e in stored)
    assert len(stored) == len({e.timestamp for e in stored}) == 5 + 4 * 11


@pytest.mark.postgres
async def test_postgresql_replicas_and_the_production_endpoints(postgres, monkeypatch, stores, domain) -> None:
    for key, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(key, value)
    config = AvailableEndpoints.read_endpoints(str(ROOT / "deploy" / "endpoints.production.yml")).tracker_store
    first = _unwrap(TrackerStore.create(config, domain))  # creates the database via login_db
    try:
        assert isinstance(first, CachedSQLTrackerStore)
        assert first.engine.dialect.name == "postgresql"
        assert first.engine.url.database == PG_TEST_DB
        pg = {"dialect": "postgresql", "host": PG["host"], "port": PG["port"], "db": PG_TEST_DB,
              "username": PG["user"], "password": ""}
        second = stores(CachedSQLTrackerStore, **pg)
        reader = stores(SQLTrackerStore, **pg)
        await _two_replicas(first, second, reader)

        # Rows as Rasa writes them, and one conversation through the plain store alongside.
        plain_events, ours_events = conversation(), conversation()
        for ours_turn, plain_turn in zip(ours_events, plain_events, strict=True):
            await run_turn(first, "ours", ours_turn)
            await run_turn(reader, "plain", plain_turn)
            assert state(await first.retrieve("ours")) == state(await reader.retrieve("ours"))
        columns = "type_name, timestamp, intent_name, action_name, data"
        with reader.engine.connect() as conn:
            ours_rows = conn.execute(sa.text(f"SELECT {columns} FROM events WHERE sender_id='ours' ORDER BY id")).all()
            plain_rows = conn.execute(
                sa.text(f"SELECT {columns} FROM events WHERE sender_id='plain' ORDER BY id")
            ).all()
        assert ours_rows == plain_rows and ours_rows
    finally:
        first.engine.dispose()


async def test_sqlite_commits_through_a_write_ahead_log_synced_on_every_commit(tmp_path, stores) -> None:
    path = tmp_path / "wal.db"
    store = stores(CachedSQLTrackerStore, path)
    await run_turn(store, "gesprek-wal", conversation()[0])
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    with sqlite3.connect(path) as other:  # kept in the file: any reader sees the log mode
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert rows(path), "the turn is committed"


def _long_conversation(store: CachedSQLTrackerStore, sender: str, rows: int, others: int = 200) -> None:
    """``rows`` events of ``sender`` interleaved with 20 times as many of ``others`` other
    conversations (a store serves many counsellors)."""
    insert = sa.text("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (:s, 'slot', :t, '{}')")
    with store.engine.begin() as conn:
        conn.execute(insert, [{"s": sender if i % 21 == 0 else f"other-{i % others}", "t": float(i)}
                              for i in range(21 * rows)])


async def test_the_fingerprint_reads_the_ends_of_an_index_not_the_whole_conversation(tmp_path, stores) -> None:
    """Issue 16: a conversation that holds months of sessions costs no more per turn: the
    fingerprint (newest and oldest row id) and the appended-rows check are index lookups
    in SQLite's plan, never a scan of the conversation's rows."""
    from assistant.tracker_store import _APPENDED, _FINGERPRINT

    store = stores(path=tmp_path / "t.db")
    _long_conversation(store, "long", 2_000)
    _long_conversation(store, "short", 20)
    with store.engine.connect() as conn:
        assert store._fingerprint(conn, "long")[1] < store._fingerprint(conn, "long")[0]
        for statement, params in ((_FINGERPRINT, {"sender_id": "long"}),
                                  (_APPENDED, {"sender_id": "long", "after_id": 1990})):
            sql = str(statement.params(**params).compile(store.engine, compile_kwargs={"literal_binds": True}))
            plan = " | ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", ()))
            assert "SCAN events" not in plan and "SCAN TABLE" not in plan, plan
            # Which of the two indexes SQLite picks differs between machines: Rasa's on
            # sender_id and ours on (sender_id, id) are the same order in SQLite, whose
            # index entries end with the row id. What counts is the work, below.
            assert "USING COVERING INDEX ix_events_sender_id" in plan, plan

        def steps(statement: sa.Select, params: dict) -> int:
            """SQLite virtual-machine instructions the statement runs: grows with the rows it reads."""
            count = [0]
            raw = conn.connection.driver_connection
            raw.set_progress_handler(lambda: count.__setitem__(0, count[0] + 1) or 0, 1)
            try:
                conn.execute(statement, params).all()
            finally:
                raw.set_progress_handler(None, 1)
            return count[0]

        # A conversation of 2,000 rows costs what one of 20 rows costs: the ends of an index.
        assert steps(_FINGERPRINT, {"sender_id": "long"}) <= steps(_FINGERPRINT, {"sender_id": "short"}) + 10
        newest = store._fingerprint(conn, "long")[0]
        appended_long = steps(_APPENDED, {"sender_id": "long", "after_id": newest - 21 * 10})
        newest_short = store._fingerprint(conn, "short")[0]
        assert appended_long <= steps(_APPENDED, {"sender_id": "short", "after_id": newest_short - 21 * 10}) + 10
        assert conn.execute(_APPENDED, {"sender_id": "long", "after_id": newest - 21 * 10}).scalar_one() == 10


@pytest.mark.postgres
async def test_the_fingerprint_is_an_index_lookup_on_postgresql(postgres, stores) -> None:
    from assistant.tracker_store import _FINGERPRINT

    store = stores(CachedSQLTrackerStore, dialect="postgresql", host=PG["host"], port=PG["port"], db=PG_TEST_DB,
                   username=PG["user"], password="", login_db="postgres")
    _long_conversation(store, "long", 2_000)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE events")
        sql = str(_FINGERPRINT.params(sender_id="long").compile(store.engine, compile_kwargs={"literal_binds": True}))
        plan = "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql.replace('%%', '%')}"))
    # Both ends through the (sender_id, id) index, one row each (min/max as LIMIT 1): no
    # aggregate over the conversation's rows.
    assert plan.count("Limit") == 2 and plan.count("ix_events_sender_id_id") == 2, plan
    assert "Seq Scan" not in plan and "Bitmap" not in plan, plan


@pytest.mark.postgres
def test_two_replicas_starting_together_on_a_new_database_both_start(postgres, stores, monkeypatch) -> None:
    """CI's scale-out smoke started two replicas at once: both found the (sender_id, id)
    index missing and the second's CREATE INDEX failed on PostgreSQL's catalogue, so that
    replica exited. The barrier makes that interleaving certain: both look, then both
    create."""
    pg = {"dialect": "postgresql", "host": PG["host"], "port": PG["port"], "db": PG_TEST_DB,
          "username": PG["user"], "password": "", "login_db": "postgres"}
    # Rasa's table as scripts/scale_stack.py creates it before the replicas start: by a
    # plain SQLTrackerStore in a process that never imported ours, so without our index.
    plain = stores(SQLTrackerStore, **pg)
    with plain.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_events_sender_id_id")
    dialect_class = type(plain.engine.dialect)
    has_index = dialect_class.has_index
    both_looked = threading.Barrier(2, timeout=30)
    found_missing: list[str] = []

    def look_then_wait(self, connection, table_name, index_name, schema=None, **kw) -> bool:
        exists = has_index(self, connection, table_name, index_name, schema=schema, **kw)
        if index_name == "ix_events_sender_id_id":
            if not exists:
                found_missing.append(threading.current_thread().name)
            both_looked.wait()
        return exists

    monkeypatch.setattr(dialect_class, "has_index", look_then_wait)
    failures: list[BaseException] = []

    def start_replica() -> None:
        try:
            stores(CachedSQLTrackerStore, **pg)
        except BaseException as error:  # reported by the assertion below
            failures.append(error)

    replicas = [threading.Thread(target=start_replica, name=f"rasa-{n}") for n in (1, 2)]
    for replica in replicas:
        replica.start()
    for replica in replicas:
        replica.join(60)

    assert sorted(found_missing) == ["rasa-1", "rasa-2"], "both replicas must have found the index missing"
    assert failures == []
    with plain.engine.connect() as conn:
        names = [index["name"] for index in sa.inspect(conn).get_indexes("events")]
    assert names.count("ix_events_sender_id_id") == 1

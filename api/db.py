"""Engine, session factory and the ``SessionDep`` dependency."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from api.config import REPO_ROOT, get_settings

#: An execution option: the transaction begins IMMEDIATE on SQLite (see _configure_sqlite).
SQLITE_WRITE_OPTION = "coa_sqlite_write"
#: Requests that only read; every other method may write.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def resolve_database_url(url: str) -> str:
    """Make a relative SQLite path relative to the repository root, not to the cwd.

    ``make run``, the tests and alembic start from different directories; they must
    all find the same ``var/coa.db``.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return url
    path = Path(parsed.database)
    if not path.is_absolute():
        path = REPO_ROOT / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return parsed.set(database=str(path)).render_as_string(hide_password=False)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling breaks SAVEPOINT (used for the
        # idempotency race and the test fixture): let SQLAlchemy emit BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # Write-ahead log: a commit appends to one file and syncs it once, where the
        # rollback journal wrote and synced the journal, the database and the folder
        # (an incident's write took 12.7 ms, 8.5 ms in WAL: bench/results.md), and a
        # reader (the dashboard, the key positions) never waits for a writer. FULL: a
        # committed decision survives a power cut, as with the journal.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that read first and then wants to write, while another
        # one holds the write lock, gets "database is locked" at once: SQLite does not
        # wait there (it would deadlock). A writing transaction takes the lock at BEGIN
        # instead, where it waits its turn (the driver's 5 s busy timeout).
        immediate = conn.get_execution_options().get(SQLITE_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = resolve_database_url(url)
    is_sqlite = make_url(url).get_backend_name() == "sqlite"
    if is_sqlite:
        # FastAPI runs sync dependencies and endpoints on different worker threads.
        kwargs.setdefault("connect_args", {"check_same_thread": False})
    else:
        kwargs.setdefault("pool_pre_ping", True)
    # Statement parameters hold answers and notes: never in an error message or log (issue 14).
    kwargs.setdefault("hide_parameters", True)
    engine = create_engine(url, **kwargs)
    if is_sqlite:
        _configure_sqlite(engine)
    return engine


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@lru_cache(maxsize=1)
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@lru_cache(maxsize=1)
def get_write_sessionmaker() -> sessionmaker[Session]:
    """Sessions for work that writes: on SQLite their transactions begin IMMEDIATE (the
    same as ``get_sessionmaker`` on PostgreSQL)."""
    engine = get_engine().execution_options(**{SQLITE_WRITE_OPTION: True})
    return sessionmaker(bind=engine, expire_on_commit=False)


def get_session(request: Request) -> Iterator[Session]:
    maker = get_sessionmaker() if request.method in READ_METHODS else get_write_sessionmaker()
    with maker() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

"""Two writing transactions at once on the embedded SQLite database (issue 16: the
history smoke saw a 500 "database is locked" when a session-log batch and an incident
were written together; the decision was queued, not lost, but the API must not refuse).

A write request's transaction begins IMMEDIATE (api/db.py): the second writer waits at
BEGIN for the first to commit. The control shows the same overlap failing with SQLite's
deferred BEGIN, so the first test would fail without the fix."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from starlette.requests import Request

from api import db
from api.db import SQLITE_WRITE_OPTION, make_engine


def _overlapping_writers(engine: Engine) -> list[BaseException]:
    """A reads and writes, then holds its transaction open while B reads and writes."""
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS entries (writer TEXT)")
    a_wrote, b_started = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer_a() -> None:
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql("SELECT count(*) FROM entries").scalar()
                connection.exec_driver_sql("INSERT INTO entries VALUES ('a')")
                a_wrote.set()
                b_started.wait(timeout=5)
                time.sleep(0.3)  # B reads (deferred) or waits at BEGIN (immediate) meanwhile
        except BaseException as exc:
            errors.append(exc)
            a_wrote.set()

    def writer_b() -> None:
        a_wrote.wait(timeout=5)
        b_started.set()
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql("SELECT count(*) FROM entries").scalar()
                time.sleep(0.05)
                connection.exec_driver_sql("INSERT INTO entries VALUES ('b')")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer_a), threading.Thread(target=writer_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    return errors


def test_overlapping_write_transactions_both_commit(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'writes.db'}").execution_options(**{SQLITE_WRITE_OPTION: True})
    assert _overlapping_writers(engine) == []
    with engine.connect() as connection:
        assert sorted(connection.exec_driver_sql("SELECT writer FROM entries").scalars()) == ["a", "b"]


def test_control_the_same_overlap_fails_with_a_deferred_begin(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'writes.db'}", connect_args={"check_same_thread": False, "timeout": 1})
    errors = _overlapping_writers(engine)
    assert errors and all(isinstance(error, OperationalError) for error in errors), errors
    assert "database is locked" in str(errors[0])


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"])
def test_a_request_that_may_write_gets_a_writing_session(
    method: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(db, "get_engine", lambda: make_engine(f"sqlite:///{tmp_path / 'requests.db'}"))
    db.get_sessionmaker.cache_clear()
    db.get_write_sessionmaker.cache_clear()
    try:
        sessions = db.get_session(Request({"type": "http", "method": method, "headers": [], "path": "/"}))
        session = next(sessions)
        options = session.connection().get_execution_options()
        assert options.get(SQLITE_WRITE_OPTION, False) is (method not in ("GET", "HEAD", "OPTIONS"))
        sessions.close()
    finally:
        db.get_sessionmaker.cache_clear()
        db.get_write_sessionmaker.cache_clear()


def test_the_embedded_database_keeps_a_synced_write_ahead_log(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        connection.exec_driver_sql("CREATE TABLE entries (writer TEXT)")
        connection.exec_driver_sql("INSERT INTO entries VALUES ('a')")
    assert (tmp_path / "wal.db-wal").exists()


def test_a_reader_does_not_wait_for_an_open_write(tmp_path: Path) -> None:
    """The dashboard or the key positions read while a decision is being written: with
    the rollback journal a reader waits once the writer's pages reach the file."""
    engine = make_engine(f"sqlite:///{tmp_path / 'reads.db'}",
                         connect_args={"check_same_thread": False, "timeout": 0.2})
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE entries (writer TEXT)")
        connection.exec_driver_sql("INSERT INTO entries VALUES ('before')")
    writer = engine.execution_options(**{SQLITE_WRITE_OPTION: True}).connect()
    transaction = writer.begin()
    try:
        # Enough rows to spill the writer's page cache into the database file.
        writer.exec_driver_sql("PRAGMA cache_size=10")
        for index in range(3000):
            writer.exec_driver_sql(f"INSERT INTO entries VALUES ('{index:04d}{'x' * 200}')")
        with engine.connect() as reader:
            assert reader.exec_driver_sql("SELECT count(*) FROM entries").scalar() == 1
    finally:
        transaction.rollback()
        writer.close()

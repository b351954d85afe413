"""The Alembic migrations build exactly the models' schema, and tear it down again."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from api.all_models import Base
from api.db import make_engine

from .conftest import REPO_ROOT, create_pg_database, drop_pg_database, postgres_url

TABLES = {"locations", "key_position_holders", "users", "incidents", "incident_review_events"}
TABLES_0002 = {"guidance_sessions", "session_events"}
#: At head: the directory with history (0006) replaced 0001's key_position_holders.
TABLES_HEAD = TABLES - {"key_position_holders"} | {"key_position_assignments"}


def _alembic(url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def _check_up_and_down(url: str) -> None:
    _alembic(url, "upgrade", "head")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) >= TABLES_HEAD | TABLES_0002
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            assert diff == [], f"models and migrations differ: {diff}"
        # The seed runs on a migrated database (what `make run` does).
        seed = subprocess.run(
            [sys.executable, "-m", "api.seed"],
            cwd=REPO_ROOT,
            env={**os.environ, "DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert seed.returncode == 0, seed.stderr
        assert "5 new locations" in seed.stdout
        _alembic(url, "downgrade", "base")
        with engine.connect() as connection:
            assert not (TABLES | TABLES_HEAD) & set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_migrations_on_sqlite(tmp_path: Path) -> None:
    _check_up_and_down(f"sqlite:///{tmp_path / 'migrated.db'}")


@pytest.mark.postgres
def test_migrations_on_a_fresh_postgres_database() -> None:
    base = make_url(postgres_url())
    url = base.set(database=f"coa_migrations_{uuid.uuid4().hex[:8]}").render_as_string(hide_password=False)
    create_pg_database(url)
    try:
        _check_up_and_down(url)
    finally:
        drop_pg_database(url)


def _check_0002_down_and_up(url: str) -> None:
    """0002 alone: down to 0001 drops its tables and indexes only, and up again."""
    _alembic(url, "upgrade", "head")
    engine = make_engine(url)
    try:
        _alembic(url, "downgrade", "0001")
        with engine.connect() as connection:
            inspector = inspect(connection)
            tables = set(inspector.get_table_names())
            assert tables >= TABLES and not tables & TABLES_0002
            review_indexes = {index["name"] for index in inspector.get_indexes("incident_review_events")}
            assert "ix_incident_review_events_incident_id_id" not in review_indexes
        _alembic(url, "upgrade", "0002")
        _alembic(url, "upgrade", "head")  # later revisions (0003 audit_log) before comparing with the models
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) >= TABLES_HEAD | TABLES_0002
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            assert diff == [], f"models and migrations differ: {diff}"
    finally:
        engine.dispose()


def test_migration_0002_down_and_up_on_sqlite(tmp_path: Path) -> None:
    _check_0002_down_and_up(f"sqlite:///{tmp_path / 'migrated-0002.db'}")


@pytest.mark.postgres
def test_migration_0002_down_and_up_on_postgres() -> None:
    base = make_url(postgres_url())
    url = base.set(database=f"coa_migrations_{uuid.uuid4().hex[:8]}").render_as_string(hide_password=False)
    create_pg_database(url)
    try:
        _check_0002_down_and_up(url)
    finally:
        drop_pg_database(url)

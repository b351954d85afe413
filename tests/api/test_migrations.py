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
            assert set(inspect(connection).get_table_names()) >= TABLES
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
            assert not TABLES & set(inspect(connection).get_table_names())
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

"""Backup and restore, tested once end to end (issue 7, part 5; docs/operations.md):
a migrated, seeded PostgreSQL database with incidents recorded through the API is
dumped with ``pg_dump -Fc`` and restored with ``pg_restore`` into a fresh database;
the API on the restored database reads the same incidents, its review history and
the Alembic revision."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from api.db import get_session, make_engine
from api.main import create_app

from .conftest import REPO_ROOT, TokenFactory, create_pg_database, drop_pg_database, postgres_url

pytestmark = pytest.mark.postgres


def _database(name: str) -> str:
    return make_url(postgres_url()).set(database=name).render_as_string(hide_password=False)


def _pg_args(url: str) -> list[str]:
    parsed = make_url(url)
    return ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres"]


def _pg_env(url: str) -> dict[str, str]:
    password = make_url(url).password
    return {**os.environ, **({"PGPASSWORD": password} if password else {})}


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, cwd=REPO_ROOT, env=env or os.environ.copy(), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, f"{argv[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _client(url: str) -> Iterator[TestClient]:
    engine = make_engine(url)
    maker = sessionmaker(bind=engine, expire_on_commit=False)

    def session() -> Iterator:
        with maker() as db:
            yield db

    app = create_app()
    app.dependency_overrides[get_session] = session
    try:
        with TestClient(app) as client:
            yield client
    finally:
        engine.dispose()


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump / pg_restore not installed")
    suffix = uuid.uuid4().hex[:8]
    source, restored = _database(f"coa_backup_src_{suffix}"), _database(f"coa_backup_dst_{suffix}")
    create_pg_database(source)
    try:
        yield source, restored
    finally:
        drop_pg_database(source)
        drop_pg_database(restored)


def test_pg_dump_and_pg_restore_keep_every_incident(databases: tuple[str, str], auth: TokenFactory,
                                                    tmp_path: Path) -> None:
    source, restored = databases
    env = {**os.environ, "DATABASE_URL": source}
    _run([sys.executable, "-m", "alembic", "upgrade", "head"], env)
    _run([sys.executable, "-m", "api.seed"], env)

    service, admin = auth("service"), auth("admin")
    with_review = None
    for client in _client(source):
        for number in range(3):
            response = client.post("/api/v1/incidents", headers=service, json={
                "idempotency_key": f"backup-{number}", "conversation_id": f"backup-conv-{number}",
                "location": "TERAPEL", "protocol": "eergerelateerd_geweld", "protocol_version": "1.0.0",
                "acute": number == 0, "referrals": ["politie", "veilig_thuis"],
                "steps": [{"step": "acuut_gevaar", "answer": "ja" if number == 0 else "nee"}],
                "outcome": "melding_veilig_thuis_acuut", "channel": "rest"})
            assert response.status_code == 201, response.text
            with_review = with_review or response.json()["id"]
        before = client.get("/api/v1/incidents", headers=admin)
        assert before.status_code == 200 and before.json()["total"] == 3
        locations = client.get("/api/v1/locations", headers=admin).json()

    dump = tmp_path / "coa.dump"
    # The documented commands (docs/operations.md).
    _run(["pg_dump", "--format=custom", "--no-owner", *_pg_args(source), "-f", str(dump),
          make_url(source).database], _pg_env(source))
    create_pg_database(restored)
    _run(["pg_restore", "--no-owner", "--exit-on-error", *_pg_args(restored), "-d", make_url(restored).database,
          str(dump)], _pg_env(restored))

    engine = make_engine(restored)
    try:
        with engine.connect() as connection:
            head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()
    heads = _run([sys.executable, "-m", "alembic", "heads"], {**os.environ, "DATABASE_URL": restored}).stdout
    assert head in heads, "the restored database is at the migrations' head"

    for client in _client(restored):
        after = client.get("/api/v1/incidents", headers=admin)
        assert after.status_code == 200
        assert after.json() == before.json()
        one = client.get(f"/api/v1/incidents/{with_review}", headers=admin)
        assert one.status_code == 200 and one.json()["id"] == with_review
        assert client.get("/api/v1/locations", headers=admin).json() == locations
        # The restored database takes new records (sequences and constraints came along),
        # and still knows the idempotency keys it had.
        again = client.post("/api/v1/incidents", headers=service, json={
            "idempotency_key": "backup-0", "conversation_id": "backup-conv-0", "location": "TERAPEL",
            "protocol": "eergerelateerd_geweld", "protocol_version": "1.0.0", "acute": True,
            "referrals": ["politie", "veilig_thuis"], "steps": [{"step": "acuut_gevaar", "answer": "ja"}],
            "outcome": "melding_veilig_thuis_acuut", "channel": "rest"})
        assert again.status_code == 200, "a known key returns the restored incident"
        assert client.get("/api/v1/incidents", headers=admin).json()["total"] == 3


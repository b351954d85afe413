"""Fixtures for the API tests.

Every test runs against both databases: a SQLite file in a temporary folder and
PostgreSQL (``TEST_DATABASE_URL``, else ``DATABASE_URL`` when it is PostgreSQL, else
``postgresql+psycopg://postgres@127.0.0.1:5432/coa_test``, created when missing).
Each test runs inside a transaction that is rolled back afterwards; the app's own
``commit()`` calls only release savepoints inside it. A test that asks for ``seeded``
runs on a twin database that holds the demo seed, committed once per run.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from api.all_models import Base
from api.auth.service import create_token
from api.config import Settings, get_settings
from api.db import get_session, make_engine
from api.knowledge_ref import get_knowledge
from api.main import create_app
from api.models_base import utcnow
from api.security.login_guard import LoginGuard
from api.seed import load_seed_data, seed

from .factories import ScopingRecords, scoping_records

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/coa_test"


def postgres_url() -> str:
    for variable in ("TEST_DATABASE_URL", "DATABASE_URL"):
        url = os.environ.get(variable)
        if url and make_url(url).get_backend_name() == "postgresql":
            return url
    return DEFAULT_PG_URL


def libpq_dsn(url: str, database: str | None = None) -> str:
    """psycopg's conninfo for a SQLAlchemy URL, optionally for another database."""
    parsed = make_url(url)
    parts = {
        "host": parsed.host or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
        "dbname": database or parsed.database,
    }
    if parsed.password:
        parts["password"] = parsed.password
    return " ".join(f"{key}={value}" for key, value in parts.items())


def create_pg_database(url: str) -> None:
    """CREATE DATABASE when missing; pytest.skip when no server answers."""
    name = make_url(url).database
    try:
        with psycopg.connect(libpq_dsn(url, "postgres"), autocommit=True, connect_timeout=3) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            # CI machines run PostgreSQL: there a missing server is a failure, not a skip.
            pytest.fail(f"PostgreSQL not reachable at {make_url(url).render_as_string()}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {make_url(url).render_as_string()}: {exc}")


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(libpq_dsn(url, "postgres"), autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'coa-test.db'}"
    else:
        url = postgres_url()
        create_pg_database(url)
    engine = make_engine(url)
    fresh_schema(engine)
    yield engine
    engine.dispose()


def twin_engine(engine: Engine, tmp_path_factory: pytest.TempPathFactory, name: str) -> Engine:
    """A new, empty database of ``engine``'s dialect, named after it with ``_<name>``."""
    if engine.dialect.name == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / f'coa-test-{name}.db'}"
    else:
        url = engine.url.set(database=f"{engine.url.database}_{name}").render_as_string(hide_password=False)
        create_pg_database(url)
    twin = make_engine(url)
    fresh_schema(twin)
    return twin


def seeded_twin(engine: Engine, tmp_path_factory: pytest.TempPathFactory, name: str) -> tuple[Engine, Session]:
    """A twin of ``engine`` with the demo seed, and a session on it to add more and commit."""
    twin = twin_engine(engine, tmp_path_factory, name)
    session = Session(twin)
    seed(session, load_seed_data())
    return twin, session


@pytest.fixture(scope="session")
def seeded_engine(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A twin of ``engine`` (same dialect) that holds the demo seed, committed once.

    Seeding inside every test's transaction cost ~0.1-0.2 s a test, for ~1,500 tests
    (issue 16: make test under 25 minutes). Tests that ask for ``seeded`` get this
    database; the others keep the empty one, so no test sees rows it did not ask for.
    """
    seeded_engine, session = seeded_twin(engine, tmp_path_factory, "seeded")
    session.close()
    yield seeded_engine
    seeded_engine.dispose()


@dataclass(frozen=True)
class MatrixDatabase:
    engine: Engine
    records: dict[str, ScopingRecords]


#: The scope and authorisation matrices: a counsellor of TERAPEL, whose records these
#: are by pseudonymous staff id, and the other location.
MATRIX_STAFF = {"TERAPEL": "stf-terapel", "BUDEL": "stf-budel"}


@pytest.fixture(scope="session")
def matrix_database(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MatrixDatabase]:
    """The seed plus each matrix location's records, committed once: ~1,800 matrix tests
    made them in their own transaction before, ~0.1 s each (issue 16). A test's writes
    are still rolled back, so every test starts from the same records."""
    matrix_engine, session = seeded_twin(engine, tmp_path_factory, "matrix")
    with session:
        now = utcnow()
        records = {location: scoping_records(session, location, staff, now) for location, staff in MATRIX_STAFF.items()}
        session.commit()
    yield MatrixDatabase(matrix_engine, records)
    matrix_engine.dispose()


@pytest.fixture
def matrix_records(matrix_database: MatrixDatabase) -> dict[str, ScopingRecords]:
    """Each matrix location's records; ``db_session`` (and ``seeded``) is then on their database."""
    return matrix_database.records


def fresh_schema(engine: Engine) -> None:
    """A test database only: start from the current models, whatever an earlier run left
    (on PostgreSQL the whole schema goes: a table a later model dropped would otherwise
    keep its foreign keys and stop ``drop_all``)."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    else:
        Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)


@pytest.fixture
def db_session(request: pytest.FixtureRequest, engine: Engine) -> Iterator[Session]:
    if "matrix_records" in request.fixturenames:
        engine = request.getfixturevalue("matrix_database").engine
    elif "seeded" in request.fixturenames:
        engine = request.getfixturevalue("seeded_engine")
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()
            transaction.rollback()


@pytest.fixture
def seeded(db_session: Session) -> Session:
    """The session on ``seeded_engine`` (``db_session`` picks it when a test asks for this)."""
    return db_session


@dataclass
class BuiltApp:
    """The app of the current settings object (``get_settings`` caches one at a time)."""

    settings: Settings | None = None
    app: FastAPI | None = None


@pytest.fixture(scope="session")
def built_app() -> BuiltApp:
    return BuiltApp()


def _shape(app: FastAPI) -> tuple[object, ...]:
    return tuple(map(id, app.router.routes)), len(app.user_middleware), tuple(app.exception_handlers)


@pytest.fixture
def app(db_session: Session, built_app: BuiltApp) -> Iterator[FastAPI]:
    """The API app, built once per settings object and reset for each test.

    A new app resolves each route's dependencies on its first request: ~0.1 s a test
    (issue 16). What a test may change is renewed here: the dependency overrides, the
    middleware (the rate limiter's counters live in its instance) and the per-account
    login guard. A test that changes the settings (``get_settings.cache_clear()``) gets
    an app built from them; an app a test added a route or handler to is not reused.
    """
    settings = get_settings()
    if built_app.app is None or built_app.settings is not settings:
        built_app.settings, built_app.app = settings, create_app()
    app = built_app.app
    app.dependency_overrides = {get_session: lambda: db_session}
    app.middleware_stack = None  # rebuilt on the first request, with fresh middleware instances
    app.state.login_guard = LoginGuard(settings.login_account_rate)
    shape = _shape(app)
    yield app
    if _shape(app) != shape:
        built_app.app = None


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture
def auth() -> TokenFactory:
    """``auth("supervisor", "BUDEL")`` → Authorization headers for such a token."""

    def make(role: str, *locations: str, sub: str | None = None) -> dict[str, str]:
        token = create_token(get_settings(), sub=sub or f"test-{role}", role=role, locations=locations)
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture(scope="session")
def protocol_id() -> str:
    """A protocol of the real knowledge package (EGG when it is there)."""
    assert "eergerelateerd_geweld" in get_knowledge().protocols
    return "eergerelateerd_geweld"


@pytest.fixture
def incident_payload(protocol_id: str) -> Callable[..., dict[str, Any]]:
    counter = iter(range(1, 1_000_000))

    def make(**overrides: Any) -> dict[str, Any]:
        number = next(counter)
        payload: dict[str, Any] = {
            "idempotency_key": f"test-key-{os.getpid()}-{number}-{id(counter)}",
            "conversation_id": f"conv-{number}",
            "location": "TERAPEL",
            "protocol": protocol_id,
            "protocol_version": "1.0.0",
            "acute": True,
            "referrals": ["politie", "veilig_thuis"],
            "steps": [{"step": "acuut_gevaar", "answer": "ja"}],
            "outcome": "melding_veilig_thuis_acuut",
            "staff_id": "stf-7c1a",
            "channel": "rest",
        }
        payload.update(overrides)
        return payload

    return make


REPO_ROOT = Path(__file__).resolve().parents[2]

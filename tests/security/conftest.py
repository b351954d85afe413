"""Fixtures for the security tests: the API fixtures (both databases, rollback per
test, seed) from tests/api."""

from __future__ import annotations

from tests.api.conftest import (  # noqa: F401 - fixtures
    app,
    auth,
    built_app,
    client,
    db_session,
    engine,
    incident_payload,
    matrix_database,
    matrix_records,
    protocol_id,
    seeded,
    seeded_engine,
)

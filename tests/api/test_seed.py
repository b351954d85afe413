"""`python -m api.seed` is idempotent and matches the knowledge package's key positions."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import knowledge
from api.auth.models import UserAccount
from api.auth.service import verify_password
from api.directory.models import KeyPositionAssignment
from api.locations.models import KEY_POSITIONS, Location
from api.seed import load_seed_data, seed

from .conftest import REPO_ROOT


def _counts(session: Session) -> tuple[int, int, int]:
    return (
        session.scalar(select(func.count()).select_from(Location)) or 0,
        session.scalar(select(func.count()).select_from(KeyPositionAssignment)) or 0,
        session.scalar(select(func.count()).select_from(UserAccount)) or 0,
    )


def test_seed_twice_changes_nothing(db_session: Session) -> None:
    data = load_seed_data()
    first = seed(db_session, data)
    after_first = _counts(db_session)
    second = seed(db_session, data)
    assert _counts(db_session) == after_first
    assert after_first == (5, 25, first.users_created)
    assert (second.locations_created, second.holders_created, second.users_created) == (0, 0, 0)


def test_seed_keeps_changed_passwords(db_session: Session) -> None:
    data = load_seed_data()
    seed(db_session, data)
    admin = db_session.scalar(select(UserAccount).where(UserAccount.username == "admin"))
    assert admin is not None and verify_password("admin-demo", admin.password_hash)
    admin.password_hash = "changed"
    db_session.commit()
    seed(db_session, data)
    db_session.refresh(admin)
    assert admin.password_hash == "changed"


def test_demo_users_cover_every_staff_role() -> None:
    roles = {user["role"] for user in load_seed_data()["users"]}
    assert roles == {"counsellor", "contact_person", "supervisor", "admin"}


def test_key_positions_match_the_knowledge_package() -> None:
    assert set(KEY_POSITIONS) == set(knowledge.KEY_POSITIONS)


def test_seed_refuses_production() -> None:
    env = {**os.environ, "COA_ENV": "production", "COA_JWT_SECRET": "a-real-secret-" + "x" * 40}
    result = subprocess.run(
        [sys.executable, "-m", "api.seed"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "production" in result.stderr

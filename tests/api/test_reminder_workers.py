"""Reminders with the API as it runs in production (issue 15, part 3): two uvicorn
workers (``python -m api.serve --workers 2``) on PostgreSQL, each running the reminder
loop, a real SMTP server (aiosmtpd). Every overdue follow-up reaches the
contactpersoon veiligheid exactly once; after a restart of the whole API, nothing is
sent twice and what became due meanwhile is sent."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.db import make_engine
from api.directory.models import KeyPositionAssignment
from api.models_base import utcnow
from api.reminders.models import FollowUpNotification
from tests.browser_support import ARTIFACTS, ROOT, free_port, shared_deidentification

from .conftest import create_pg_database, drop_pg_database, postgres_url
from .factories import make_follow_up, make_incident
from .test_reminders import CONTACT, Inbox, smtp  # noqa: F401  (the SMTP server fixture)

pytestmark = pytest.mark.postgres


@contextmanager
def _api(env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port(18790)
    base = f"http://127.0.0.1:{port}"
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 300
            while True:
                assert process.poll() is None, f"the API exited; see {log}"
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"no /health within 300 s; see {log}"
                time.sleep(0.5)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _overdue(url: str, count: int, due_in: timedelta) -> set[str]:
    engine = make_engine(url)
    references = set()
    with Session(engine) as db:
        for _ in range(count):
            incident = make_incident(db, created_at=utcnow() - timedelta(hours=30), location="TERAPEL",
                                     protocol="seksueel_geweld", staff_id="stf-7c1a")  # fmt: skip
            make_follow_up(db, incident, due_at=utcnow() + due_in)
            references.add(incident.reference)
        db.commit()
    engine.dispose()
    return references


def _settle(inbox: Inbox, expected: int, timeout: float = 90) -> None:
    """Until ``expected`` messages arrived, and then a few more rounds of both workers."""
    deadline = time.monotonic() + timeout
    while len(inbox.messages) < expected and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(3)


def test_two_api_workers_escalate_each_overdue_follow_up_once_also_after_a_restart(
    smtp: tuple[Inbox, int],  # noqa: F811
) -> None:
    inbox, smtp_port = smtp
    url = postgres_url() + "_reminder_workers"
    drop_pg_database(url)
    create_pg_database(url)
    env = {**os.environ, "DATABASE_URL": url, "COA_SMTP_HOST": "127.0.0.1", "COA_SMTP_PORT": str(smtp_port),
           "COA_REMINDER_INTERVAL": "0.3", "COA_PUBLIC_URL": "https://coa.example"}  # fmt: skip
    # api.serve uses this de-identification process and starts none: the workers and
    # their restart are what this test is about, not deduce's ~30 s load.
    env["COA_DEIDENTIFY_SOCKET"] = shared_deidentification()
    for argv in (["alembic", "upgrade", "head"], ["api.seed"]):
        subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, env=env, check=True, timeout=300, capture_output=True)
    engine = make_engine(url)
    with Session(engine) as db:
        db.execute(update(KeyPositionAssignment).where(
            KeyPositionAssignment.location_code == "TERAPEL",
            KeyPositionAssignment.position == "contactpersoon_veiligheid",
        ).values(email=CONTACT))  # fmt: skip
        db.commit()
    first = _overdue(url, 15, timedelta(hours=-2))
    log = ARTIFACTS / "web-logs" / "api-reminder-workers.log"
    log.parent.mkdir(parents=True, exist_ok=True)

    with _api(env, log):
        _settle(inbox, 15)
        # More while both workers loop: they race for these.
        second = _overdue(url, 15, timedelta(minutes=-1))
        _settle(inbox, 30)
    subjects = inbox.subjects()
    assert len(subjects) == 30, subjects
    assert {s.rsplit(" ", 1)[1] for s in subjects} == first | second
    assert all(to == [CONTACT] for to, _message in inbox.messages)

    # Became overdue while the API was down: sent after the restart; nothing before it again.
    third = _overdue(url, 5, timedelta(hours=-1))
    with _api(env, log):
        _settle(inbox, 35)
    subjects = inbox.subjects()
    assert len(subjects) == 35, subjects
    assert {s.rsplit(" ", 1)[1] for s in subjects[30:]} == third
    with Session(engine) as db:
        workers = set(db.scalars(select(FollowUpNotification.claimed_by)))
        assert db.scalar(select(FollowUpNotification.id).where(FollowUpNotification.sent_at.is_(None))) is None
    assert workers  # which worker won is not fixed; each message was claimed once (unique row)
    engine.dispose()

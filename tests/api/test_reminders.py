"""Reminders and escalation (issue 15, part 3) against a real SMTP server (aiosmtpd)
and a real database (SQLite and PostgreSQL): a reminder reaches the counsellor before
the deadline, an overdue follow-up reaches the location's contactpersoon veiligheid
(and, for honour-based violence, the aandachtsfunctionaris) exactly once, across
restarts of the runner and with two workers at the same time; a message holds only
the reference, the action, the deadline and a login link."""

from __future__ import annotations

import email
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.auth.models import UserAccount
from api.db import make_engine
from api.directory.models import KeyPositionAssignment
from api.follow_ups.models import FollowUp, FollowUpEvent
from api.models_base import utcnow
from api.reminders.models import ESCALATION, REMINDER, FollowUpNotification
from api.reminders.runner import Runner, start_background
from api.reminders.settings import ReminderSettings
from api.seed import load_seed_data, seed
from knowledge.local_time import local_time
from tests.browser_support import free_port

from .conftest import create_pg_database, fresh_schema, postgres_url
from .factories import make_follow_up, make_incident

COUNSELLOR = "begeleider.terapel@coa.example"
CONTACT = "veiligheid.terapel@coa.example"
AANDACHT = "aandacht.terapel@coa.example"
SITUATION = "broer dreigt haar uit te huwelijken"


@dataclass
class Inbox:
    messages: list[tuple[list[str], Message]] = field(default_factory=list)

    async def handle_DATA(self, _server: object, _session: object, envelope: object) -> str:
        content = envelope.content  # type: ignore[attr-defined]
        parsed = email.message_from_bytes(content if isinstance(content, bytes) else content.encode())
        self.messages.append((list(envelope.rcpt_tos), parsed))  # type: ignore[attr-defined]
        return "250 OK"

    def subjects(self) -> list[str]:
        return [str(message["Subject"]) for _to, message in self.messages]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port(18825)
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database of its own: the runner commits in its own sessions, as in production."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('reminders') / 'coa.db'}"
    else:
        url = postgres_url() + "_reminders"
        create_pg_database(url)
    engine = make_engine(url)
    fresh_schema(engine)
    with Session(engine) as db:
        seed(db, load_seed_data())
        db.execute(update(UserAccount).where(UserAccount.staff_id == "stf-7c1a").values(email=COUNSELLOR))
        for position, address in (("contactpersoon_veiligheid", CONTACT), ("aandachtsfunctionaris", AANDACHT)):
            db.execute(update(KeyPositionAssignment).where(
                KeyPositionAssignment.location_code == "TERAPEL", KeyPositionAssignment.position == position
            ).values(email=address))  # fmt: skip
        db.commit()
    yield engine
    engine.dispose()


def _settings(port: int, **extra: object) -> ReminderSettings:
    return ReminderSettings(smtp_host="127.0.0.1", smtp_port=port, public_url="https://coa.example",
                            remind_before_hours=4, lease_seconds=60, **extra)  # fmt: skip


def _follow_up(engine: Engine, due_in: timedelta, **incident: object) -> tuple[str, uuid.UUID]:
    now = utcnow()
    with Session(engine) as db:
        recorded = make_incident(db, created_at=now - timedelta(hours=1), staff_id="stf-7c1a", location="TERAPEL",
                                 steps=[{"step": "omschrijving", "answer": SITUATION}], **incident)  # fmt: skip
        follow_up = make_follow_up(db, recorded, due_at=now + due_in)
        db.commit()
        return recorded.reference, follow_up.id


def test_reminder_before_the_deadline_and_escalation_after_it_each_once_across_restarts(
    engine: Engine, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    reference, follow_up_id = _follow_up(engine, timedelta(hours=2))
    _far, _ = _follow_up(engine, timedelta(hours=20))  # not yet due for a reminder
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    now = utcnow()

    assert Runner(sessions, _settings(port)).run_once(now) == 1
    assert Runner(sessions, _settings(port)).run_once(now + timedelta(minutes=5)) == 0  # a restart: nothing twice
    (to, message), = inbox.messages
    assert to == [COUNSELLOR]
    assert message["Subject"] == f"Herinnering: Veilig Thuis gebeld voor {reference}"

    # After the deadline, a fresh runner (the process restarted) escalates, once.
    later = now + timedelta(hours=3)
    assert Runner(sessions, _settings(port)).run_once(later) == 1
    assert Runner(sessions, _settings(port)).run_once(later + timedelta(hours=1)) == 0
    to, message = inbox.messages[1]
    # Honour-based violence: the contactpersoon veiligheid and the aandachtsfunctionaris.
    assert sorted(to) == sorted([CONTACT, AANDACHT])
    assert message["Subject"] == f"Te laat: Veilig Thuis gebeld voor {reference}"
    body = message.get_payload(decode=True).decode()
    assert reference in body and "Veilig Thuis gebeld" in body and "https://coa.example/acties" in body
    with Session(engine) as db:
        due_at = db.get(FollowUp, follow_up_id).due_at
    # The deadline in Dutch local time, as the chat and the pages say it.
    assert f"termijn ({local_time(due_at)})" in body and "UTC" not in body
    # Never the resident's situation: no answers, no outcome, no protocol title.
    for secret in (SITUATION, "melding_veilig_thuis", "Eergerelateerd", "broer"):
        assert secret not in body and secret not in str(message["Subject"])
    with Session(engine) as db:
        rows = db.scalars(select(FollowUpNotification).where(FollowUpNotification.follow_up_id == follow_up_id)).all()
        assert sorted((r.kind, r.sent_at is not None, r.attempts) for r in rows) == [
            (ESCALATION, True, 1), (REMINDER, True, 1)
        ]


def test_a_confirmed_follow_up_is_not_escalated_and_other_protocols_go_to_the_contact_person_only(
    engine: Engine, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    _done_ref, done_id = _follow_up(engine, timedelta(hours=-1))
    reference, _ = _follow_up(engine, timedelta(hours=-1), protocol="seksueel_geweld")
    with Session(engine) as db:
        db.add(FollowUpEvent(follow_up_id=done_id, seq=1, status="gedaan", actor="stf-7c1a", created_at=utcnow()))
        db.commit()
    assert Runner(sessionmaker(bind=engine), _settings(port)).run_once() == 1
    ((to, message),) = inbox.messages
    assert to == [CONTACT] and reference in str(message["Subject"])


def test_an_smtp_failure_is_retried_after_the_lease_by_another_worker(engine: Engine, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    _follow_up(engine, timedelta(hours=-1))
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    down = _settings(free_port(18826))  # nothing listens there: the server is down
    now = utcnow()
    assert Runner(sessions, down, worker="a").run_once(now) == 0
    with Session(engine) as db:
        (row,) = db.scalars(select(FollowUpNotification)).all()
        assert row.sent_at is None and row.attempts == 1 and row.error
    # Within the lease nobody takes it over; after it, another worker delivers it once.
    assert Runner(sessions, _settings(port), worker="b").run_once(now + timedelta(seconds=30)) == 0
    assert Runner(sessions, _settings(port), worker="b").run_once(now + timedelta(seconds=90)) == 1
    assert Runner(sessions, _settings(port), worker="c").run_once(now + timedelta(seconds=300)) == 0
    assert len(inbox.messages) == 1


@pytest.mark.postgres
def test_two_workers_at_once_on_postgresql_send_each_escalation_once(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    url = postgres_url() + "_reminders2"
    create_pg_database(url)
    engine = make_engine(url, pool_size=10)
    fresh_schema(engine)
    with Session(engine) as db:
        seed(db, load_seed_data())
        db.execute(update(KeyPositionAssignment).where(
            KeyPositionAssignment.location_code == "TERAPEL",
            KeyPositionAssignment.position == "contactpersoon_veiligheid",
        ).values(email=CONTACT))  # fmt: skip
        db.commit()
    references = {_follow_up(engine, timedelta(hours=-1), protocol="seksueel_geweld")[0] for _ in range(20)}
    start = threading.Barrier(2)
    counts: list[int] = []

    def worker(name: str) -> None:
        own = make_engine(url)  # its own pool, as another API worker process would have
        runner = Runner(sessionmaker(bind=own, expire_on_commit=False), _settings(port), worker=name)
        start.wait()
        counts.append(runner.run_once())
        own.dispose()

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("w1", "w2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sum(counts) == 20
    subjects = inbox.subjects()
    assert len(subjects) == 20 and {s.rsplit(" ", 1)[1] for s in subjects} == references
    engine.dispose()


def test_email_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without e-mail and without Teams nothing starts. The Teams e2e module sets the bot's
    # registration in os.environ when pytest collects it, so it is removed here too.
    monkeypatch.delenv("COA_SMTP_HOST", raising=False)
    monkeypatch.delenv("COA_TEAMS_APP_ID", raising=False)
    monkeypatch.delenv("COA_TEAMS_APP_PASSWORD", raising=False)
    assert ReminderSettings().enabled is False
    assert start_background(ReminderSettings()) is None



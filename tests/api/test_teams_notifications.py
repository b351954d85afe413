"""Teams for reminders and escalations (issue 15, part 4), against the local fake Bot
Connector (tests/channels/fake_connector.py, run in the assistant environment: it signs
with ``cryptography`` and serves with aiohttp) and a real SMTP server (aiosmtpd):

- a reminder goes into the counsellor's stored Teams conversation, an escalation into a
  personal conversation the bot creates with the holder's Teams id; a holder with only an
  e-mail address, and anyone whose Teams delivery fails, gets the e-mail;
- every activity is a valid Bot Framework ``message`` (Microsoft's botbuilder-schema) and
  holds only the reference, the action, the deadline and a login link.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from botbuilder.schema import Activity, ActivityTypes
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.auth.models import UserAccount
from api.directory.models import KeyPositionAssignment
from api.models_base import utcnow
from api.reminders.models import FollowUpNotification
from api.reminders.runner import Runner, teams_notifier
from api.teams.models import TeamsConversation
from api.teams.settings import TeamsSettings
from tests.browser_support import ARTIFACTS, ROOT, free_port

from .factories import make_follow_up, make_incident
from .test_reminders import AANDACHT, COUNSELLOR, SITUATION, Inbox, _settings, engine, smtp  # noqa: F401

APP_ID = "00000000-0000-4000-8000-0000000b07a1"
APP_PASSWORD = "api-test-fake-app-password"  # a test value, not a secret
TENANT = "11111111-2222-4333-8444-555555555555"
STAFF = "stf-7c1a"  # the demo counsellor of TERAPEL (seed)


@pytest.fixture(scope="module")
def connector() -> Iterator[str]:
    port = free_port(18930)
    base = f"http://127.0.0.1:{port}"
    log = ARTIFACTS / "fake-bot-connector-api.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(ROOT / ".venv-rasa" / "bin" / "python"), "-m", "tests.channels.fake_connector", "--port", str(port),
             "--app-id", APP_ID, "--app-password", APP_PASSWORD],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/_test/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=10)


def _teams(base: str, **extra: Any) -> TeamsSettings:
    values: dict[str, Any] = {"app_id": APP_ID, "app_password": APP_PASSWORD, "tenant_id": TENANT,
                              "token_url": f"{base}/{TENANT}/oauth2/v2.0/token",
                              "trusted_service_urls": (f"{base}/",)}  # fmt: skip
    values.update(extra)
    return TeamsSettings(**values)


def _activities(base: str, conversation_id: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{base}/_test/replies", params={"conversation": conversation_id}, timeout=10).json()
    return [reply["activity"] for reply in answer["replies"]]


def _valid_message(activity: dict[str, Any]) -> Activity:
    """Microsoft's schema reads it back unchanged: a message with text, from the bot."""
    parsed = Activity().deserialize(activity)
    assert parsed.type == ActivityTypes.message
    assert parsed.serialize() == activity, "every field is one the Bot Framework schema knows"
    return parsed


def reference_body(base: str, conversation: str) -> dict[str, str]:
    return {"staff_id": STAFF, "tenant_id": TENANT, "service_url": f"{base}/", "conversation_id": conversation,
            "bot_id": f"28:{APP_ID}", "user_id": "29:begeleider-terapel"}  # fmt: skip


def _store(database: Engine, base: str, conversation: str) -> None:
    with Session(database) as db:
        db.add(TeamsConversation(**reference_body(base, conversation), updated_at=utcnow()))
        db.commit()


def _overdue_and_soon(database: Engine) -> tuple[str, str]:
    now = utcnow()
    with Session(database) as db:
        incident = make_incident(db, created_at=now - timedelta(hours=30), staff_id=STAFF, location="TERAPEL",
                                 steps=[{"step": "omschrijving", "answer": SITUATION}])  # fmt: skip
        make_follow_up(db, incident, due_at=now - timedelta(hours=1))
        make_follow_up(db, incident, due_at=now + timedelta(hours=2), key="politie",
                       action="Risico-inschatting bij de politie gevraagd")  # fmt: skip
        db.commit()
        return incident.reference, incident.protocol


def test_reminder_in_the_counsellors_conversation_escalation_in_a_new_one_with_the_holder_each_once(
    engine: Engine, smtp: tuple[Inbox, int], connector: str  # noqa: F811  (fixtures of test_reminders)
) -> None:
    inbox, port = smtp
    holder_teams_id = "29:contactpersoon-" + uuid.uuid4().hex[:8]
    conversation = "a:begeleider-" + uuid.uuid4().hex  # the connector outlives one database
    _store(engine, connector, conversation)
    with Session(engine) as db:  # the contactpersoon veiligheid in Teams; the aandachtsfunctionaris by e-mail only
        db.execute(update(KeyPositionAssignment).where(
            KeyPositionAssignment.location_code == "TERAPEL",
            KeyPositionAssignment.position == "contactpersoon_veiligheid",
        ).values(teams_id=holder_teams_id, email=None))  # fmt: skip
        db.commit()
    reference, protocol = _overdue_and_soon(engine)
    assert protocol == "eergerelateerd_geweld"  # the aandachtsfunctionaris is told too
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    teams = teams_notifier(_teams(connector))
    assert teams is not None

    assert Runner(sessions, _settings(port), teams=teams).run_once() == 2
    assert Runner(sessions, _settings(port), teams=teams_notifier(_teams(connector))).run_once() == 0  # restarted

    (reminder,) = _activities(connector, conversation)
    parsed = _valid_message(reminder)
    assert parsed.from_property.id == f"28:{APP_ID}" and parsed.recipient.id == "29:begeleider-terapel"
    assert parsed.text.startswith("**Herinnering**") and reference in parsed.text
    assert "Risico-inschatting bij de politie gevraagd" in parsed.text and "https://coa.example/acties" in parsed.text

    created = httpx.get(f"{connector}/_test/conversations", timeout=10).json()["created"]
    (holder,) = [c for c in created if c["request"]["members"] == [{"id": holder_teams_id}]]
    assert holder["request"]["bot"] == {"id": f"28:{APP_ID}"} and holder["request"]["tenantId"] == TENANT
    (escalation,) = _activities(connector, holder["id"])
    parsed = _valid_message(escalation)
    assert parsed.text.startswith("**Te laat**") and reference in parsed.text and "Veilig Thuis gebeld" in parsed.text
    for message in (reminder["text"], escalation["text"]):
        for secret in (SITUATION, "broer", "Eergerelateerd", "eergerelateerd"):
            assert secret not in message

    # The aandachtsfunctionaris has no Teams id: the e-mail fallback, the counsellor none (Teams reached it).
    assert [(to, str(m["Subject"])) for to, m in inbox.messages] == [([AANDACHT], f"Te laat: Veilig Thuis gebeld voor "
                                                                                  f"{reference}")]
    with Session(engine) as db:
        rows = {r.kind: r for r in db.scalars(select(FollowUpNotification))}
        assert rows["herinnering"].recipient == f"teams:{conversation}"
        assert rows["escalatie"].recipient == f"teams:{holder['id']}, {AANDACHT}"


def test_teams_failing_falls_back_to_e_mail_and_teams_alone_runs_without_smtp(
    engine: Engine, smtp: tuple[Inbox, int], connector: str  # noqa: F811  (fixtures of test_reminders)
) -> None:
    inbox, port = smtp
    with Session(engine) as db:
        db.execute(update(UserAccount).where(UserAccount.staff_id == STAFF).values(email=COUNSELLOR))
        db.commit()
    _store(engine, "https://not-trusted.example", "a:elsewhere")  # a reference whose host is not trusted
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    now = utcnow()
    with Session(engine) as db:
        incident = make_incident(db, created_at=now - timedelta(hours=1), staff_id=STAFF, location="TERAPEL")
        make_follow_up(db, incident, due_at=now + timedelta(hours=2))
        db.commit()
        reference = incident.reference
    assert Runner(sessions, _settings(port), teams=teams_notifier(_teams(connector))).run_once() == 1
    assert [(to, str(m["Subject"])) for to, m in inbox.messages] == [
        ([COUNSELLOR], f"Herinnering: Veilig Thuis gebeld voor {reference}")]
    with Session(engine) as db:
        (row,) = db.scalars(select(FollowUpNotification)).all()
        assert row.recipient == COUNSELLOR and "not trusted" in (row.error or "")

    teams_only = "a:teams-only-" + uuid.uuid4().hex
    # Teams only (no SMTP): a counsellor the bot can reach in Teams gets it there; without
    # a Teams conversation nobody is reachable and that is logged, not retried.
    with Session(engine) as db:
        db.execute(update(TeamsConversation).values(service_url=f"{connector}/", conversation_id=teams_only))
        late = make_incident(db, created_at=now - timedelta(hours=1), staff_id=STAFF, location="TERAPEL")
        make_follow_up(db, late, due_at=now + timedelta(hours=3))
        unknown = make_incident(db, created_at=now - timedelta(hours=1), staff_id="stf-zonder-teams",
                                location="TERAPEL")  # fmt: skip
        make_follow_up(db, unknown, due_at=now + timedelta(hours=3))
        db.commit()
        late_reference = late.reference
    no_smtp = _settings(port).model_copy(update={"smtp_host": None})
    assert Runner(sessions, no_smtp, teams=teams_notifier(_teams(connector))).run_once() == 1
    (activity,) = _activities(connector, teams_only)
    assert late_reference in _valid_message(activity).text
    with Session(engine) as db:
        errors = set(db.scalars(select(FollowUpNotification.error).where(FollowUpNotification.sent_at.is_not(None))))
        assert "geen adres" in errors
    assert len(inbox.messages) == 1


def test_teams_is_off_without_the_bots_registration() -> None:
    assert teams_notifier(TeamsSettings(app_id=None, app_password=None)) is None
    assert teams_notifier(TeamsSettings(app_id=APP_ID, app_password=APP_PASSWORD, notify=False)) is None
    assert not TeamsSettings(trusted_service_urls=("https://smba.trafficmanager.net/",)).trusted(
        "https://smba.trafficmanager.net.evil.example/")

"""The durable reminder runner: a loop over the database, in every API worker.

Why a database loop and not a scheduler library: the state that must survive
restarts is already in the database (each follow-up's ``due_at`` and status), so a
round simply asks "which open follow-ups are due for a reminder or overdue, and not
yet notified?"; nothing is scheduled in memory, so a restart loses nothing (unlike
Rasa's reminders, RasaHQ/rasa#2716). Exactly once with several workers comes from
the claim: a worker first inserts the ``follow_up_notifications`` row, unique per
(follow-up, kind), in its own transaction; a concurrent worker's insert waits for it
and then fails on the unique constraint, on PostgreSQL and on SQLite alike. That is
the guarantee ``SELECT ... FOR UPDATE SKIP LOCKED`` would give on PostgreSQL only,
and APScheduler's SQLAlchemy job store does not give at all (one job store must not
be shared by several schedulers). A claim whose message was not delivered (a crash,
an SMTP or Bot Connector error) is taken over after ``lease_seconds`` by compare-and-set on its
``claimed_at``, at most ``MAX_ATTEMPTS`` times. The one window left: a crash after
the SMTP server accepted the message and before ``sent_at`` was stored sends it again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from api.auth.models import UserAccount
from api.directory.service import holders_on
from api.follow_ups.models import FollowUp
from api.follow_ups.service import is_open
from api.handovers.service import current_place
from api.incidents.models import Incident
from api.models_base import utcnow
from api.reminders import teams as teams_message
from api.reminders.mail import Notice, compose, send
from api.reminders.models import ESCALATION, REMINDER, FollowUpNotification
from api.reminders.settings import ReminderSettings
from api.teams.connector import TeamsError
from api.teams.service import TeamsAddress, address_of_staff, address_of_teams_user
from api.teams.settings import TeamsSettings

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
#: Per round and kind: a backlog is worked off over several rounds.
BATCH = 200
#: Protocols where an overdue follow-up also goes to the aandachtsfunctionaris
#: huiselijk geweld en kindermishandeling (issue 15: honour-based violence, child abuse).
AANDACHTSFUNCTIONARIS_PROTOCOLS = frozenset({"eergerelateerd_geweld", "huiselijk_geweld"})

Sender = Callable[[ReminderSettings, EmailMessage], None]


@dataclass(frozen=True)
class Recipient:
    """One person to tell: in Teams when the bot can reach them there, else by e-mail."""

    email: str | None = None
    teams: TeamsAddress | None = None


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}"


def reminder_recipients(session: Session, incident: Incident) -> list[Recipient]:
    """The incident's counsellor (who recorded it, or to whom it was handed over), when its
    Teams conversation (stored on its first contact) or its account's e-mail address."""
    staff_id = current_place(session, incident)[1]
    if staff_id is None:
        return []
    email = session.scalar(select(UserAccount.email).where(
        UserAccount.staff_id == staff_id, UserAccount.active.is_(True)
    ))  # fmt: skip
    return [Recipient(email=email, teams=address_of_staff(session, staff_id))]


def escalation_recipients(session: Session, incident: Incident, day: datetime) -> list[Recipient]:
    """The contactpersoon veiligheid on that day (a deputy when one is valid) of the location
    where the incident is now, and the aandachtsfunctionaris for honour-based and domestic violence."""
    positions = {"contactpersoon_veiligheid"}
    if incident.protocol in AANDACHTSFUNCTIONARIS_PROTOCOLS:
        positions.add("aandachtsfunctionaris")
    holders = holders_on(session, current_place(session, incident)[0], day.date())
    people = {(h.teams_id, h.email) for h in holders if h.position in positions}  # one person, one message
    return [Recipient(email=email, teams=address_of_teams_user(session, teams_id))
            for teams_id, email in sorted(people, key=str)]  # fmt: skip


class Runner:
    def __init__(self, sessions: sessionmaker[Session], settings: ReminderSettings, *,
                 worker: str | None = None, sender: Sender = send,
                 teams: teams_message.TeamsNotifier | None = None) -> None:
        self.sessions = sessions
        self.settings = settings
        self.worker = worker or worker_name()
        self.sender = sender
        self.teams = teams

    def reachable(self, recipient: Recipient) -> bool:
        return (recipient.teams is not None and self.teams is not None) or (
            bool(recipient.email) and self.settings.enabled)

    def run_once(self, now: datetime | None = None) -> int:
        """One round: claim and deliver what is due; returns the messages sent."""
        now = now or utcnow() + timedelta(hours=self.settings.clock_offset_hours)
        sent = 0
        for follow_up_id, kind in [*self._due(now), *self._taken_over(now)]:
            sent += self._deliver(follow_up_id, kind, now)
        return sent

    def _due(self, now: datetime) -> list[tuple[uuid.UUID, str]]:
        before = now + timedelta(hours=self.settings.remind_before_hours)

        def unnotified(kind: str) -> object:
            return ~exists().where(FollowUpNotification.follow_up_id == FollowUp.id, FollowUpNotification.kind == kind)

        with self.sessions() as session:
            reminders = session.scalars(
                select(FollowUp.id).where(is_open(), FollowUp.due_at > now, FollowUp.due_at <= before,
                                          unnotified(REMINDER)).order_by(FollowUp.due_at).limit(BATCH)
            ).all()  # fmt: skip
            overdue = session.scalars(
                select(FollowUp.id).where(is_open(), FollowUp.due_at <= now, unnotified(ESCALATION))
                .order_by(FollowUp.due_at).limit(BATCH)
            ).all()  # fmt: skip
        due = [(i, REMINDER) for i in reminders] + [(i, ESCALATION) for i in overdue]
        return [(i, kind) for i, kind in due if self._claim(i, kind, now)]

    def _claim(self, follow_up_id: uuid.UUID, kind: str, now: datetime) -> bool:
        try:
            with self.sessions() as session:
                session.add(FollowUpNotification(follow_up_id=follow_up_id, kind=kind, claimed_at=now,
                                                 claimed_by=self.worker, attempts=0))  # fmt: skip
                session.commit()
            return True
        except IntegrityError:
            return False  # another worker claimed it first
        except OperationalError as exc:  # SQLite busy: try again next round
            log.info("claim of %s %s postponed: %s", kind, follow_up_id, exc)
            return False

    def _taken_over(self, now: datetime) -> list[tuple[uuid.UUID, str]]:
        """Claims whose message was not delivered within the lease: take them over."""
        expired = now - timedelta(seconds=self.settings.lease_seconds)
        taken: list[tuple[uuid.UUID, str]] = []
        with self.sessions() as session:
            stale = session.execute(
                select(FollowUpNotification.id, FollowUpNotification.follow_up_id, FollowUpNotification.kind,
                       FollowUpNotification.claimed_at)
                .where(FollowUpNotification.sent_at.is_(None), FollowUpNotification.claimed_at < expired,
                       FollowUpNotification.attempts < MAX_ATTEMPTS)
                .limit(BATCH)
            ).all()  # fmt: skip
            for row_id, follow_up_id, kind, claimed_at in stale:
                moved = session.execute(
                    update(FollowUpNotification)
                    .where(FollowUpNotification.id == row_id, FollowUpNotification.claimed_at == claimed_at,
                           FollowUpNotification.sent_at.is_(None))
                    .values(claimed_at=now, claimed_by=self.worker)
                )  # fmt: skip
                session.commit()
                if moved.rowcount == 1:  # type: ignore[attr-defined]
                    taken.append((follow_up_id, kind))
        return taken

    def _deliver(self, follow_up_id: uuid.UUID, kind: str, now: datetime) -> int:
        with self.sessions() as session:
            row = session.scalar(select(FollowUpNotification).where(
                FollowUpNotification.follow_up_id == follow_up_id, FollowUpNotification.kind == kind
            ))  # fmt: skip
            follow_up = session.get(FollowUp, follow_up_id)
            assert row is not None and follow_up is not None
            incident = session.get(Incident, follow_up.incident_id)
            assert incident is not None
            still_open = session.scalar(select(is_open()).select_from(FollowUp).where(FollowUp.id == follow_up_id))
            recipients = [r for r in (reminder_recipients(session, incident) if kind == REMINDER
                                      else escalation_recipients(session, incident, now)) if self.reachable(r)]
            row.attempts += 1
            if not still_open or not recipients:
                # Confirmed in the meantime, or nobody to tell: logged, never retried.
                row.sent_at, row.error = now, "al bevestigd" if not still_open else "geen adres"
                session.commit()
                return 0
            notice = Notice(kind=kind, reference=incident.reference, action=follow_up.action, due_at=follow_up.due_at)
            delivered, errors = self._send(notice, recipients)
            if not delivered:
                row.error = "; ".join(errors)[:500]
                session.commit()
                log.warning("%s for %s not sent (attempt %d): %s", kind, incident.reference, row.attempts, row.error)
                return 0
            # Delivered to someone: done. A person whose channel failed (logged in ``error``)
            # is not retried, or the others would get it twice.
            row.sent_at, row.recipient, row.error = now, ", ".join(delivered)[:1000], "; ".join(errors)[:500] or None
            session.commit()
            return 1

    def _send(self, notice: Notice, recipients: list[Recipient]) -> tuple[list[str], list[str]]:
        """Teams first for whoever the bot can reach there, e-mail for the others and as the
        fallback when Teams fails; (where it went, what failed)."""
        delivered: list[str] = []
        errors: list[str] = []
        mail_to: list[str] = []
        for recipient in recipients:
            if recipient.teams is not None and self.teams is not None:
                try:
                    delivered.append(self.teams.send(recipient.teams, teams_message.text(self.settings, notice)))
                    continue
                except TeamsError as exc:
                    errors.append(f"Teams: {exc}")
            if recipient.email and self.settings.enabled:
                mail_to.append(recipient.email)
        if mail_to:
            try:
                self.sender(self.settings, compose(self.settings, notice, sorted(set(mail_to))))
                delivered.extend(sorted(set(mail_to)))
            except (OSError, ValueError) as exc:  # smtplib's errors are OSErrors
                errors.append(f"{type(exc).__name__}: {exc}")
        return delivered, errors


class Background:
    """The runner in a daemon thread of an API worker (started by the app's lifespan)."""

    def __init__(self, runner: Runner, interval: float) -> None:
        self.runner = runner
        self.interval = interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="follow-up-reminders", daemon=True)

    def _loop(self) -> None:
        while not self.stopped.is_set():
            try:
                self.runner.run_once()
            except Exception:  # a bad round must not end the loop; the next one retries
                log.exception("reminder round failed")
            self.stopped.wait(self.interval)

    def start(self) -> Background:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)


def start_background(settings: ReminderSettings | None = None) -> Background | None:
    """Start the loop when e-mail (``COA_SMTP_HOST``) or Teams (``COA_TEAMS_APP_ID``) is
    configured; None otherwise."""
    from api.db import get_write_sessionmaker

    settings = settings or ReminderSettings()
    teams = teams_notifier()
    if not settings.enabled and teams is None:
        return None
    return Background(Runner(get_write_sessionmaker(), settings, teams=teams), settings.interval_seconds).start()


def teams_notifier(settings: TeamsSettings | None = None) -> teams_message.TeamsNotifier | None:
    """Teams messages when the bot's registration is configured (``COA_TEAMS_APP_ID``, ...)."""
    settings = settings or TeamsSettings()
    return teams_message.TeamsNotifier(settings) if settings.enabled else None

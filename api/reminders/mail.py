"""The e-mail of a reminder or an escalation, and sending it over SMTP.

A message holds only the incident's reference, the action, the deadline and a link to
"Mijn acties" that needs a login: never the resident's situation (no protocol answers,
no outcome, no free text), because e-mail leaves our systems.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from api.reminders.models import ESCALATION
from api.reminders.settings import ReminderSettings
from knowledge.local_time import local_deadline


@dataclass(frozen=True)
class Notice:
    kind: str
    reference: str
    action: str
    due_at: datetime


def compose(settings: ReminderSettings, notice: Notice, recipients: list[str]) -> EmailMessage:
    link = settings.public_url.rstrip("/") + "/acties"
    deadline = local_deadline(notice.due_at)
    if notice.kind == ESCALATION:
        subject = f"Te laat: {notice.action} voor {notice.reference}"
        opening = (f"De actie '{notice.action}' bij melding {notice.reference} is niet bevestigd vóór de "
                   f"termijn ({deadline}). U krijgt dit bericht als sleutelfunctionaris van de locatie.")  # fmt: skip
    else:
        subject = f"Herinnering: {notice.action} voor {notice.reference}"
        opening = f"De actie '{notice.action}' bij melding {notice.reference} moet uiterlijk {deadline} gedaan zijn."
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(recipients)
    message.set_content(
        f"{opening}\n\nBevestig de actie na inloggen op: {link}\n\n"
        "Dit bericht bevat bewust geen gegevens over de situatie van de bewoner.\n"
    )
    return message


def send(settings: ReminderSettings, message: EmailMessage) -> None:
    assert settings.smtp_host is not None
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(message)

"""Reminder and e-mail settings from the environment. E-mail is off by default:
without ``COA_SMTP_HOST`` the runner does not start and nothing is claimed, so turning
it on later still sends what is due then.

``COA_SMTP_HOST``, ``COA_SMTP_PORT`` (25), ``COA_SMTP_FROM``, ``COA_SMTP_USER`` and
``COA_SMTP_PASSWORD`` (login, optional), ``COA_SMTP_STARTTLS`` (0/1);
``COA_PUBLIC_URL`` (the login link in a message), ``COA_REMIND_BEFORE_HOURS`` (4),
``COA_REMINDER_INTERVAL`` (seconds between rounds, 60), ``COA_REMINDER_LEASE`` (seconds
before another worker may retry a claimed but undelivered message, 300),
``COA_REMINDER_CLOCK_OFFSET_HOURS`` (0: the runner's clock runs this far ahead, so that a
demo or an end-to-end test sees a deadline pass without waiting a day; never in production).
Teams messages have their own settings (``api/teams/settings.py``); the runner also runs
when only Teams is configured.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReminderSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    smtp_host: str | None = Field(default=None, validation_alias="COA_SMTP_HOST")
    smtp_port: int = Field(default=25, gt=0, lt=65536, validation_alias="COA_SMTP_PORT")
    smtp_from: str = Field(default="casusbegeleiding@coa.example", validation_alias="COA_SMTP_FROM")
    smtp_user: str | None = Field(default=None, validation_alias="COA_SMTP_USER")
    smtp_password: str | None = Field(default=None, validation_alias="COA_SMTP_PASSWORD", repr=False)
    smtp_starttls: bool = Field(default=False, validation_alias="COA_SMTP_STARTTLS")
    public_url: str = Field(default="http://127.0.0.1:8000", validation_alias="COA_PUBLIC_URL")
    remind_before_hours: float = Field(default=4, gt=0, validation_alias="COA_REMIND_BEFORE_HOURS")
    interval_seconds: float = Field(default=60, gt=0, validation_alias="COA_REMINDER_INTERVAL")
    lease_seconds: float = Field(default=300, gt=0, validation_alias="COA_REMINDER_LEASE")
    clock_offset_hours: float = Field(default=0, ge=-8784, le=8784, validation_alias="COA_REMINDER_CLOCK_OFFSET_HOURS")

    @property
    def enabled(self) -> bool:
        return bool(self.smtp_host)

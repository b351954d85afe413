"""Teams notification settings from the environment: the same variables as the Teams
channel (assistant/channels/teams.py; ``api`` may not import it), so one deployment
configures the bot once.

``COA_TEAMS_APP_ID`` and ``COA_TEAMS_APP_PASSWORD`` (the bot's registration: without
them Teams notifications are off), ``COA_TEAMS_TENANT_ID`` (single-tenant bot: the
token comes from that tenant), ``COA_TEAMS_TOKEN_URL`` / ``COA_TEAMS_TOKEN_SCOPE``
(defaults: Microsoft's), ``COA_TEAMS_TRUSTED_SERVICE_URLS`` (comma separated: the only
hosts the bot's token is ever sent to), ``COA_TEAMS_NOTIFY`` (0 turns notifications
off while the channel stays on).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MULTI_TENANT = "botframework.com"


class TeamsSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    app_id: str | None = Field(default=None, validation_alias="COA_TEAMS_APP_ID")
    app_password: str | None = Field(default=None, validation_alias="COA_TEAMS_APP_PASSWORD", repr=False)
    tenant_id: str | None = Field(default=None, validation_alias="COA_TEAMS_TENANT_ID")
    token_url: str | None = Field(default=None, validation_alias="COA_TEAMS_TOKEN_URL")
    token_scope: str = Field(default="https://api.botframework.com/.default", validation_alias="COA_TEAMS_TOKEN_SCOPE")
    trusted_service_urls: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("https://smba.trafficmanager.net/",), validation_alias="COA_TEAMS_TRUSTED_SERVICE_URLS"
    )
    notify: bool = Field(default=True, validation_alias="COA_TEAMS_NOTIFY")
    http_timeout: float = Field(default=10, gt=0, validation_alias="COA_TEAMS_HTTP_TIMEOUT")

    @field_validator("trusted_service_urls", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @property
    def enabled(self) -> bool:
        return self.notify and bool(self.app_id) and bool(self.app_password)

    @property
    def token_endpoint(self) -> str:
        if self.token_url:
            return self.token_url
        tenant = self.tenant_id if self.tenant_id and self.tenant_id.lower() != MULTI_TENANT else MULTI_TENANT
        return f"https://login.microsoftonline.com/{quote(tenant, safe='')}/oauth2/v2.0/token"

    def trusted(self, url: str) -> bool:
        """Same scheme and host as a trusted prefix and the path under it: the bot's token
        never goes to a host a stored reference names unless it is Microsoft's (or the test's)."""
        target = urlsplit(url)
        for prefix in self.trusted_service_urls:
            allowed = urlsplit(prefix)
            if (target.scheme.lower(), target.netloc.lower()) != (allowed.scheme.lower(), allowed.netloc.lower()):
                continue
            base = allowed.path.rstrip("/")
            if not base or target.path == base or target.path.startswith(base + "/"):
                return True
        return False

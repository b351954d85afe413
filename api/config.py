"""Settings from the environment (pydantic-settings).

Variables: ``DATABASE_URL`` (default: SQLite file ``var/coa.db`` under the repository
root), ``COA_JWT_SECRET`` (a development default exists, refused when
``COA_ENV=production``), ``COA_ENV`` (development|test|production),
``COA_TOKEN_TTL_HOURS`` (lifetime of tokens from the login endpoint and the login
form; default 1 hour: short, behind the per-request session check of
``api/auth/login_sessions.py``),
``COA_CHAT_TOKEN_PRIVATE_KEY`` or ``COA_CHAT_TOKEN_PRIVATE_KEY_FILE`` (the Ed25519 key
that signs web chat tokens, PEM; issue 14: the web chat channel holds only its public
key; without one the development key pair of ``api/auth/chat_token.py``, which the
web chat refuses in production).

Security (issue 6, ``SECURITY.md``): ``COA_AUTH_MODE`` (``local``: HS256 tokens of
``make token`` and the login form; ``oidc``: Entra ID bearer tokens, with
``COA_OIDC_ISSUER``, ``COA_OIDC_AUDIENCE``, ``COA_OIDC_JWKS_URL``, ``COA_OIDC_MAPPING``
(YAML claim mapping) and ``COA_OIDC_JWKS_CACHE_SECONDS``), ``COA_API_DOCS`` (serve
/docs, /redoc and /openapi.json; default: not in production), ``COA_LOGIN_RATE``
and ``COA_WRITE_RATE`` (per-client rate limits, ``limits`` notation such as
``10/minute``), ``COA_LOGIN_ACCOUNT_RATE`` (failed logins per account).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

# Only good enough for a laptop: anyone can read it in the repository.
DEV_JWT_SECRET = "dev-only-insecure-secret-change-me-0123456789abcdef"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: str = Field(default="sqlite:///var/coa.db", validation_alias="DATABASE_URL")
    jwt_secret: str = Field(default=DEV_JWT_SECRET, validation_alias="COA_JWT_SECRET", min_length=32)
    env: Literal["development", "test", "production"] = Field(
        default="development", validation_alias="COA_ENV"
    )
    token_ttl_hours: float = Field(default=1, gt=0, le=24 * 31, validation_alias="COA_TOKEN_TTL_HOURS")
    # --- issue 14: the web chat token's own key (api/auth/chat_token.py)
    chat_token_private_key: str | None = Field(
        default=None, validation_alias="COA_CHAT_TOKEN_PRIVATE_KEY", repr=False
    )
    chat_token_private_key_file: str | None = Field(default=None, validation_alias="COA_CHAT_TOKEN_PRIVATE_KEY_FILE")
    # --- issue 6: authentication mode, OIDC, docs, rate limits (api/auth/oidc.py, api/security/)
    auth_mode: Literal["local", "oidc"] = Field(default="local", validation_alias="COA_AUTH_MODE")
    oidc_issuer: str | None = Field(default=None, validation_alias="COA_OIDC_ISSUER")
    oidc_audience: str | None = Field(default=None, validation_alias="COA_OIDC_AUDIENCE")
    oidc_jwks_url: str | None = Field(default=None, validation_alias="COA_OIDC_JWKS_URL")
    oidc_mapping: str | None = Field(default=None, validation_alias="COA_OIDC_MAPPING")
    oidc_jwks_cache_seconds: int = Field(default=300, ge=0, le=86400, validation_alias="COA_OIDC_JWKS_CACHE_SECONDS")
    # After a fetch, an unknown key id waits this long before the next fetch (no JWKS flooding).
    oidc_jwks_cooldown_seconds: float = Field(
        default=30, ge=0, le=3600, validation_alias="COA_OIDC_JWKS_COOLDOWN_SECONDS"
    )
    api_docs: bool | None = Field(default=None, validation_alias="COA_API_DOCS")
    login_rate: str = Field(default="60/minute", validation_alias="COA_LOGIN_RATE")
    write_rate: str = Field(default="6000/minute", validation_alias="COA_WRITE_RATE")
    # Failed logins per username, from any address (api/security/login_guard.py).
    login_account_rate: str = Field(default="10/15minutes", validation_alias="COA_LOGIN_ACCOUNT_RATE")
    # A protocol run without a decision or a stop and without any event for this long is
    # shown as onderbroken. The same as the assistant's session_expiration_time
    # (assistant/domain/base.yml): after it the counsellor's next message starts a new
    # Rasa session, which picks the run up again (actions/session_start.py).
    session_idle_minutes: int = Field(default=120, ge=5, le=7 * 24 * 60, validation_alias="COA_SESSION_IDLE_MINUTES")

    @property
    def docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else self.env != "production"

    @model_validator(mode="after")
    def _no_dev_secret_in_production(self) -> Settings:
        # A token signed with a public secret would let anyone read incidents.
        if self.env == "production" and self.jwt_secret == DEV_JWT_SECRET:
            raise ValueError("COA_JWT_SECRET must be set to a real secret when COA_ENV=production")
        if self.auth_mode == "oidc":
            missing = [
                name
                for name, value in (
                    ("COA_OIDC_ISSUER", self.oidc_issuer),
                    ("COA_OIDC_AUDIENCE", self.oidc_audience),
                    ("COA_OIDC_JWKS_URL", self.oidc_jwks_url),
                    ("COA_OIDC_MAPPING", self.oidc_mapping),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"COA_AUTH_MODE=oidc needs {', '.join(missing)}")
            if self.env == "production" and not str(self.oidc_jwks_url).startswith("https://"):
                raise ValueError("COA_OIDC_JWKS_URL must be an https:// URL when COA_ENV=production")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

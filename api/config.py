"""Settings from the environment (pydantic-settings).

Variables: ``DATABASE_URL`` (default: SQLite file ``var/coa.db`` under the repository
root), ``COA_JWT_SECRET`` (a development default exists, refused when
``COA_ENV=production``), ``COA_ENV`` (development|test|production),
``COA_TOKEN_TTL_HOURS`` (lifetime of tokens from the login endpoint).
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
    token_ttl_hours: float = Field(default=12, gt=0, le=24 * 31, validation_alias="COA_TOKEN_TTL_HOURS")

    @model_validator(mode="after")
    def _no_dev_secret_in_production(self) -> Settings:
        # A token signed with a public secret would let anyone read incidents.
        if self.env == "production" and self.jwt_secret == DEV_JWT_SECRET:
            raise ValueError("COA_JWT_SECRET must be set to a real secret when COA_ENV=production")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

"""Action-server settings, read from the environment each time they are needed.

Read at call time rather than at import time so that the process supervisor,
tests and operators can change them without a code path that caches a stale
value (and so that importing the package never fails on configuration).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_API_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Settings:
    api_url: str
    service_token: str | None
    timeout: float


def get_settings() -> Settings:
    """The current settings from ``COA_API_URL``, ``COA_SERVICE_TOKEN``, ``COA_API_TIMEOUT``."""
    timeout_text = os.environ.get("COA_API_TIMEOUT", "").strip()
    try:
        timeout = float(timeout_text) if timeout_text else DEFAULT_TIMEOUT_SECONDS
    except ValueError:
        # A typo in the environment must not take the action server down: the
        # safety advice does not depend on the API.
        timeout = DEFAULT_TIMEOUT_SECONDS
    if timeout <= 0:
        timeout = DEFAULT_TIMEOUT_SECONDS
    return Settings(
        api_url=(os.environ.get("COA_API_URL", "").strip() or DEFAULT_API_URL).rstrip("/"),
        service_token=os.environ.get("COA_SERVICE_TOKEN", "").strip() or None,
        timeout=timeout,
    )

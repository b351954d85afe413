"""Action-server settings, read from the environment each time they are needed.

Read at call time rather than at import time so that the process supervisor,
tests and operators can change them without a code path that caches a stale
value (and so that importing the package never fails on configuration).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_API_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_SECONDS = 5.0
#: Connecting to a loopback or LAN API takes milliseconds; a short connect timeout
#: means an API that is down costs the counsellor's turn almost nothing.
CONNECT_TIMEOUT_SECONDS = 2.0
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTBOX_PATH = "var/outbox.db"


@dataclass(frozen=True)
class Settings:
    api_url: str
    service_token: str | None
    timeout: float
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS


def get_settings() -> Settings:
    """The current settings from ``COA_API_URL``, ``COA_SERVICE_TOKEN``, ``COA_API_TIMEOUT``
    (the read timeout; connecting is limited to ``CONNECT_TIMEOUT_SECONDS``)."""
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
        connect_timeout=min(CONNECT_TIMEOUT_SECONDS, timeout),
    )


def outbox_path() -> Path:
    """``COA_OUTBOX_PATH`` (default ``var/outbox.db``); a relative path is relative to the
    repository root, so the action server finds the same file whatever its cwd."""
    path = Path(os.environ.get("COA_OUTBOX_PATH", "").strip() or DEFAULT_OUTBOX_PATH)
    return path if path.is_absolute() else REPO_ROOT / path

"""The API look-ups the actions make, as awaitables that never raise.

A look-up that fails must not stop the safety advice: callers get None and
say so in the reply. The blocking HTTP call runs in a worker thread so the
action server's event loop keeps serving other conversations.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from actions.api_client import ApiError, get_api_client

logger = logging.getLogger(__name__)


async def fetch_locations() -> list[dict[str, Any]] | None:
    try:
        return await asyncio.to_thread(get_api_client().locations)
    except ApiError:
        return None


async def fetch_holders(location: str | None) -> list[dict[str, Any]] | None:
    """Key-position holders of ``location``; None when unknown or unreachable."""
    if not location:
        return None
    try:
        return await asyncio.to_thread(get_api_client().key_position_holders, location)
    except ApiError:
        return None


async def record_incident(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The recorded incident, or None when the API did not accept it."""
    try:
        return await asyncio.to_thread(get_api_client().record_incident, payload)
    except ApiError:
        return None

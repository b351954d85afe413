"""Where a decision goes when the API could not record it.

This is the seam for the durable outbox (a later issue): a decision that could
not be posted must eventually reach the API with the same ``idempotency_key``,
so re-sending it can never create a duplicate. Until then the record is only
reported in the log, and the counsellor is told that it was not saved.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class Outbox(Protocol):
    def defer(self, payload: dict[str, Any]) -> None:
        """Keep ``payload`` to post it again later."""


class LogOnlyOutbox:
    """Not durable: logs which record is missing, never its content (special-category data)."""

    def defer(self, payload: dict[str, Any]) -> None:
        logger.error(
            "decision NOT recorded (no durable outbox yet): idempotency_key=%s protocol=%s location=%s",
            payload.get("idempotency_key"), payload.get("protocol"), payload.get("location"),
        )


_outbox: Outbox = LogOnlyOutbox()


def get_outbox() -> Outbox:
    return _outbox

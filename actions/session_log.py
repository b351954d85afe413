"""Client for the guidance-session log (``POST /api/v1/sessions/events``).

Every conversation that runs a protocol becomes a session in the API; the action
server appends one event per thing that happened (``started``, ``question_asked``,
``answer_given``, ``advice_shown``, ``outcome``, ``stopped``,
``incident_recorded``, …). The API creates the session on its first event and
never changes a stored event.

Reuses the action server's API client (same base URL, service token, timeout and
connect retries from ``actions.settings``). Each event carries an idempotency key
derived from the conversation, a *marker* that is unique per moment in the
conversation (e.g. the tracker's event count or the user message id) and the
event's type and step, so a retried POST is stored once, while the same question
asked again later (after ``terug``) is a new event.

A conversation may run more than one protocol (a second topic): each protocol
*run* is its own session in the API, identified by (conversation, ``run_id``).
Pass ``run_id=`` with every event of a run, the ``started`` event included: the
marker of that run's ``started`` event (keep it in a slot). Without ``run_id`` the
API files the event under the conversation's single default run (and refuses an
event of another protocol there).

``record`` raises ``ApiError`` (checked status); ``record_quietly`` and
``arecord`` never raise: the session log must not break the safety advice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import asdict, dataclass
from typing import Any

from actions.api_client import ApiClient, ApiError, get_api_client

logger = logging.getLogger(__name__)

EVENTS_PATH = "/sessions/events"
EVENT_TYPES = frozenset({
    "started", "question_asked", "answer_given", "advice_shown", "lookup_answered", "step_back",
    "restarted", "outcome", "stopped", "incident_recorded", "error",
})  # fmt: skip


@dataclass(frozen=True)
class SessionEvent:
    type: str
    step: str | None = None
    text: str | None = None
    answer: str | int | float | bool | None = None
    outcome: str | None = None
    incident_reference: str | None = None

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown session event type {self.type!r}; known: {', '.join(sorted(EVENT_TYPES))}")

    def as_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


def idempotency_key(conversation_id: str, marker: str | int, event: SessionEvent) -> str:
    raw = "\x1f".join((conversation_id, str(marker), event.type, event.step or ""))
    return "sl-" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def event_payload(
    conversation_id: str,
    *,
    marker: str | int,
    run_id: str | int | None = None,
    location: str,
    protocol: str,
    protocol_version: str,
    event: SessionEvent,
    staff_id: str | None = None,
    channel: str | None = None,
) -> dict[str, Any]:
    """The body of ``POST /api/v1/sessions/events`` (what ``record`` sends, and what the
    outbox stores for the background delivery)."""
    payload: dict[str, Any] = {
        "idempotency_key": idempotency_key(conversation_id, marker, event),
        "conversation_id": conversation_id,
        "location": location,
        "protocol": protocol,
        "protocol_version": protocol_version,
        "event": event.as_json(),
    }
    if run_id is not None:
        payload["run_id"] = str(run_id)
    if staff_id:
        payload["staff_id"] = staff_id
    if channel:
        payload["channel"] = channel
    return payload


class SessionLog:
    """``SessionLog().record(conversation_id, marker=..., location=..., protocol=..., ...)``"""

    def __init__(self, client: ApiClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> ApiClient:
        return self._client or get_api_client()

    def record(
        self,
        conversation_id: str,
        *,
        marker: str | int,
        run_id: str | int | None = None,
        location: str,
        protocol: str,
        protocol_version: str,
        event: SessionEvent,
        staff_id: str | None = None,
        channel: str | None = None,
    ) -> dict[str, Any]:
        """POST one event; returns the stored event (``session_id``, ``seq``, …).

        ``run_id``: the marker of this protocol run's ``started`` event."""
        payload = event_payload(
            conversation_id, marker=marker, run_id=run_id, location=location, protocol=protocol,
            protocol_version=protocol_version, event=event, staff_id=staff_id, channel=channel,
        )  # fmt: skip
        # ApiClient._request: the shared client's status check, timeout and error logging.
        stored = self.client._request("POST", EVENTS_PATH, json=payload)
        if not isinstance(stored, dict) or "seq" not in stored:
            raise ApiError(f"POST {EVENTS_PATH}: unexpected response")
        return stored

    def record_quietly(self, conversation_id: str, **kwargs: Any) -> dict[str, Any] | None:
        """Like ``record``, but logs and returns None when the API did not accept it."""
        try:
            return self.record(conversation_id, **kwargs)
        except (ApiError, ValueError) as error:
            # Never the event's text or answer in the log: only what identifies it.
            event = kwargs.get("event")
            logger.warning(
                "session event not logged: conversation=%s type=%s: %s",
                conversation_id, getattr(event, "type", "?"), error,
            )  # fmt: skip
            return None

    async def arecord(self, conversation_id: str, **kwargs: Any) -> dict[str, Any] | None:
        """For async actions: the HTTP call runs in a worker thread; never raises."""
        return await asyncio.to_thread(self.record_quietly, conversation_id, **kwargs)

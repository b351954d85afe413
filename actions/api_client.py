"""A small client for the COA API, used with the action server's service credential.

Synchronous httpx on purpose: ``httpx.Client`` is thread-safe and is not bound to
an event loop, so one client can be reused for the whole process; the async
actions call it through ``asyncio.to_thread`` so the action server's loop never
blocks on the network.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import quote

import httpx

from actions.settings import Settings, get_settings

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
#: The directory is kept current by admins and supervisors (issue 17): a change must
#: reach the assistant within a minute. Locations are cached this long; who holds a
#: key position is never cached (asked for every outcome).
LOCATIONS_TTL_SECONDS = 30.0
#: Retries on connect errors only (httpx transport semantics): a request that
#: reached the API is never sent twice by the transport.
CONNECT_RETRIES = 2
#: After a timeout or a failed connection the API counts as unavailable for this
#: long: calls fail at once instead of each costing the counsellor a timeout in the
#: same turn (a frozen API would otherwise add COA_API_TIMEOUT per call). The
#: outbox's delivery loop probes through it (``probe=True``) and closes it again.
UNAVAILABLE_SECONDS = 15.0
#: Statuses after which a retry can succeed without changing the request: server
#: errors, timeouts, rate limits, and a refused credential (a configuration error
#: an operator fixes; the record must survive until then).
TRANSIENT_STATUSES = frozenset({401, 403, 408, 425, 429})


def _safe_detail(response: httpx.Response) -> str:
    """What the API rejected, without the values that were sent.

    A FastAPI 422 echoes the rejected ``input``, which may hold a protocol
    answer (special-category data): only the field location and message are
    logged.
    """
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return "(body not logged)"
    if isinstance(detail, str):
        return detail[:300]
    if isinstance(detail, list):
        parts = []
        for item in detail[:10]:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc") or [])
                parts.append(f"{where}: {item.get('msg', '')}"[:200])
        return "; ".join(parts) or "(body not logged)"
    return "(body not logged)"


class ApiError(RuntimeError):
    """The API could not be reached or answered with an error status.

    ``status`` is the HTTP status, None when no answer came (down, timeout).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def transient(self) -> bool:
        """True when sending the same request later may succeed."""
        return self.status is None or self.status >= 500 or self.status in TRANSIENT_STATUSES


class ApiClient:
    """Talks to the API with one reused ``httpx.Client``."""

    def __init__(self, settings: Settings, *, locations_ttl: float = LOCATIONS_TTL_SECONDS) -> None:
        self.settings = settings
        self._locations_ttl = locations_ttl
        self._locations: list[dict[str, Any]] | None = None
        self._locations_at = 0.0
        self._unavailable_until = 0.0
        self._lock = threading.Lock()
        headers = {"Accept": "application/json"}
        if settings.service_token:
            headers["Authorization"] = f"Bearer {settings.service_token}"
        self._http = httpx.Client(
            base_url=settings.api_url,
            headers=headers,
            # Short connect timeout, read/write/pool at COA_API_TIMEOUT: a frozen API
            # (accepts, never answers) blocks a call for at most COA_API_TIMEOUT.
            timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
            transport=httpx.HTTPTransport(retries=CONNECT_RETRIES),
        )

    def close(self) -> None:
        self._http.close()

    @property
    def available(self) -> bool:
        """False for ``UNAVAILABLE_SECONDS`` after a timeout or a failed connection."""
        return time.monotonic() >= self._unavailable_until

    def _request(self, method: str, path: str, *, probe: bool = False, **kwargs: Any) -> Any:
        """One call; raises ``ApiError``. ``probe=True`` calls even while the API
        counts as unavailable (the outbox's background delivery)."""
        if not probe and not self.available:
            raise ApiError(f"{method} {path}: API unavailable (recent timeout or connection failure)")
        try:
            response = self._http.request(method, API_PREFIX + path, **kwargs)
        except httpx.TransportError as error:
            # Down, refused, timed out: no answer. Fail fast for a while.
            self._unavailable_until = time.monotonic() + UNAVAILABLE_SECONDS
            logger.error("API %s %s failed: %s", method, path, type(error).__name__)
            raise ApiError(f"{method} {path}: {type(error).__name__} {error}") from error
        self._unavailable_until = 0.0
        try:
            response.raise_for_status()
            if response.status_code == 204:
                return None
            return response.json()
        except httpx.HTTPStatusError as error:
            logger.error("API %s %s -> %s: %s", method, path, error.response.status_code,
                         _safe_detail(error.response))
            raise ApiError(f"{method} {path}: status {error.response.status_code}",
                           error.response.status_code) from error
        except (httpx.HTTPError, ValueError) as error:
            logger.error("API %s %s failed: %s", method, path, error)
            raise ApiError(f"{method} {path}: {error}") from error

    def record_incident(self, payload: dict[str, Any], *, probe: bool = False) -> dict[str, Any]:
        """POST the decision; returns the incident (with ``reference``).

        The API answers 200 with the existing incident when the payload's
        ``idempotency_key`` was seen before, so a retried call is safe.
        """
        incident = self._request("POST", "/incidents", probe=probe, json=payload)
        if not isinstance(incident, dict) or not incident.get("reference"):
            raise ApiError("POST /incidents: response without a reference")
        return incident

    def record_session_event(self, payload: dict[str, Any], *, probe: bool = False) -> dict[str, Any]:
        """POST one guidance-session event (idempotent by its ``idempotency_key``)."""
        stored = self._request("POST", "/sessions/events", probe=probe, json=payload)
        if not isinstance(stored, dict):
            raise ApiError("POST /sessions/events: unexpected response")
        return stored

    def record_session_events(self, payloads: list[dict[str, Any]], *, probe: bool = False) -> list[dict[str, Any]]:
        """POST several guidance-session events in one request (stored in this order, in
        one transaction, idempotent per event); returns the stored events in that order.
        A 422 refuses the whole batch (nothing stored)."""
        answer = self._request("POST", "/sessions/events/batch", probe=probe, json={"events": payloads})
        stored = answer.get("events") if isinstance(answer, dict) else None
        if not isinstance(stored, list) or len(stored) != len(payloads):
            raise ApiError("POST /sessions/events/batch: unexpected response")
        return stored

    def locations(self) -> list[dict[str, Any]]:
        """``[{"code", "name", "aliases"}]``, cached for ``locations_ttl`` seconds."""
        with self._lock:
            fresh = time.monotonic() - self._locations_at < self._locations_ttl
            if self._locations is not None and fresh:
                return self._locations
        locations = self._request("GET", "/locations")
        if not isinstance(locations, list):
            raise ApiError("GET /locations: expected a list")
        with self._lock:
            self._locations = locations
            self._locations_at = time.monotonic()
        return locations

    def key_position_holders(self, location: str) -> list[dict[str, Any]]:
        """``[{"position", "name", "phone"}]`` for the location's key positions."""
        holders = self._request("GET", f"/locations/{quote(location, safe='')}/key-positions")
        if not isinstance(holders, list):
            raise ApiError("GET key-positions: expected a list")
        return holders


    def due_follow_ups(self, staff_id: str, within_hours: float) -> list[dict[str, Any]]:
        """The counsellor's open follow-ups that are overdue or due within ``within_hours``,
        soonest first (``[{"id", "action", "reference", "due_at", "overdue", ...}]``)."""
        answer = self._request("GET", "/chat/follow-ups", params={"staff_id": staff_id, "within_hours": within_hours})
        items = answer.get("items") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise ApiError("GET /chat/follow-ups: expected {'items': [...]}")
        return items

    def record_follow_up(self, follow_up_id: str, staff_id: str, status: str, reason: str | None = None
                         ) -> dict[str, Any]:
        """The counsellor's answer as a status event; ApiError 409 when someone confirmed it first."""
        body: dict[str, Any] = {"status": status, "staff_id": staff_id}
        if reason:
            body["reason"] = reason
        answer = self._request("POST", f"/follow-ups/{quote(follow_up_id, safe='')}/events", json=body)
        if not isinstance(answer, dict):
            raise ApiError("POST follow-up event: unexpected response")
        return answer

    def store_teams_reference(self, reference: dict[str, str]) -> None:
        """Where Teams reaches the counsellor later (reminders): idempotent, the newest wins."""
        self._request("PUT", "/teams/conversations", json=reference)


_client: ApiClient | None = None
_client_lock = threading.Lock()


def get_api_client() -> ApiClient:
    """The process-wide client; rebuilt when the environment settings changed."""
    global _client
    settings = get_settings()
    with _client_lock:
        if _client is None or _client.settings != settings:
            if _client is not None:
                _client.close()
            _client = ApiClient(settings)
        return _client


def close_api_client() -> None:
    """Close and forget the process-wide client (shutdown, tests)."""
    global _client
    with _client_lock:
        if _client is not None:
            _client.close()
        _client = None

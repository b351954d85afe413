"""The Bot Connector REST API for proactive messages (synchronous httpx: the reminder
runner is a thread, not an event loop).

- the bot's token: client credentials at the tenant's token endpoint, cached until
  five minutes before it expires, fetched again once when the connector answers 401;
- ``POST {serviceUrl}/v3/conversations``: the 1:1 conversation with a user the bot has
  no stored reference for (a key-position holder by its Teams id); Teams returns the
  existing personal chat when there is one;
- ``POST {serviceUrl}/v3/conversations/{id}/activities``: the message.
Only trusted service URLs get the token (``TeamsSettings.trusted``).
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import quote

import httpx

from api.teams.settings import TeamsSettings


class TeamsError(Exception):
    """The Bot Connector could not be reached or refused the message."""


class BotConnector:
    def __init__(self, settings: TeamsSettings, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self._http = client or httpx.Client(timeout=settings.http_timeout)
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def token(self, force: bool = False) -> str:
        with self._lock:
            if not force and self._token and time.monotonic() < self._expires_at:
                return self._token
            form = {"grant_type": "client_credentials", "client_id": self.settings.app_id or "",
                    "client_secret": self.settings.app_password or "", "scope": self.settings.token_scope}  # fmt: skip
            try:
                reply = self._http.post(self.settings.token_endpoint, data=form)
                body = reply.json() if reply.status_code == 200 else None
            except (httpx.HTTPError, ValueError) as exc:
                raise TeamsError(f"token request failed: {type(exc).__name__}") from None
            if not isinstance(body, dict) or not body.get("access_token"):
                raise TeamsError(f"token request answered {reply.status_code}")
            self._token = str(body["access_token"])
            self._expires_at = time.monotonic() + max(float(body.get("expires_in", 3600)) - 300, 60)
            return self._token

    def _post(self, service_url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if not self.settings.trusted(service_url):
            raise TeamsError(f"service URL {service_url!r} is not trusted")
        url = service_url.rstrip("/") + path
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.token(force=attempt == 2)}"}
            try:
                reply = self._http.post(url, json=body, headers=headers)
            except httpx.HTTPError as exc:
                raise TeamsError(f"POST {path} failed: {type(exc).__name__}") from None
            if reply.status_code == 401 and attempt == 1:
                continue  # token revoked or rotated: a fresh one, once
            if reply.status_code >= 300:
                raise TeamsError(f"Bot Connector answered {reply.status_code} to POST {path}")
            try:
                answer = reply.json()
            except ValueError:
                answer = {}
            return answer if isinstance(answer, dict) else {}
        raise TeamsError(f"Bot Connector refused the bot's token for POST {path}")

    def create_conversation(self, service_url: str, bot_id: str, tenant_id: str, member_id: str) -> str:
        """The id of the personal conversation between the bot and ``member_id``."""
        body = {"bot": {"id": bot_id}, "members": [{"id": member_id}], "isGroup": False,
                "tenantId": tenant_id, "channelData": {"tenant": {"id": tenant_id}}}  # fmt: skip
        answer = self._post(service_url, "/v3/conversations", body)
        if not isinstance(answer.get("id"), str) or not answer["id"]:
            raise TeamsError("POST /v3/conversations: no conversation id in the answer")
        return answer["id"]

    def send(self, service_url: str, conversation_id: str, activity: dict[str, Any]) -> None:
        self._post(service_url, f"/v3/conversations/{quote(conversation_id, safe='')}/activities", activity)

"""Per-client rate limits on login and on the write endpoints (``limits`` library).

* ``POST /api/v1/auth/login`` and ``POST /login``: ``COA_LOGIN_RATE`` (default
  60/minute) per client address, against password guessing;
* ``POST /api/v1/incidents`` and ``POST /api/v1/sessions/events``:
  ``COA_WRITE_RATE`` (default 6000/minute) per client address, so that a leaked
  service token cannot flood the database (the action server is the only caller
  and sends a few events per message).

Over the limit: 429 with ``Retry-After``. A moving window in process memory: one
API process. With several API replicas the limit is per replica (documented in
SECURITY.md; a shared ``limits`` storage such as Redis is a one-line change).
The limiter lives on the app (``app.state``), so every ``create_app()`` starts empty.
"""

from __future__ import annotations

import json
import math
import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

LOGIN_PATHS = frozenset({"/api/v1/auth/login", "/login"})
WRITE_PATHS = frozenset({"/api/v1/incidents", "/api/v1/sessions/events", "/api/v1/sessions/events/batch"})


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, login_rate: str, write_rate: str) -> None:
        self.app = app
        self.login = parse(login_rate)
        self.write = parse(write_rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def _limit_for(self, scope: Scope):  # type: ignore[no-untyped-def]
        if scope["type"] != "http" or scope["method"] != "POST":
            return None, ""
        path = scope["path"].rstrip("/") or "/"
        if path in LOGIN_PATHS:
            return self.login, "login"
        if path in WRITE_PATHS:
            return self.write, "write"
        return None, ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit, bucket = self._limit_for(scope)
        if limit is None:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        if self.limiter.hit(limit, bucket, client):
            await self.app(scope, receive, send)
            return
        reset_at, _remaining = self.limiter.get_window_stats(limit, bucket, client)
        retry_after = max(1, math.ceil(reset_at - time.time()))
        body = json.dumps({"detail": f"too many requests: at most {limit} per client; retry after {retry_after} s"})
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})

"""Refuse NUL characters in requests (422) before they reach the database.

PostgreSQL cannot store U+0000 in text columns: without this a ``"\\u0000"`` in a
JSON field or ``%00`` in a query answered 500 (found by schemathesis). Bodies of
this API are small JSON or form posts, so the body is read once and replayed.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_MARKERS = (b"\\u0000", b"\x00", b"%00")
MAX_BODY = 1024 * 1024  # 1 MiB: larger bodies are refused (413)


def _error(where: str) -> bytes:
    detail = [{"type": "value_error", "loc": [where], "msg": "NUL characters (U+0000) are not accepted", "input": None}]
    return json.dumps({"detail": detail}).encode()


class RejectNulMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def _answer(self, send: Send, status: int, body: bytes) -> None:
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        if any(marker in raw_path.lower() for marker in (b"%00", b"\x00")) or b"%00" in scope.get("query_string", b""):
            await self._answer(send, 422, _error("query" if b"%00" in scope.get("query_string", b"") else "path"))
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                await self._answer(send, 413, json.dumps({"detail": "request body larger than 1 MiB"}).encode())
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if any(marker in body.lower() for marker in _MARKERS):
            await self._answer(send, 422, _error("body"))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

"""A small reverse proxy that pins each conversation to one Rasa replica.

The rule (the same one deploy/haproxy.cfg applies in production):

- the key is the conversation id: the JSON body's ``sender`` on the REST channel
  (``/webhooks/rest/webhook``), ``conversation.id`` on the Bot Framework channel
  (Teams); any other request (health, socket.io, ...) is keyed by the client address;
- the replica is chosen by rendezvous (highest-random-weight) hashing of the key
  over the replica URLs, so every turn of a conversation lands on the same replica,
  and removing a replica only moves the conversations that were on it.

Why pin at all when the replicas share the tracker store and a Redis lock store:
Rasa 3.6's ``RedisLockStore`` issues a conversation's tickets with a non-atomic
read-modify-write in Redis (RasaHQ/rasa issue 9213), so two replicas that receive
messages of the same conversation at the same moment can both believe they hold the
lock and process them in parallel (events interleaved or lost in the tracker).
With pinning, the messages of one conversation always meet in one process, whose
lock store calls never race with another process for that conversation; the Redis
lock store then only matters when a replica goes away and the conversation moves.

Run (API environment: uvicorn and httpx):

    .venv-api/bin/python scripts/pinning_proxy.py --port 16000 \\
        --upstream http://127.0.0.1:16005 --upstream http://127.0.0.1:16006

Each response carries ``X-Coa-Replica: <upstream URL>`` so tests can see the pinning.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Hop-by-hop headers (RFC 9110 7.6.1) and those httpx sets itself: never forwarded.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "host", "content-length"}


def conversation_key(path: str, body: bytes) -> str | None:
    """The conversation id a request belongs to, or None when it names none."""
    if not body or not path.startswith("/webhooks/"):
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    if data.get("sender") is not None:  # REST channel
        return str(data["sender"])
    conversation = data.get("conversation")  # Bot Framework activity
    if isinstance(conversation, dict) and conversation.get("id") is not None:
        return str(conversation["id"])
    return None


def pick(key: str, upstreams: list[str]) -> str:
    """Rendezvous hashing: the upstream with the highest hash of (key, upstream)."""
    return max(upstreams, key=lambda up: hashlib.sha256(f"{key}\x00{up}".encode()).digest())


class PinningProxy:
    """An ASGI app forwarding every HTTP request to the replica its conversation is pinned to."""

    def __init__(self, upstreams: list[str], timeout: float = 120.0) -> None:
        if not upstreams:
            raise ValueError("at least one upstream")
        self.upstreams = [u.rstrip("/") for u in upstreams]
        self.timeout = timeout
        self.client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":  # websockets (socket.io) are not proxied by this test tool
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        client = scope.get("client") or ("unknown", 0)
        key = conversation_key(path, body) or f"client:{client[0]}"
        upstream = pick(key, self.upstreams)
        url = upstream + scope.get("raw_path", path.encode()).decode()
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode()
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k.decode().lower() not in HOP_BY_HOP]
        headers.append(("X-Forwarded-For", client[0]))
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=self.timeout)
        try:
            response = await self.client.request(scope["method"], url, headers=headers, content=body)
        except httpx.HTTPError as error:
            await self._reply(send, 502, b'{"error": "upstream unavailable"}', upstream,
                              [(b"content-type", b"application/json")])
            print(f"pinning proxy: {upstream} failed: {error!r}", flush=True)
            return
        out = [(k.encode(), v.encode()) for k, v in response.headers.items()
               if k.lower() not in HOP_BY_HOP and k.lower() != "content-encoding"]
        await self._reply(send, response.status_code, response.content, upstream, out)

    @staticmethod
    async def _reply(send: Send, status: int, body: bytes, upstream: str, headers: list[tuple[bytes, bytes]]) -> None:
        headers = [*headers, (b"content-length", str(len(body)).encode()), (b"x-coa-replica", upstream.encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.client = httpx.AsyncClient(timeout=self.timeout)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.client is not None:
                    await self.client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def main() -> None:
    parser = argparse.ArgumentParser(description="Pin each conversation to one Rasa replica.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--upstream", action="append", required=True, help="a replica's base URL (repeat)")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(PinningProxy(args.upstream, args.timeout), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

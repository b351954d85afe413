"""One de-identification process shared by all API workers (issue 16, API memory).

    python -m api.security.deidentify_server --socket var/run/deidentify.sock

Why a process of its own: ``deduce``'s lookup tables take ~1 GB of Python objects.
Loaded in every uvicorn worker they cost 1 GB per worker; loaded once before
forking they are shared only until Python's reference counting writes to them
(copy-on-write copies the pages back, and RSS counts shared pages anyway:
``bench/api_memory.py`` measures both). Here they exist once, and each worker
stays a small web process that sends text over a Unix socket (loopback only, the
socket file is owner-only) and waits for the result before it stores anything.

Protocol: request = 4-byte big-endian length + UTF-8 text; reply = 1 status byte
(0 ok, 1 error) + 4-byte length + UTF-8 text. Requests are served one at a time
per connection; deduce itself runs under a lock (its thread-safety is not promised).
``api.serve`` starts this process next to uvicorn; ``api.security.deidentify`` is
the client.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import socketserver
import struct
import sys
import threading
from pathlib import Path
from typing import Any

_HEADER = struct.Struct(">I")
#: Longer texts are refused (the API's own limit for a note is 4,000 characters).
MAX_BYTES = 1_000_000


def keep_out_of_collection() -> None:
    """``gc.freeze`` what is loaded now. deduce's lookup tables are ~4.5 million objects
    that live as long as the process; each full collection walked them all, ~3 s with
    the GIL held, at a moment nobody chooses (``bench/turns.py`` saw an incident write
    wait 2.6 s; bench/results.md). Frozen objects are skipped by the collector and still
    freed by reference counting."""
    gc.collect()  # the garbage of loading is freed, not frozen
    gc.freeze()


def read_exact(stream: Any, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return data


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        while True:
            try:
                (size,) = _HEADER.unpack(read_exact(self.request, _HEADER.size))
            except ConnectionError:
                return
            if size > MAX_BYTES:
                self._reply(1, "text too long")
                return
            text = read_exact(self.request, size).decode("utf-8")
            try:
                with self.server.lock:
                    result = self.server.deduce.deidentify(text).deidentified_text
                self._reply(0, result)
            except Exception as exc:
                self._reply(1, type(exc).__name__)

    def _reply(self, status: int, text: str) -> None:
        body = text.encode("utf-8")
        self.request.sendall(bytes([status]) + _HEADER.pack(len(body)) + body)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, deduce: Any) -> None:
        self.deduce = deduce
        self.lock = threading.Lock()
        super().__init__(path, _Handler)


def serve(path: str) -> None:
    from deduce import Deduce

    deduce = Deduce()  # before binding: a client that connects gets answers at once
    keep_out_of_collection()
    socket_path = Path(path)
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    socket_path.unlink(missing_ok=True)
    old_umask = os.umask(0o177)  # the socket: owner only
    try:
        server = _Server(str(socket_path), deduce)
    finally:
        os.umask(old_umask)
    print(f"de-identification ready on {socket_path}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        socket_path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.security.deidentify_server", description=__doc__)
    parser.add_argument("--socket", required=True)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.socket)
    return 0


if __name__ == "__main__":
    sys.exit(main())

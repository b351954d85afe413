"""What the browser tests share: Debian's chromium driven by Playwright, a collector
of a page's console errors, and the API under uvicorn on a free loopback port.

Plain helpers (no fixtures, no Rasa): each test module keeps its own fixtures, with
its own scopes, and builds them from these. The browser is never downloaded (no
``playwright install``): ``make browser`` installs ``/usr/bin/chromium``.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Request

from api.security.deidentify import SOCKET_ENV
from api.serve import _wait_ready

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PREFERRED_PORT = 18765


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's chromium (headless); the test fails, saying what to do, if it is missing."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser`")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


@dataclass
class Problems:
    """Console errors and page errors seen by a page; with ``network`` (the default)
    also failed requests and HTTP responses of 400 and up."""

    network: bool = True
    items: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.items.append(f"console: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.items.append(f"page error: {error}"))
        if self.network:
            page.on("requestfailed", self._on_request_failed)
            page.on(
                "response",
                lambda response: (
                    self.items.append(f"HTTP {response.status}: {response.url}") if response.status >= 400 else None
                ),
            )
        return page

    def _on_request_failed(self, request: Request) -> None:
        # Chromium cancels a page's pending loads (net::ERR_ABORTED) when the test
        # submits a form or navigates before they finished: the browser's choice, not a
        # fault of the page. A missing file still shows as HTTP 404 above, and a server
        # that does not answer as another net:: error.
        failure = request.failure or ""
        if failure != "net::ERR_ABORTED":
            self.items.append(f"request failed: {request.url} ({failure})")


def free_port(preferred: int = PREFERRED_PORT) -> int:
    """`preferred` if it is free on 127.0.0.1, else any free loopback port."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free loopback port")


_SHARED_DEIDENTIFY: dict[str, subprocess.Popen[bytes]] = {}


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def shared_deidentification() -> str:
    """The socket of ONE de-identification process (``api.security.deidentify_server``,
    what ``python -m api.serve`` runs in production) for every API that this pytest
    process starts; started on first use, stopped at exit.

    Why: an API started on its own loads deduce (~1 GB) before ``/health`` answers,
    10-40 s on this 2-core machine and most of a browser module's set-up; six such
    starts per ``make test`` (issue 16). The text is still de-identified by deduce
    before anything is stored; the API under test only reaches it over the socket."""
    for path, process in _SHARED_DEIDENTIFY.items():
        if process.poll() is None:
            return path
    _SHARED_DEIDENTIFY.clear()
    path = str(Path(tempfile.mkdtemp(prefix="coa-test-deidentify-")) / "deidentify.sock")
    log = ARTIFACTS / "web-logs" / "deidentify.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.security.deidentify_server", "--socket", path],
            cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    atexit.register(_stop, process)
    _wait_ready(path, process)
    _SHARED_DEIDENTIFY[path] = process
    return path


@contextmanager
def running_api(
    database_url: str,
    log: Path,
    env: Mapping[str, str] | None = None,
    prepare: Callable[[], None] | None = None,
    timeout: float = 30,
) -> Iterator[str]:
    """The API (``api.main:app``) under uvicorn on a free loopback port; yields its base URL.

    First, as ``make run`` does, ``alembic upgrade head`` and ``python -m api.seed``
    against `database_url`; then `prepare` (if given, e.g. to write more rows);
    then uvicorn, with its output in `log`, until ``/health`` answers 200 (the test
    fails if uvicorn exits or `timeout` seconds pass). `env`: more environment
    variables for all three. De-identification: the process of
    ``shared_deidentification()`` unless `env` names another socket.
    """
    environment = {**os.environ, SOCKET_ENV: shared_deidentification(), **(env or {}), "DATABASE_URL": database_url}
    for argv in ([sys.executable, "-m", "alembic", "upgrade", "head"], [sys.executable, "-m", "api.seed"]):
        subprocess.run(argv, cwd=ROOT, env=environment, check=True, timeout=120, capture_output=True)
    if prepare is not None:
        prepare()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_health(process, base, log, timeout)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_health(process: subprocess.Popen, base: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            pytest.fail(f"uvicorn exited with {process.returncode}; see {log}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"the API did not answer /health within {timeout:g} s")
        time.sleep(0.2)

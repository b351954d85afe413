"""The protocol page in a real browser: Debian's chromium driven by Playwright.

Starts the API with uvicorn on a free loopback port against a fresh SQLite
database (migrated with Alembic and seeded exactly as ``make run`` does), logs in
through the form and checks that mermaid draws the flowchart from our own origin
without a single console error. Screenshots go to ``test-artifacts/``.

Needs ``/usr/bin/chromium`` (``make browser``) and ``node_modules`` (``npm ci``).
The browser is never downloaded (no ``playwright install``).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright

from api.knowledge_ref import get_knowledge
from api.protocols.service import is_web_url, step_anchor

ROOT = Path(__file__).resolve().parents[2]
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
PROTOCOL = "eergerelateerd_geweld"
USER = ("contactpersoon.terapel", "contactpersoon-demo")


def _free_port() -> int:
    for port in (PREFERRED_PORT, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free loopback port")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not (ROOT / "node_modules" / "mermaid" / "dist" / "mermaid.min.js").is_file():
        pytest.fail("node_modules/mermaid is missing: run `npm ci` (make node_modules/.stamp)")
    folder = tmp_path_factory.mktemp("web-browser")
    env = dict(os.environ)
    env["DATABASE_URL"] = f"sqlite:///{folder / 'coa.db'}"
    for argv in ([sys.executable, "-m", "alembic", "upgrade", "head"], [sys.executable, "-m", "api.seed"]):
        subprocess.run(argv, cwd=ROOT, env=env, check=True, timeout=120, capture_output=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    logs = ARTIFACTS / "web-logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "uvicorn.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    pytest.fail(f"uvicorn exited with {process.returncode}; see {logs / 'uvicorn.log'}")
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail("the API did not answer /health within 30 s")
                time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser`")
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class Problems:
    """Console errors, page errors and failed requests seen by a page."""

    items: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.items.append(f"console: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.items.append(f"page error: {error}"))
        page.on("requestfailed", lambda request: self.items.append(f"request failed: {request.url}"))
        page.on(
            "response",
            lambda response: self.items.append(f"HTTP {response.status}: {response.url}")
            if response.status >= 400
            else None,
        )
        return page


def _log_in_and_open_protocol(page: Page, base: str) -> None:
    page.goto(f"{base}/protocollen/{PROTOCOL}")
    expect(page).to_have_url(f"{base}/login?next=/protocollen/{PROTOCOL}")
    expect(page.get_by_label("Gebruikersnaam")).to_be_focused()
    page.get_by_label("Gebruikersnaam").fill(USER[0])
    page.get_by_label("Wachtwoord").fill(USER[1])
    page.get_by_role("button", name="Inloggen").click()
    expect(page).to_have_url(f"{base}/protocollen/{PROTOCOL}")
    page.wait_for_selector('#protocol-chart[data-rendered="true"] svg', timeout=30_000)


def test_protocol_flowchart_in_chromium(server: str, browser: Browser) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    protocol = get_knowledge().protocols[PROTOCOL]
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="nl-NL")
    problems = Problems()
    page = problems.watch(context.new_page())
    try:
        # Source links point elsewhere: answer them locally (no internet needed).
        context.route(
            lambda url: not url.startswith(server),
            lambda route: route.fulfill(status=200, content_type="text/html", body="<title>bron</title>bron"),
        )
        _log_in_and_open_protocol(page, server)

        nodes = page.locator("#protocol-chart svg g.node")
        assert nodes.count() >= len(protocol.steps)
        chart_text = page.locator("#protocol-chart svg").text_content() or ""
        assert "#40;" not in chart_text and "#34;" not in chart_text  # entity codes decoded
        assert "Is er op dit moment direct gevaar" in chart_text
        assert "Doorverwijzen: Veilig Thuis" in chart_text
        assert page.locator("#protocol-chart pre.mermaid svg").count() == 1

        # Every node links to its step's row in the table, and that row exists.
        links = page.eval_on_selector_all(
            "#protocol-chart svg a", "els => els.map(a => a.getAttribute('xlink:href') || a.getAttribute('href'))"
        )
        assert sorted(links) == sorted(f"#{step_anchor(step_id)}" for step_id in protocol.steps)
        for link in links:
            assert page.locator(link).count() == 1, link
        page.locator("#protocol-chart svg g.node[id*='flowchart-n_bel_112-']").click()
        expect(page).to_have_url(f"{server}/protocollen/{PROTOCOL}#{step_anchor('bel_112')}")
        expect(page.locator(f"#{step_anchor('bel_112')}")).to_be_in_viewport()

        # Every step's source is linked in its row; following one works.
        for step in protocol.steps.values():
            row = page.locator(f"#{step_anchor(step.id)}")
            if is_web_url(step.source.url):
                expect(row.locator("a.source-link")).to_have_attribute("href", step.source.url)
            else:
                expect(row).to_contain_text(step.source.title)
        page.screenshot(path=str(ARTIFACTS / f"protocol-{PROTOCOL}.png"), full_page=True)

        web_step = next(step for step in protocol.steps.values() if is_web_url(step.source.url))
        page.locator(f"#{step_anchor(web_step.id)} a.source-link").click()
        page.wait_for_url(web_step.source.url.rstrip("/") + "**")
        page.go_back()
        expect(page).to_have_url(re.compile(rf"^{re.escape(server)}/protocollen/{PROTOCOL}(#.*)?$"))
    finally:
        context.close()
    assert problems.items == []


def test_protocol_page_on_a_phone(server: str, browser: Browser) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="nl-NL", is_mobile=True)
    problems = Problems()
    page = problems.watch(context.new_page())
    try:
        _log_in_and_open_protocol(page, server)
        # The page itself never scrolls sideways; only the chart's own box does.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        start = page.locator("#protocol-chart svg g.node[id*='flowchart-start-']")
        page.locator("#schema-kop").scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, document.querySelector('#schema-kop').getBoundingClientRect().top - 8)")
        box = start.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390  # scrolled to the start
        page.screenshot(path=str(ARTIFACTS / f"protocol-{PROTOCOL}-phone.png"))
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(ARTIFACTS / f"protocol-{PROTOCOL}-phone-top.png"))
    finally:
        context.close()
    assert problems.items == []


def test_login_error_in_the_browser(server: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    problems = Problems()
    page = problems.watch(context.new_page())
    try:
        page.goto(f"{server}/login")
        page.get_by_label("Gebruikersnaam").fill(USER[0])
        page.get_by_label("Wachtwoord").fill("fout")
        page.keyboard.press("Enter")
        expect(page.get_by_role("alert")).to_have_text("Onbekende gebruikersnaam of onjuist wachtwoord.")
        expect(page.get_by_label("Gebruikersnaam")).to_have_value(USER[0])
    finally:
        context.close()
    assert problems.items == []

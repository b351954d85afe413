"""The protocol page in a real browser: Debian's chromium driven by Playwright.

Starts the API with uvicorn on a free loopback port against a fresh SQLite
database (migrated with Alembic and seeded exactly as ``make run`` does), logs in
through the form and checks that mermaid draws the flowchart from our own origin
without a single console error. Screenshots go to ``test-artifacts/``.

Needs ``/usr/bin/chromium`` (``make browser``) and ``node_modules`` (``npm ci``).
The browser is never downloaded (no ``playwright install``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from api.knowledge_ref import get_knowledge
from api.protocols.service import is_web_url, step_anchor
from tests.browser_support import (  # noqa: F401 - CHROMIUM, CHROMIUM_ARGS: tests/security/test_xss_browser.py
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    Problems,
    free_port,
    launch_chromium,
    running_api,
)

_free_port = free_port  # (tests/security/test_xss_browser.py imports it from here)

PROTOCOL = "eergerelateerd_geweld"
USER = ("contactpersoon.terapel", "contactpersoon-demo")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not (ROOT / "node_modules" / "mermaid" / "dist" / "mermaid.min.js").is_file():
        pytest.fail("node_modules/mermaid is missing: run `npm ci` (make node_modules/.stamp)")
    folder = tmp_path_factory.mktemp("web-browser")
    with running_api(f"sqlite:///{folder / 'coa.db'}", log=ARTIFACTS / "web-logs" / "uvicorn.log") as base:
        yield base


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = launch_chromium(playwright)
    yield browser
    browser.close()


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

"""The incident's file page in a real browser (Debian's chromium, Playwright), issue 15 part 6.

The API runs under uvicorn against a fresh SQLite database (Alembic + seed, as ``make
run``); a decision is recorded through the API with the service token, as the action
server does. Then, as a supervisor would: log in, open the record, print it (print
media: no header, buttons or forms; the decision is all there), hand the incident over
to Budel's counsellor because the resident moves, and see the history; Budel's counsellor then finds
the open follow-ups on "Mijn acties" with the record one click away; Ter Apel's
counsellor no longer has them. Screenshots: ``test-artifacts/dossier*.png``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from api.auth.service import create_token
from api.config import Settings
from tests.browser_support import ARTIFACTS, Problems, launch_chromium, running_api

SECRET = "browser-test-secret-0123456789abcdef-0123456789"
SUPERVISOR = ("supervisor.terapel", "supervisor-demo")
BUDEL_COUNSELLOR = ("begeleider.budel", "begeleider-demo")
TERAPEL_COUNSELLOR = ("begeleider.terapel", "begeleider-demo")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict]]:
    folder = tmp_path_factory.mktemp("record-browser")
    log = ARTIFACTS / "web-logs" / "uvicorn-record.log"
    with running_api(f"sqlite:///{folder / 'coa.db'}", log=log, env={"COA_JWT_SECRET": SECRET}, timeout=180) as base:
        payload = {
            "idempotency_key": "browser-record-1", "conversation_id": "conv-record-1", "location": "TERAPEL",
            "protocol": "eergerelateerd_geweld", "protocol_version": "1.0.0", "acute": True,
            "referrals": ["politie", "veilig_thuis"], "steps": [{"step": "acuut_gevaar", "answer": "ja"}],
            "outcome": "melding_veilig_thuis_acuut", "staff_id": "stf-7c1a", "channel": "teams",
        }  # fmt: skip
        token = create_token(Settings(jwt_secret=SECRET), sub="action-server", role="service")
        response = httpx.post(f"{base}/api/v1/incidents", json=payload, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 201, response.text
        yield base, response.json()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


def _log_in(page: Page, base: str, path: str, user: tuple[str, str]) -> None:
    page.goto(f"{base}{path}")
    page.get_by_label("Gebruikersnaam").fill(user[0])
    page.get_by_label("Wachtwoord").fill(user[1])
    page.get_by_role("button", name="Inloggen").click()
    expect(page).to_have_url(f"{base}{path}")


def test_supervisor_prints_the_record_and_hands_it_to_another_location(
    server: tuple[str, dict], browser: Browser
) -> None:
    base, incident = server
    ARTIFACTS.mkdir(exist_ok=True)
    path = f"/incidenten/{incident['id']}/dossier"
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    problems = Problems()
    page = problems.watch(context.new_page())
    try:
        _log_in(page, base, path, SUPERVISOR)
        record = page.locator("#dossier")
        expect(record).to_contain_text(incident["reference"])
        expect(record).to_contain_text("Eergerelateerd geweld")
        expect(record).to_contain_text("Is er op dit moment direct gevaar voor de bewoner of voor anderen?")
        expect(page.locator("#vervolgacties")).to_contain_text("Veilig Thuis gebeld: Open")
        expect(page.get_by_role("link", name="PDF downloaden")).to_have_attribute(
            "href", f"/api/v1/incidents/{incident['id']}/record.pdf")

        # On paper: the decision, without the site's header, the buttons and the handover form.
        page.emulate_media(media="print")
        expect(page.locator(".site-header")).to_be_hidden()
        expect(page.get_by_role("button", name="Afdrukken")).to_be_hidden()
        expect(page.locator("#handover-form")).to_be_hidden()
        expect(page.locator("#vervolgacties")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "dossier-print.png"), full_page=True)
        page.emulate_media(media="screen")
        expect(page.locator("#handover-form")).to_be_visible()

        # The resident moves to Budel.
        form = page.locator("#handover-form")
        form.get_by_label("Naar locatie").select_option("BUDEL")
        form.get_by_label("Naar begeleider").select_option(label="begeleider.budel (BUDEL)")
        form.get_by_label("Reden (zonder namen of details van de bewoner)").fill("Bewoner verhuist")
        form.get_by_role("button", name="Overdragen").click()
        expect(page.get_by_role("status")).to_contain_text("Overgedragen")
        expect(page.locator("#handover-history")).to_contain_text("van TERAPEL")
        expect(page.locator("#handover-history")).to_contain_text("naar BUDEL")
        # Handing on is Budel's now: the form is gone for Ter Apel's supervisor.
        expect(page.locator("#handover-form")).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "dossier.png"), full_page=True)
        assert problems.items == [], problems.items
    finally:
        context.close()

    # Budel's counsellor finds the open follow-ups on "Mijn acties", the record one click away.
    context = browser.new_context(locale="nl-NL")
    page = context.new_page()
    try:
        _log_in(page, base, "/acties", BUDEL_COUNSELLOR)
        card = page.locator("li.follow-up", has_text="Veilig Thuis gebeld")
        expect(card).to_contain_text(incident["reference"])
        card.get_by_role("link", name=incident["reference"]).click()
        expect(page.locator("#dossier")).to_contain_text("naar BUDEL")
    finally:
        context.close()
    context = browser.new_context(locale="nl-NL")
    page = context.new_page()
    try:
        _log_in(page, base, "/acties", TERAPEL_COUNSELLOR)
        expect(page.locator("li.follow-up", has_text=incident["reference"])).to_have_count(0)
    finally:
        context.close()

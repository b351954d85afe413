""""Mijn acties" in a real browser (Debian's chromium, Playwright), issue 15.

The API runs under uvicorn against a fresh SQLite database (Alembic + seed, as
``make run``). A decision is recorded through the API with the service token, as
the action server does; one follow-up is made overdue in the database (the API
stamps "now"). Then, as a new counsellor would: log in as ``begeleider.terapel``,
see the header badge, open "Mijn acties", mark the overdue Veilig Thuis call done
with one click, try "Niet gedaan" without a reason (told what is missing), give a
reason, and see the badge and the incident's ``follow_ups`` move. The location's
contact person then sees what is still open there. Screenshot:
``test-artifacts/acties.png``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, time, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import update
from sqlalchemy.orm import Session

from api.auth.service import create_token
from api.config import Settings
from api.db import make_engine
from api.follow_ups.models import FollowUp
from api.models_base import utcnow
from knowledge.local_time import local_deadline
from tests.browser_support import ARTIFACTS, Problems, launch_chromium, running_api

SECRET = "browser-test-secret-0123456789abcdef-0123456789"
COUNSELLOR = ("begeleider.terapel", "begeleider-demo")
CONTACT = ("contactpersoon.terapel", "contactpersoon-demo")


def _token(role: str, sub: str, *locations: str) -> dict[str, str]:
    token = create_token(Settings(jwt_secret=SECRET), sub=sub, role=role, locations=locations)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict]]:
    folder = tmp_path_factory.mktemp("actions-browser")
    url = f"sqlite:///{folder / 'coa.db'}"
    log = ARTIFACTS / "web-logs" / "uvicorn-actions.log"
    # A generous start-up: the machine is shared and the de-identification model loads first.
    with running_api(url, log=log, env={"COA_JWT_SECRET": SECRET}, timeout=180) as base:
        payload = {
            "idempotency_key": "browser-actions-1", "conversation_id": "conv-actions-1", "location": "TERAPEL",
            "protocol": "eergerelateerd_geweld", "protocol_version": "1.0.0", "acute": False,
            "referrals": ["veilig_thuis", "politie"], "steps": [], "outcome": "melding_veilig_thuis",
            "staff_id": "stf-7c1a", "channel": "teams",
        }  # fmt: skip
        response = httpx.post(f"{base}/api/v1/incidents", json=payload, headers=_token("service", "action-server"))
        assert response.status_code == 201, response.text
        incident = response.json()
        veilig_thuis = next(f for f in incident["follow_ups"] if f["organisation"] == "veilig_thuis")
        engine = make_engine(url)
        with Session(engine) as db:
            db.execute(update(FollowUp).where(FollowUp.id == uuid.UUID(veilig_thuis["id"]))
                       .values(due_at=utcnow() - timedelta(hours=2)))  # fmt: skip
            db.commit()
        engine.dispose()
        yield base, incident


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


def _log_in(page: Page, base: str, user: tuple[str, str]) -> None:
    page.goto(f"{base}/acties")
    page.get_by_label("Gebruikersnaam").fill(user[0])
    page.get_by_label("Wachtwoord").fill(user[1])
    page.get_by_role("button", name="Inloggen").click()
    expect(page).to_have_url(f"{base}/acties")


def test_counsellor_confirms_follow_ups_and_the_badge_moves(server: tuple[str, dict], browser: Browser) -> None:
    base, incident = server
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="nl-NL")
    problems = Problems(network=False)
    page = problems.watch(context.new_page())
    try:
        _log_in(page, base, COUNSELLOR)
        badge = page.locator(".follow-up-badge")
        expect(badge).to_have_text("4 open · 1 te laat")
        nav = page.get_by_role("navigation", name="Hoofdmenu")
        expect(nav.get_by_role("link", name="Mijn acties")).to_have_attribute("aria-current", "page")
        cards = page.locator("li.follow-up")
        expect(cards).to_have_count(4)
        first = cards.first  # overdue first: soonest deadline
        expect(first).to_contain_text("Veilig Thuis gebeld")
        expect(first).to_contain_text("Te laat")
        expect(first).to_contain_text(incident["reference"])
        # A working-day deadline (midnight UTC) reads as the end of its last day, not 01:00 the next.
        working_day = [f for f in incident["follow_ups"] if datetime.fromisoformat(f["due_at"]).time() == time(0)]
        assert working_day, incident["follow_ups"]
        for follow_up in working_day:
            shown = local_deadline(datetime.fromisoformat(follow_up["due_at"]))
            assert shown.endswith(" 23:59"), shown
            expect(cards.filter(has_text=follow_up["action"])).to_contain_text(f"Uiterlijk {shown}")
        page.screenshot(path=str(ARTIFACTS / "acties.png"), full_page=True)

        first.get_by_role("button", name="Gedaan", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("Vastgelegd: Gedaan")
        expect(badge).to_have_text("3 open")
        expect(page.locator("li.follow-up")).to_have_count(3)
        expect(page.locator("table.data-table")).to_contain_text("Veilig Thuis gebeld")

        police = page.locator("li.follow-up", has_text="Risico-inschatting")
        police.get_by_role("button", name="Niet gedaan", exact=True).click()
        expect(page.get_by_role("alert")).to_contain_text("waarom")
        police = page.locator("li.follow-up", has_text="Risico-inschatting")
        police.get_by_label("Reden (alleen bij niet gedaan)").fill("Politie doet dit al via het LEC EGG")
        police.get_by_role("button", name="Niet gedaan", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("Vastgelegd: Niet gedaan")
        expect(badge).to_have_text("2 open")
        # The one 422 is the refused "Niet gedaan" without a reason; nothing else (CSP, scripts).
        assert [p for p in problems.items if "422" not in p] == [], problems.items
        assert len(problems.items) == 1, problems.items
    finally:
        context.close()

    api = httpx.get(f"{base}/api/v1/incidents/{incident['id']}", headers=_token("counsellor", "stf-7c1a", "TERAPEL"))
    statuses = {f["action"]: f["status"] for f in api.json()["follow_ups"]}
    assert statuses["Veilig Thuis gebeld"] == "gedaan"
    assert statuses["Risico-inschatting bij de politie gevraagd"] == "niet_gedaan"
    assert sorted(statuses.values()).count("open") == 2


def test_contact_person_sees_the_open_follow_ups_of_the_location(
    server: tuple[str, dict], browser: Browser
) -> None:
    base, incident = server
    context = browser.new_context(locale="nl-NL")
    page = context.new_page()
    try:
        _log_in(page, base, CONTACT)
        expect(page.locator(".follow-up-badge")).to_contain_text("open")
        expect(page.locator("li.follow-up").first).to_contain_text(incident["reference"])
    finally:
        context.close()

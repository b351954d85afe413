"""The supervisors' dashboard in a real browser (Debian's chromium, Playwright).

The API runs under uvicorn on a free loopback port against a fresh SQLite database
(Alembic + ``python -m api.seed``, as ``make run`` does). This week's sessions and
incidents are logged through the API with a service token, as the action server
does; a few weeks of history are written straight into the database (the API
always stamps "now"). Then, as a new supervisor would: log in as
``supervisor.terapel``, see the charts, find last week's honour-based violence
sessions, open one, read what was asked and advised, mark it reviewed (nieuw →
in_behandeling → afgehandeld) and see the indicators move. Screenshots:
``test-artifacts/dashboard*.png`` (laptop and phone).

Needs ``/usr/bin/chromium`` (``make browser``) and ``node_modules`` (``npm ci``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy.orm import Session

from api.auth.service import create_token
from api.config import Settings
from api.db import make_engine
from api.models_base import utcnow
from tests.api.factories import add_reviews, make_incident, make_session
from tests.browser_support import ARTIFACTS, ROOT, Problems, launch_chromium, running_api

SECRET = "browser-test-secret-0123456789abcdef-0123456789"
USER = ("supervisor.terapel", "supervisor-demo")
EGG = "eergerelateerd_geweld"
QUESTION = "Is er op dit moment direct gevaar voor de bewoner of anderen?"
ADVICE = "Bel eerst 112. Meld daarna bij Veilig Thuis en informeer de aandachtsfunctionaris."


class Api:
    def __init__(self, base: str) -> None:
        token = create_token(Settings(jwt_secret=SECRET), sub="action-server", role="service", locations=())
        self.http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        self.keys = iter(range(1, 1_000_000))

    def event(self, conversation: str, run: str, location: str, protocol: str, **event: Any) -> dict[str, Any]:
        payload = {
            "idempotency_key": f"browser-{conversation}-{next(self.keys)}",
            "conversation_id": conversation,
            "run_id": run,
            "location": location,
            "protocol": protocol,
            "protocol_version": "1.0.0",
            "staff_id": "stf-7c1a" if location == "TERAPEL" else "stf-2e9b",
            "channel": "teams",
            "event": event,
        }
        response = self.http.post("/api/v1/sessions/events", json=payload)
        assert response.status_code == 201, response.text
        return response.json()

    def incident(self, conversation: str, location: str, protocol: str, **fields: Any) -> dict[str, Any]:
        payload = {
            "idempotency_key": f"browser-incident-{conversation}-{protocol}",
            "conversation_id": conversation,
            "location": location,
            "protocol": protocol,
            "protocol_version": "1.0.0",
            "acute": False,
            "referrals": ["veilig_thuis"],
            "steps": [],
            "outcome": "melding_veilig_thuis",
            "staff_id": "stf-7c1a" if location == "TERAPEL" else "stf-2e9b",
            "channel": "teams",
            **fields,
        }
        response = self.http.post("/api/v1/incidents", json=payload)
        assert response.status_code == 201, response.text
        return response.json()


def _walk(api: Api, conversation: str, run: str, location: str, protocol: str, acute: bool) -> str:
    """One protocol run through the API: questions, answers, advice, outcome, incident."""
    api.event(conversation, run, location, protocol, type="started", step="acuut_gevaar")
    api.event(conversation, run, location, protocol, type="question_asked", step="acuut_gevaar", text=QUESTION)
    api.event(conversation, run, location, protocol, type="answer_given", step="acuut_gevaar", answer=acute)
    api.event(
        conversation, run, location, protocol,
        type="question_asked", step="dreiging_familie", text="Komt de dreiging van (een lid van) de familie?",
    )  # fmt: skip
    api.event(conversation, run, location, protocol, type="answer_given", step="dreiging_familie", answer=True)
    api.event(conversation, run, location, protocol, type="advice_shown", step="advies", text=ADVICE)
    # Acute, but no police in the recorded decision: a deviation from 'politie_bij_acuut'.
    outcome = "melding_veilig_thuis_acuut" if acute else "melding_veilig_thuis"
    incident = api.incident(conversation, location, protocol, acute=acute, outcome=outcome)
    api.event(
        conversation, run, location, protocol,
        type="outcome", step="einde", text="Melden bij Veilig Thuis.", outcome=outcome,
    )  # fmt: skip
    api.event(conversation, run, location, protocol, type="incident_recorded", incident_reference=incident["reference"])
    return str(incident["reference"])


def _history(url: str) -> None:
    """Twelve weeks of earlier sessions and incidents at TERAPEL (and some at BUDEL)."""
    engine = make_engine(url)
    now = utcnow()
    protocols = [EGG, "seksueel_geweld", "ongewenste_zwangerschap", "lhbti_ondersteuning"]
    with Session(engine) as db:
        for week in range(1, 12):
            for index in range(1 + (week * 7) % 4):
                location = "BUDEL" if index == 2 else "TERAPEL"
                protocol = protocols[(week + index) % len(protocols)]
                started = now - timedelta(weeks=week, hours=index * 5 + 3)
                conversation = f"history-{week}-{index}"
                make_session(
                    db, started_at=started, location=location, protocol=protocol, conversation_id=conversation,
                    events=[{"type": "started"}, {"type": "question_asked", "text": "Oudere vraag"}],
                )  # fmt: skip
                incident = make_incident(
                    db,
                    created_at=started + timedelta(minutes=30),
                    location=location,
                    protocol=protocol,
                    conversation_id=conversation,
                    referrals=["veilig_thuis"] if protocol in (EGG, "seksueel_geweld") else ["ggd"],
                )
                if (week + index) % 5 == 0:
                    add_reviews(db, incident, [("in_behandeling", started + timedelta(days=1))])
                    add_reviews(db, incident, [("correctie_gevraagd", started + timedelta(days=2))])
                elif week > 1:
                    review_days = 1 + (week * 3 + index) % 9
                    add_reviews(db, incident, [("in_behandeling", started + timedelta(days=1))])
                    add_reviews(db, incident, [("afgehandeld", started + timedelta(days=review_days))])
        db.commit()
    engine.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    if not (ROOT / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js").is_file():
        pytest.fail("node_modules/chart.js is missing: run `npm ci` (make node_modules/.stamp)")
    folder = tmp_path_factory.mktemp("dashboard-browser")
    url = f"sqlite:///{folder / 'coa.db'}"
    log = ARTIFACTS / "web-logs" / "uvicorn-dashboard.log"
    with running_api(url, log=log, env={"COA_JWT_SECRET": SECRET}, prepare=lambda: _history(url)) as base:
        api = Api(base)
        refs = {
            "egg": _walk(api, "conv-browser-1", "4", "TERAPEL", EGG, acute=True),
            # A second protocol in the same conversation: its own session.
            "sg": _walk(api, "conv-browser-1", "23", "TERAPEL", "seksueel_geweld", acute=False),
            "oz": _walk(api, "conv-browser-2", "2", "TERAPEL", "ongewenste_zwangerschap", acute=False),
            "budel": _walk(api, "conv-browser-3", "2", "BUDEL", EGG, acute=False),
        }
        yield base, refs


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


def _log_in(page: Page, base: str, path: str) -> None:
    page.goto(f"{base}{path}")
    page.get_by_label("Gebruikersnaam").fill(USER[0])
    page.get_by_label("Wachtwoord").fill(USER[1])
    page.get_by_role("button", name="Inloggen").click()
    expect(page).to_have_url(f"{base}{path}")


def _charts_drawn(page: Page) -> None:
    for chart in ("incidents", "norms", "review", "corrections"):
        page.wait_for_selector(f'#chart-{chart}[data-rendered="true"]', timeout=15_000)


def _kpi(page: Page, name: str) -> int:
    return int(page.locator(f'[data-kpi="{name}"]').inner_text())


def test_supervisor_finds_reviews_and_sees_the_indicator_move(
    server: tuple[str, dict[str, str]], browser: Browser
) -> None:
    base, refs = server
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="nl-NL")
    problems = Problems()
    page = problems.watch(context.new_page())
    try:
        _log_in(page, base, "/dashboard")
        _charts_drawn(page)
        assert page.locator("canvas[data-chart]").count() == 4
        nav = page.get_by_role("navigation", name="Hoofdmenu")
        expect(nav.get_by_role("link", name="Dashboard")).to_have_attribute("aria-current", "page")
        expect(nav.get_by_role("link", name="Correcties")).to_have_count(0)
        expect(page.locator("#totals-table")).not_to_contain_text("BUDEL")
        reviewed_before = _kpi(page, "reviewed")
        terapel_reviewed = page.locator('#totals-table tr[data-location="TERAPEL"] [data-col="reviewed"]')
        terapel_before = int(terapel_reviewed.inner_text())
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

        # Last week's honour-based violence sessions of the location.
        nav.get_by_role("link", name="Sessies").click()
        expect(page).to_have_url(f"{base}/sessies")
        page.get_by_label("Protocol").select_option(EGG)
        page.get_by_label("Periode").select_option("7")
        page.get_by_role("button", name="Filter").click()
        rows = page.locator("#sessions-table tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(refs["egg"])
        expect(rows.first).to_contain_text("Nieuw")
        expect(page.locator("#result-count")).to_contain_text("1–1 van 1 sessie")
        csv_href = page.get_by_role("link", name="Exporteer als CSV").get_attribute("href") or ""
        assert csv_href.startswith("/api/v1/sessions.csv?") and f"protocol={EGG}" in csv_href and "from=" in csv_href
        csv = context.request.get(base + csv_href)
        assert csv.ok and refs["egg"] in csv.text() and refs["budel"] not in csv.text()
        assert refs["sg"] not in csv.text()  # the second protocol of that conversation is its own session
        page.screenshot(path=str(ARTIFACTS / "dashboard-sessies.png"), full_page=True)

        # Open it and read what was asked and advised.
        rows.first.get_by_role("link").click()
        timeline = page.locator("#timeline")
        expect(timeline).to_contain_text(QUESTION)
        expect(timeline.locator(".tl-question_asked").first).to_contain_text("Antwoord: ja")
        expect(timeline).to_contain_text(ADVICE)
        expect(timeline).to_contain_text(refs["egg"])
        expect(page.locator(".deviation-alert")).to_contain_text("Politie bij acuut gevaar")
        expect(timeline.locator(".tl-deviation")).to_have_count(1)
        expect(page.locator("#review-status")).to_contain_text("Nieuw")

        # Mark it reviewed: nieuw → in_behandeling → afgehandeld.
        page.get_by_label("Notitie").fill("Politie is wel gebeld, staat niet in het besluit. Besproken.")
        page.get_by_role("button", name="In behandeling nemen").click()
        expect(page.locator("#review-status")).to_contain_text("In behandeling")
        expect(page.get_by_role("status")).to_contain_text("In behandeling")
        expect(page.get_by_role("button", name="In behandeling nemen")).to_have_count(0)
        page.get_by_role("button", name="Afhandelen: beoordeeld").click()
        expect(page.locator("#review-status")).to_contain_text("Afgehandeld")
        history = page.locator(".history")
        expect(history).to_contain_text("In behandeling")
        expect(history).to_contain_text("Afgehandeld")
        expect(history).to_contain_text("Politie is wel gebeld")
        # Final: no transitions left (a note can still be added).
        expect(page.locator('.review-buttons button[name="status"]:not([value=""])')).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "dashboard-sessie.png"), full_page=True)

        # A session of the other location is not there for this supervisor.
        budel = context.request.get(f"{base}/sessies?locatie=BUDEL")
        assert budel.ok and "Geen sessies gevonden" in budel.text() and refs["budel"] not in budel.text()

        # The indicators moved.
        page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Dashboard").click()
        _charts_drawn(page)
        assert _kpi(page, "reviewed") == reviewed_before + 1
        assert int(terapel_reviewed.inner_text()) == terapel_before + 1
        page.screenshot(path=str(ARTIFACTS / "dashboard-after.png"), full_page=True)
        assert problems.items == []
    finally:
        context.close()


def test_dashboard_on_a_phone(server: tuple[str, dict[str, str]], browser: Browser) -> None:
    base, _refs = server
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="nl-NL"
    )
    problems = Problems()
    page = problems.watch(context.new_page())
    try:
        _log_in(page, base, "/dashboard")
        _charts_drawn(page)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
        page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
        page.goto(f"{base}/sessies?protocol={EGG}&periode=7")
        expect(page.locator("#sessions-table tbody tr")).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "dashboard-sessies-phone.png"), full_page=True)
        page.locator("#sessions-table tbody tr").first.get_by_role("link").click()
        expect(page.locator("#timeline")).to_contain_text(QUESTION)
        page.screenshot(path=str(ARTIFACTS / "dashboard-sessie-phone.png"), full_page=True)
        assert problems.items == []
    finally:
        context.close()

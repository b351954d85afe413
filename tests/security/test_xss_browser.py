"""Stored XSS (issue 6, part 6) in a real browser (Debian's chromium, Playwright):
markup stored in a review note and in a free-text answer is shown as text on the
session page, and no script runs. The API runs under uvicorn against a fresh,
migrated and seeded SQLite database, as in tests/web/test_dashboard_browser.py."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import sync_playwright

from api.auth.service import create_token
from api.config import Settings
from tests.browser_support import launch_chromium, running_api

SECRET = "xss-test-secret-0123456789abcdef-0123456789abcdef"
PAYLOAD = '<img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2</script>'
ANSWER = '"><svg onload="window.__xss=3">'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("xss")
    with running_api(f"sqlite:///{folder / 'coa.db'}", folder / "uvicorn.log",
                     env={"COA_JWT_SECRET": SECRET, "COA_ENV": "test"}, timeout=120) as base:
        yield base


def test_stored_markup_is_shown_as_text_and_never_runs(server: str) -> None:
    settings = Settings(jwt_secret=SECRET)
    service = {"Authorization": "Bearer " + create_token(settings, sub="action-server", role="service")}
    supervisor = {"Authorization": "Bearer " + create_token(settings, sub="stf-sup", role="supervisor",
                                                            locations=["TERAPEL"])}  # fmt: skip
    base = {"conversation_id": "xss-1", "location": "TERAPEL", "protocol": "eergerelateerd_geweld",
            "protocol_version": "1.0.0", "staff_id": "stf-7c1a"}  # fmt: skip
    with httpx.Client(base_url=server, timeout=30) as http:
        started = http.post("/api/v1/sessions/events", headers=service,
                            json={**base, "idempotency_key": "xss-e1", "event": {"type": "started"}})  # fmt: skip
        assert started.status_code == 201, started.text
        session_id = started.json()["session_id"]
        answer = http.post("/api/v1/sessions/events", headers=service, json={
            **base, "idempotency_key": "xss-e2",
            "event": {"type": "answer_given", "step": "toelichting", "text": ANSWER, "answer": ANSWER}})  # fmt: skip
        assert answer.status_code == 201, answer.text
        incident = http.post("/api/v1/incidents", headers=service, json={
            **base, "idempotency_key": "xss-i1", "acute": False, "referrals": ["veilig_thuis"],
            "steps": [], "outcome": "melding_veilig_thuis"})  # fmt: skip
        assert incident.status_code == 201, incident.text
        note = http.post(f"/api/v1/incidents/{incident.json()['id']}/review-events", headers=supervisor,
                         json={"note": PAYLOAD})  # fmt: skip
        assert note.status_code == 201, note.text
        assert "onerror" in note.json()["note"]  # stored as written (de-identification keeps markup)

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(f"{server}/login")
            page.get_by_label("Gebruikersnaam").fill("supervisor.terapel")
            page.get_by_label("Wachtwoord").fill("supervisor-demo")
            page.get_by_role("button", name="Inloggen").click()
            page.wait_for_url("**/protocollen")
            page.goto(f"{server}/sessies/{session_id}")
            page.wait_for_load_state("networkidle")
            body = page.inner_text("body")
            assert "onerror" in body, "the note should be visible as text"
            assert page.evaluate("window.__xss") is None
            assert page.locator("img[src='x']").count() == 0
            assert page.locator("svg[onload]").count() == 0
            assert dialogs == []
        finally:
            browser.close()

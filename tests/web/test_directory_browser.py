"""The directory pages in a real browser (Debian's chromium, Playwright), issue 17.

As a location manager whose aandachtsfunctionaris just left: the supervisor of Ter
Apel, with the keyboard only, puts the successor in (the old one ends the day
before), ends the LHBTI contact's assignment and finds that position on the
dashboard's list of unfilled positions. The admin, with the mouse, adds a deputy
for next week and creates and deactivates a user; the deactivated user's open
browser session ends at once. The API runs under uvicorn on a fresh SQLite
database (Alembic + seed, as ``make run`` does). Screenshots:
``test-artifacts/directory-*.png``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from knowledge.local_time import local_today
from tests import browser_support
from tests.browser_support import ARTIFACTS, Problems, launch_chromium, running_api

SECRET = "directory-browser-secret-0123456789abcdef-012345"
SUPERVISOR = ("supervisor.terapel", "supervisor-demo")
ADMIN = ("admin", "admin-demo")
OLD_AF = "Joris Wolkenveld-Demo"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("directory-browser")
    log = ARTIFACTS / "web-logs" / "uvicorn-directory.log"
    # Any free port, not the shared preferred one: other browser tests may run at the same time
    # on this machine, and /health on their server would pass for ours.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(browser_support, "free_port", lambda: _any_free_port())
        with running_api(f"sqlite:///{folder / 'coa.db'}", log=log, env={"COA_JWT_SECRET": SECRET},
                         timeout=300) as url:
            yield url


def _any_free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


def _tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until ``selector`` has the focus (keyboard only: no clicks, no focus())."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    pytest.fail(f"{selector} cannot be reached with Tab")


def _keyboard_log_in(page: Page, base: str, user: tuple[str, str], path: str) -> None:
    page.goto(f"{base}/login?next={path}")
    _tab_to(page, "#username, input[name=username]")
    page.keyboard.type(user[0])
    _tab_to(page, "input[name=password]")
    page.keyboard.type(user[1])
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base}{path}")


def _mouse_log_in(page: Page, base: str, user: tuple[str, str], path: str) -> None:
    page.goto(f"{base}/login?next={path}")
    page.get_by_label("Gebruikersnaam").fill(user[0])
    page.get_by_label("Wachtwoord").fill(user[1])
    page.get_by_role("button", name="Inloggen").click()
    expect(page).to_have_url(f"{base}{path}")


def _choose(page: Page, selector: str, label: str) -> None:
    """Pick an option of the focused select with the arrow keys."""
    _tab_to(page, selector)
    for _ in range(30):
        if page.evaluate("s => document.querySelector(s).selectedOptions[0].text", selector).startswith(label):
            return
        page.keyboard.press("ArrowDown")
    pytest.fail(f"no option '{label}' in {selector}")


def test_supervisor_replaces_a_holder_and_ends_one_with_the_keyboard(base: str, browser: Browser) -> None:
    problems = Problems()
    page = problems.watch(browser.new_page(viewport={"width": 1280, "height": 900}))
    _keyboard_log_in(page, base, SUPERVISOR, "/sleutelposities")
    expect(page.locator("#no-gaps")).to_be_visible()
    _tab_to(page, 'a[href="/sleutelposities/TERAPEL"]')
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base}/sleutelposities/TERAPEL")
    today_af = page.locator('#today-table tr[data-position="aandachtsfunctionaris"]')
    expect(today_af).to_contain_text(OLD_AF)

    # The successor, from today, following the one who left.
    _choose(page, "#a-position", "Aandachtsfunctionaris huiselijk")
    _tab_to(page, "#a-name")
    page.keyboard.type("Nadia Beukenhaag-Demo")
    _tab_to(page, "#a-phone")
    page.keyboard.type("toestel 4110")
    _tab_to(page, "#a-teams")
    page.keyboard.type("nadia.beukenhaag@demo.example")
    _choose(page, "#a-replaces", OLD_AF)
    _tab_to(page, "#new-assignment button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#saved")).to_contain_text("nieuwe toewijzing")
    expect(today_af).to_contain_text("Nadia Beukenhaag-Demo")
    expect(today_af).not_to_contain_text(OLD_AF)
    # The old assignment is kept, ended yesterday, with its history.
    yesterday = (local_today() - timedelta(days=1)).strftime("%d-%m-%Y")
    old_row = page.locator("#assignments-table tr", has_text=OLD_AF)
    expect(old_row).to_have_attribute("data-status", "beëindigd")
    expect(old_row).to_contain_text(yesterday)

    # End the LHBTI contact's assignment (last day: yesterday).
    lhbti = page.locator("#assignments-table tr", has_text="Sem Meeuwenberg-Demo")
    button_id = lhbti.get_attribute("data-assignment")
    _tab_to(page, f'form[action$="/{button_id}/beeindigen"] button')
    page.keyboard.press("Enter")
    expect(page.locator("#saved")).to_contain_text("beëindigd")
    expect(page.locator('#today-table tr[data-position="lhbti_contactpersoon"]')).to_contain_text("Niet bezet")
    page.screenshot(path=str(ARTIFACTS / "directory-supervisor.png"), full_page=True)

    # The dashboard lists the unfilled position.
    page.goto(f"{base}/dashboard")
    gap = page.locator('#gaps-table tr[data-location="TERAPEL"][data-position="lhbti_contactpersoon"]')
    expect(gap).to_contain_text("Periode verlopen")
    expect(gap).to_contain_text("Sem Meeuwenberg-Demo")
    assert not problems.items, problems.items
    # Another location's directory is not this supervisor's.
    assert page.goto(f"{base}/sleutelposities/BUDEL").status == 404


def test_admin_adds_a_deputy_for_next_week_and_deactivates_a_user(base: str, browser: Browser) -> None:
    problems = Problems()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = problems.watch(context.new_page())
    _mouse_log_in(page, base, ADMIN, "/sleutelposities/BUDEL")
    monday = local_today() + timedelta(days=7 - local_today().weekday())
    page.get_by_label("Sleutelpositie").select_option("aandachtsfunctionaris")
    page.get_by_label("Als").select_option("vervanger")
    page.get_by_label("Naam").first.fill("Pim Wilgenhof-Demo")
    page.locator("#a-email").fill("pim@demo.example")
    page.locator("#a-from").fill(monday.isoformat())
    page.locator("#a-until").fill((monday + timedelta(days=4)).isoformat())
    page.locator("#new-assignment button[type=submit]").click()
    expect(page.locator("#saved")).to_be_visible()
    deputy = page.locator("#assignments-table tr", has_text="Pim Wilgenhof-Demo")
    expect(deputy).to_have_attribute("data-status", "toekomstig")
    # Today the holder is still the one named.
    expect(page.locator('#today-table tr[data-position="aandachtsfunctionaris"]')).to_contain_text(
        "Tijmen Kiezelbeek-Demo")
    # A second deputy in the same week is refused with the reason.
    page.get_by_label("Sleutelpositie").select_option("aandachtsfunctionaris")
    page.get_by_label("Als").select_option("vervanger")
    page.get_by_label("Naam").first.fill("Tweede Vervanger-Demo")
    page.locator("#a-email").fill("tweede@demo.example")
    page.locator("#a-from").fill((monday + timedelta(days=1)).isoformat())
    page.locator("#new-assignment button[type=submit]").click()
    expect(page.locator("#form-errors")).to_contain_text("overlapping period")
    expect(page.locator("#form-errors")).to_contain_text("Pim Wilgenhof-Demo")

    # A counsellor is logged in elsewhere; the admin deactivates the account.
    other = browser.new_context()
    counsellor = other.new_page()
    _mouse_log_in(counsellor, base, ("begeleider.budel", "begeleider-demo"), "/protocollen")
    page.goto(f"{base}/gebruikers")
    row = page.locator('#users-table tr[data-user="begeleider.budel"]')
    row.locator("summary").click()
    row.get_by_role("button", name="begeleider.budel deactiveren").click()
    expect(page.locator("#saved")).to_contain_text("gedeactiveerd")
    expect(page.locator('#users-table tr[data-user="begeleider.budel"]')).to_have_attribute("data-active", "nee")
    counsellor.goto(f"{base}/protocollen")
    expect(counsellor).to_have_url(f"{base}/login?next=/protocollen")

    # And creates a new user.
    page.locator("#u-name").fill("begeleider.assen")
    page.locator("#u-password").fill("een-lang-wachtwoord")
    page.locator("#u-role").select_option("counsellor")
    page.locator('#new-user input[name=locations][value="ZWOLLE"]').check()
    page.locator("#new-user button[type=submit]").click()
    expect(page.locator('#users-table tr[data-user="begeleider.assen"]')).to_contain_text("ZWOLLE")
    page.screenshot(path=str(ARTIFACTS / "directory-users.png"), full_page=True)
    # The only error is the refused overlapping deputy (a 422 page, as intended).
    refused = f"{base}/sleutelposities/BUDEL/toewijzingen"
    unexpected = [p for p in problems.items if p != f"HTTP 422: {refused}" and "status of 422" not in p]
    assert not unexpected and f"HTTP 422: {refused}" in problems.items, problems.items
    other.close()
    context.close()

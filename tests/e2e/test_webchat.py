"""The web chat widget, end to end in a real browser: Debian's chromium driven by
Playwright (``/usr/bin/chromium``, never ``playwright install``) against the real
stack, with the Rasa server running the token-bound web chat channel
(``tests/e2e/credentials.webchat.yml``, merged into the stack's credentials by
``tests/e2e/conftest.py``).

A counsellor of Ter Apel logs in, opens /chat, reports honour-based violence in her
own words, answers by clicking the buttons (Ja on the acute question: 112 comes
first), and reaches the recorded decision's reference; the incident, read back
through the API as a supervisor, carries the location, the channel and the
staff member's pseudonymous id from her token. The same on a phone-sized screen,
by keyboard only, and an XSS check. Screenshots: ``test-artifacts/webchat-*.png``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from knowledge import load_knowledge
from tests.browser_support import ARTIFACTS, Problems, launch_chromium
from tests.e2e.conftest import EXTRA_CREDENTIALS, ROOT, make_token

pytestmark = pytest.mark.e2e

# The Rasa server of the session's stack gets the web chat channel (instead of the
# plain `socketio:` one), whichever other channel files the other tests add.
EXTRA_CREDENTIALS.append((ROOT / "tests" / "e2e" / "credentials.webchat.yml", ("socketio",)))

BASE = "http://127.0.0.1:8000"
API = f"{BASE}/api/v1"
COUNSELLOR = ("begeleider.terapel", "begeleider-demo")
ADMIN = ("admin", "admin-demo")
REPORT = "een bewoonster vertelt dat haar broer haar bedreigt omdat ze niet met haar neef wil trouwen"
REFERENCE = re.compile(r"Referentie[^:]*:\s*\**([A-Z]+-[0-9]+-[A-Z0-9]+)")
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
BOT = "#chat-log li.chat-bot"
XSS = '<img src=x onerror="window.__xss=1">'


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright, stack) -> Iterator[Browser]:
    if not (ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js").is_file():
        pytest.fail("node_modules/socket.io-client is missing: run `npm ci`")
    browser = launch_chromium(playwright)
    yield browser
    browser.close()


def open_chat(browser: Browser, user: tuple[str, str], viewport: dict[str, int], **options: Any) -> tuple[
        BrowserContext, Page, Problems]:
    context = browser.new_context(viewport=viewport, locale="nl-NL", **options)
    context.set_default_timeout(60_000)
    problems = Problems(network=False)  # console and page errors only
    page = problems.watch(context.new_page())
    page.goto(f"{BASE}/chat")
    expect(page).to_have_url(re.compile(r"/login\?next=/chat$"))
    page.get_by_label("Gebruikersnaam").fill(user[0])
    page.get_by_label("Wachtwoord").fill(user[1])
    page.get_by_role("button", name="Inloggen").click()
    expect(page).to_have_url(f"{BASE}/chat")
    wait_connected(page)
    return context, page, problems


def wait_connected(page: Page) -> None:
    expect(page.locator("#chat-status")).to_have_attribute("data-state", "ready")
    expect(page.get_by_label("Uw bericht")).to_be_enabled()


def bot_count(page: Page) -> int:
    return page.locator(BOT).count()


def wait_replies(page: Page, before: int, settle: float = 1.2, timeout: float = 60) -> None:
    """Until at least one new bot message has arrived and no more come for `settle` s."""
    # (polled from here: wait_for_function would need 'unsafe-eval', which the CSP forbids)
    deadline = time.monotonic() + timeout
    while bot_count(page) <= before:
        if time.monotonic() > deadline:
            raise AssertionError("no reply:\n" + "\n".join(page.locator("#chat-log li").all_inner_texts()))
        time.sleep(0.2)
    count, quiet_since = bot_count(page), time.monotonic()
    while time.monotonic() - quiet_since < settle:
        time.sleep(0.2)
        now = bot_count(page)
        if now != count:
            count, quiet_since = now, time.monotonic()


def new_bot_texts(page: Page, before: int) -> list[str]:
    return page.locator(BOT).all_inner_texts()[before:]


def send_typed(page: Page, text: str) -> int:
    before = bot_count(page)
    box = page.get_by_label("Uw bericht")
    box.fill(text)
    box.press("Enter")
    wait_replies(page, before)
    return before


def click_button(page: Page, title: str | None = None) -> int:
    """Clicks a button of the last bot message that has enabled buttons (the first one,
    or the one titled `title`); returns the bot message count before the click."""
    buttons = page.locator(f"{BOT} .chat-choice:enabled")
    target = buttons.filter(has_text=re.compile(f"^{re.escape(title)}$")).last if title else buttons.first
    chosen = target.inner_text()
    before = bot_count(page)
    target.click()
    # the title (not the payload) is shown as the user's message
    expect(page.locator("#chat-log li.chat-user").last).to_have_text(re.compile(re.escape(chosen)))
    wait_replies(page, before)
    return before


def finish_protocol(page: Page, max_turns: int = 30) -> str:
    for _ in range(max_turns):
        match = REFERENCE.search("\n".join(page.locator(BOT).all_inner_texts()))
        if match:
            return match.group(1)
        if page.locator(f"{BOT} .chat-choice:enabled").count():
            click_button(page)
        else:
            send_typed(page, "dat weet ik niet")
    raise AssertionError("no recorded decision:\n" + "\n".join(page.locator("#chat-log li").all_inner_texts()))


def session_id(page: Page) -> str:
    value = page.evaluate("window.sessionStorage.getItem('coa-chat-session')")
    assert isinstance(value, str) and value.startswith("wc-"), value
    return value


def staff_id_of(context: BrowserContext) -> str:
    """The pseudonymous id of the logged-in user: the `sub` of her session cookie."""
    [cookie] = [c for c in context.cookies() if c["name"] == "coa_session"]
    assert cookie["httpOnly"] is True
    return jwt.decode(cookie["value"], options={"verify_signature": False})["sub"]


def incident_for(conversation_id: str, timeout: float = 30) -> dict:
    """The recorded incident (the action server may deliver it through its outbox)."""
    token = make_token("supervisor", "TERAPEL")
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{API}/incidents", params={"conversation_id": conversation_id},
                             headers={"Authorization": f"Bearer {token}"}, timeout=30)
        response.raise_for_status()
        body = response.json()
        if body["total"]:
            assert body["total"] == 1, body
            return body["items"][0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no incident for {conversation_id}")
        time.sleep(0.5)


def run_acute_protocol(page: Page, screenshot: str) -> str:
    """Types the report, clicks Ja on the acute question, finishes; returns the reference."""
    expect(page.locator("#chat-location")).to_contain_text("Ter Apel")
    send_typed(page, REPORT)
    # (socket.io splits a reply at blank lines; the buttons are on its last part)
    first = page.locator(BOT).last
    expect(first.locator(".chat-choice")).to_have_text(["Ja", "Nee"])
    expect(first.locator(".chat-choice").first).to_have_attribute("data-payload", "/affirm")
    expect(first.locator(".chat-choice").last).to_have_attribute("data-payload", "/deny")

    after_yes = click_button(page, "Ja")
    replies = new_bot_texts(page, after_yes)
    assert "112" in replies[0], replies  # the very next reply: call 112 first
    call_112 = page.locator(BOT).nth(after_yes).locator('a[href="tel:112"]')
    expect(call_112.first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / f"{screenshot}-112.png"), full_page=False)

    reference = finish_protocol(page)
    outcome = "\n".join(page.locator(BOT).all_inner_texts())
    assert "0800-2000" in outcome
    expect(page.locator(f'{BOT} a[href="tel:08002000"]').first).to_be_visible()
    page.locator(BOT).last.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"{screenshot}.png"), full_page=False)
    return reference


def test_counsellor_runs_the_protocol_by_clicking_on_a_laptop(browser: Browser) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context, page, problems = open_chat(browser, COUNSELLOR, LAPTOP)
    try:
        expect(page.get_by_role("link", name="Chat")).to_have_attribute("aria-current", "page")
        badge = page.locator(".follow-up-badge")
        open_before = int(badge.inner_text().split()[0])
        reference = run_acute_protocol(page, "webchat-laptop")
        conversation = session_id(page)
        incident = incident_for(conversation)
        # The decision's follow-ups are in the header's badge at once, without a reload.
        added = [f for f in incident["follow_ups"] if f["status"] == "open"]
        assert added, incident["follow_ups"]
        expect(badge).to_have_text(re.compile(rf"^{open_before + len(added)} open\b"))
        assert incident["reference"] == reference
        assert incident["conversation_id"] == conversation
        assert incident["location"] == "TERAPEL"
        assert incident["channel"] == "webchat"
        assert incident["staff_id"] == staff_id_of(context)
        assert incident["protocol"] == "eergerelateerd_geweld"
        assert incident["acute"] is True
        assert incident["steps"][0]["answer"] == "ja"
        assert {"politie", "veilig_thuis"} <= set(incident["referrals"])
        assert problems.items == []
    finally:
        context.close()


def test_the_same_on_a_phone_sized_screen(browser: Browser) -> None:
    context, page, problems = open_chat(browser, COUNSELLOR, PHONE, is_mobile=True, has_touch=True,
                                        device_scale_factor=2)
    try:
        # nothing wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        reference = run_acute_protocol(page, "webchat-phone")
        incident = incident_for(session_id(page))
        assert (incident["reference"], incident["location"], incident["channel"]) == (reference, "TERAPEL",
                                                                                        "webchat")
        assert incident["staff_id"] == staff_id_of(context)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert problems.items == []
    finally:
        context.close()


@pytest.mark.parametrize(("viewport", "name"), [(LAPTOP, "laptop"), (PHONE, "phone")])
def test_the_chat_opens_with_a_greeting_and_a_question_keeps_its_source_and_buttons(
        browser: Browser, viewport: dict[str, int], name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context, page, problems = open_chat(browser, COUNSELLOR, viewport)
    try:
        expect(page.locator("#chat-emergency a[href='tel:112']")).to_be_visible()
        greeting = page.locator(BOT).first
        expect(greeting).to_contain_text("Beschrijf in een paar woorden wat er speelt")
        knowledge = load_knowledge()
        titles = greeting.locator(".chat-choice").all_inner_texts()
        assert {p.title for p in knowledge.protocols.values()} <= set(titles)
        assert "Wanneer meld ik bij Veilig Thuis?" in titles
        page.screenshot(path=str(ARTIFACTS / f"webchat-greeting-{name}.png"))

        egg = knowledge.protocols["eergerelateerd_geweld"]
        click_button(page, egg.title)
        question = page.locator(BOT).last
        first_step = egg.steps[egg.start]
        # one message: the question, its source as a citation line inside it, its buttons
        expect(question.locator(".chat-text")).to_have_text(first_step.text)
        expect(question.locator(".chat-source")).to_have_text(f"Bron: {first_step.source.title}")
        expect(question.locator(".chat-choice")).to_have_text(["Ja", "Nee"])
        assert not any(text.startswith("Bron:") for text in page.locator(BOT).all_inner_texts())
        # the greeting's buttons are closed once the counsellor has answered
        assert greeting.locator(".chat-choice:enabled").count() == 0
        expect(page.locator("#chat-emergency")).to_be_in_viewport()
        page.screenshot(path=str(ARTIFACTS / f"webchat-question-{name}.png"))
        assert problems.items == []
    finally:
        context.close()


def test_keyboard_only(browser: Browser) -> None:
    context, page, problems = open_chat(browser, COUNSELLOR, LAPTOP)
    try:
        # the message box has the focus once the chat is connected
        expect(page.get_by_label("Uw bericht")).to_be_focused()
        before = bot_count(page)
        page.keyboard.type(REPORT)
        page.keyboard.press("Enter")
        wait_replies(page, before)
        # Shift+Tab from the message box reaches the answer buttons (Nee, then Ja)
        for _ in range(4):
            page.keyboard.press("Shift+Tab")
            if page.evaluate("document.activeElement.textContent") == "Ja":
                break
        focused = page.evaluate("[document.activeElement.className, document.activeElement.textContent]")
        assert focused == ["button chat-choice", "Ja"], focused
        before = bot_count(page)
        page.keyboard.press("Enter")
        wait_replies(page, before)
        assert "112" in new_bot_texts(page, before)[0]
        # focus moved to the next question's first button; Tab goes to the next one
        active = page.evaluate("document.activeElement.classList.contains('chat-choice')")
        assert active, page.evaluate("document.activeElement.outerHTML")
        first = page.evaluate("document.activeElement.textContent")
        page.keyboard.press("Tab")
        second = page.evaluate("document.activeElement.textContent")
        assert first != second and page.evaluate("document.activeElement.classList.contains('chat-choice')")
        before = bot_count(page)
        page.keyboard.press("Enter")
        wait_replies(page, before)
        expect(page.locator("#chat-log li.chat-user").last).to_have_text(re.compile(re.escape(second)))
        # the log is announced politely, the controls are labelled
        assert page.locator("#chat-log").get_attribute("aria-live") == "polite"
        assert page.locator("#chat-log").get_attribute("role") == "log"
        page.screenshot(path=str(ARTIFACTS / "webchat-keyboard.png"))
        assert problems.items == []
    finally:
        context.close()


def test_messages_are_shown_as_text_and_sessions_stay_with_their_owner(browser: Browser) -> None:
    counsellor, counsellor_page, _ = open_chat(browser, COUNSELLOR, LAPTOP)
    theirs = session_id(counsellor_page)
    counsellor.close()

    # The admin has no location: the assistant asks for it, and repeats the answer.
    context, page, problems = open_chat(browser, ADMIN, LAPTOP)
    try:
        expect(page.locator("#chat-location")).to_contain_text("geen locatie")
        # Someone else's session id in this tab's storage is refused: a new one is made.
        page.evaluate(f"window.sessionStorage.setItem('coa-chat-session', '{theirs}')")
        page.reload()
        wait_connected(page)
        own = session_id(page)
        assert own != theirs

        send_typed(page, "er is sprake van eergerelateerd geweld bij een bewoonster")
        before = send_typed(page, XSS)
        user_bubble = page.locator("#chat-log li.chat-user").last
        expect(user_bubble).to_contain_text(XSS)
        echoed = [text for text in new_bot_texts(page, before) if "onerror" in text]
        assert echoed, f"the assistant did not repeat the answer: {new_bot_texts(page, before)}"
        assert XSS in echoed[0]
        assert page.locator("#chat-log img").count() == 0
        assert page.evaluate("window.__xss") is None
        page.screenshot(path=str(ARTIFACTS / "webchat-xss.png"))
        assert problems.items == []
    finally:
        context.close()


def test_socket_refuses_a_connection_without_a_chat_token(stack) -> None:
    # The socket.io handshake from the page's origin, but no token: connect_error.
    with httpx.Client(base_url="http://127.0.0.1:5005", headers={"Origin": BASE}, timeout=10) as http:
        opened = http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
        assert opened.status_code == 200, opened.text
        sid = re.search(r'"sid":"([^"]+)"', opened.text).group(1)
        login_token = make_token("counsellor", "TERAPEL")  # the API's token: wrong audience
        sent = http.post("/socket.io/", params={"EIO": "4", "transport": "polling", "sid": sid},
                         content='40{"token":"' + login_token + '"}')
        assert sent.status_code == 200
        answer = http.get("/socket.io/", params={"EIO": "4", "transport": "polling", "sid": sid})
        assert answer.text.startswith("44"), answer.text  # CONNECT_ERROR
        assert "unauthorized" in answer.text
    # and from another origin nothing opens at all
    other = httpx.get("http://127.0.0.1:5005/socket.io/", params={"EIO": "4", "transport": "polling"},
                      headers={"Origin": "https://evil.example"}, timeout=10)
    assert other.status_code == 400


def _socket_answer(token: str) -> str:
    with httpx.Client(base_url="http://127.0.0.1:5005", headers={"Origin": BASE}, timeout=10) as http:
        opened = http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
        sid = re.search(r'"sid":"([^"]+)"', opened.text).group(1)
        params = {"EIO": "4", "transport": "polling", "sid": sid}
        assert http.post("/socket.io/", params=params, content='40{"token":"' + token + '"}').status_code == 200
        return http.get("/socket.io/", params=params).text


def test_socket_refuses_a_chat_token_minted_with_the_apis_secret(stack) -> None:
    """Issue 14, high 2/3: whoever holds COA_JWT_SECRET (var/dev.env here, the
    repository's default before) can no longer mint a chat token: the socket verifies
    the chat token's own Ed25519 signature only."""
    now = int(time.time())
    claims = {"sub": "stf-9a4c", "role": "supervisor", "locations": ["TERAPEL"], "aud": "webchat",
              "iat": now, "exp": now + 600}
    for secret in (stack.env["COA_JWT_SECRET"], "dev-only-insecure-secret-change-me-0123456789abcdef"):
        answer = _socket_answer(jwt.encode(claims, secret, algorithm="HS256"))
        assert answer.startswith("44") and "unauthorized" in answer, answer

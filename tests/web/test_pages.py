"""Login, session cookie, CSRF, protocol pages and security headers (httpx, ASGI)."""

from __future__ import annotations

import html
from datetime import timedelta

import httpx
import pytest
from fastapi import Response
from sqlalchemy.orm import Session

from api.auth.cookies import CSRF_COOKIE, SESSION_COOKIE, set_session_cookie
from api.auth.service import create_token
from api.config import Settings, get_settings
from api.knowledge_ref import get_knowledge
from api.models_base import utcnow
from api.protocols.service import is_web_url, step_anchor
from api.web.pages import tel_href

from .conftest import DEMO_USER, csrf_from, login

PROTOCOL_IDS = ["eergerelateerd_geweld", "seksueel_geweld", "ongewenste_zwangerschap", "lhbti_ondersteuning",
                "algemene_veiligheid"]
PAGES = ["/", "/protocollen", "/protocollen/eergerelateerd_geweld", "/protocollen/bestaat_niet"]


def set_cookie_headers(response: httpx.Response) -> dict[str, str]:
    """Set-Cookie headers by cookie name."""
    return {value.split("=", 1)[0]: value for value in response.headers.get_list("set-cookie")}


@pytest.mark.parametrize("path", PAGES)
async def test_pages_redirect_to_login_without_a_cookie(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    if path != "/":
        assert response.headers["location"] == f"/login?next={path}"


async def test_a_forged_or_expired_cookie_is_not_a_session(client: httpx.AsyncClient) -> None:
    client.cookies.set(SESSION_COOKIE, "not-a-jwt")
    response = await client.get("/protocollen")
    assert response.status_code == 303
    assert "coa_session=" in response.headers["set-cookie"]  # the bad cookie is cleared
    expired = create_token(get_settings(), sub="x", role="admin", ttl=timedelta(seconds=-10))
    client.cookies.set(SESSION_COOKIE, expired)
    assert (await client.get("/protocollen")).status_code == 303


async def test_login_page_is_an_accessible_dutch_form(client: httpx.AsyncClient) -> None:
    response = await client.get("/login")
    assert response.status_code == 200
    page = response.text
    assert '<html lang="nl">' in page
    assert '<label for="username">Gebruikersnaam</label>' in page
    assert '<label for="password">Wachtwoord</label>' in page
    assert 'id="username"' in page and "autofocus" in page
    assert 'autocomplete="current-password"' in page
    assert "<script" not in page  # nothing inline, nothing needed
    assert CSRF_COOKIE in set_cookie_headers(response)
    assert response.cookies[CSRF_COOKIE] == csrf_from(page)


async def test_login_sets_an_httponly_strict_cookie_and_redirects(client: httpx.AsyncClient, seeded: Session) -> None:
    response = await login(client, *DEMO_USER, next_path="/protocollen/seksueel_geweld")
    assert response.status_code == 303
    assert response.headers["location"] == "/protocollen/seksueel_geweld"
    cookie = set_cookie_headers(response)[SESSION_COOKIE].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/" in cookie
    assert "secure" not in cookie  # COA_ENV is not production in the tests
    page = await client.get("/protocollen/seksueel_geweld")
    assert page.status_code == 200
    assert "Contactpersoon" in page.text and "TERAPEL" in page.text


def test_the_cookie_is_secure_in_production() -> None:
    settings = Settings(COA_ENV="production", COA_JWT_SECRET="x" * 40)
    response = Response()
    set_session_cookie(response, "token", settings)
    cookie = response.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


@pytest.mark.parametrize(
    ("username", "password"), [("contactpersoon.terapel", "fout"), ("niemand", "contactpersoon-demo")]
)
async def test_wrong_credentials_show_one_dutch_error(
    client: httpx.AsyncClient, seeded: Session, username: str, password: str
) -> None:
    response = await login(client, username, password)
    assert response.status_code == 200
    assert "Onbekende gebruikersnaam of onjuist wachtwoord." in response.text
    assert 'role="alert"' in response.text
    assert SESSION_COOKIE not in set_cookie_headers(response)


async def test_login_without_the_csrf_token_is_refused(client: httpx.AsyncClient, seeded: Session) -> None:
    await client.get("/login")
    response = await client.post("/login", data={"username": DEMO_USER[0], "password": DEMO_USER[1]})
    assert response.status_code == 400
    assert SESSION_COOKIE not in set_cookie_headers(response)
    forged = await client.post(
        "/login", data={"username": DEMO_USER[0], "password": DEMO_USER[1], "csrf_token": "guessed"}
    )
    assert forged.status_code == 400


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "/logout"])
async def test_login_never_redirects_off_site(client: httpx.AsyncClient, seeded: Session, target: str) -> None:
    response = await login(client, *DEMO_USER, next_path=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/protocollen"


async def test_logout_needs_the_csrf_token_and_clears_the_cookie(logged_in: httpx.AsyncClient) -> None:
    page = await logged_in.get("/protocollen")
    refused = await logged_in.post("/logout", data={})
    assert refused.status_code == 403
    assert (await logged_in.get("/protocollen")).status_code == 200
    response = await logged_in.post("/logout", data={"csrf_token": csrf_from(page.text)})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert 'coa_session=""' in set_cookie_headers(response)[SESSION_COOKIE] or "Max-Age=0" in response.headers[
        "set-cookie"
    ]
    assert (await logged_in.get("/protocollen")).status_code == 303


async def test_protocol_list_shows_title_version_and_summary(logged_in: httpx.AsyncClient) -> None:
    response = await logged_in.get("/protocollen")
    assert response.status_code == 200
    page = html.unescape(response.text)
    for protocol in get_knowledge().protocols.values():
        assert protocol.title in page
        assert f"Versie {protocol.version}" in page
        assert " ".join(protocol.summary.split()) in " ".join(page.split())
        assert f'href="/protocollen/{protocol.id}"' in page
    # The safe general path under its own heading, reviewable like a protocol.
    general = get_knowledge().general_path
    assert general is not None
    assert "Als geen protocol past" in page and f'href="/protocollen/{general.id}"' in page
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("protocol_id", PROTOCOL_IDS)
async def test_protocol_page_has_every_step_and_source(logged_in: httpx.AsyncClient, protocol_id: str) -> None:
    response = await logged_in.get(f"/protocollen/{protocol_id}")
    assert response.status_code == 200
    page = response.text
    text = html.unescape(page)
    protocol = get_knowledge().guide(protocol_id)
    assert protocol is not None
    assert '<pre class="mermaid">flowchart TD' in page
    assert '<script src="/static/vendor/mermaid/mermaid.min.js" defer></script>' in page
    assert '<script src="/static/js/protocol-chart.js" defer></script>' in page
    for step in protocol.steps.values():
        assert f'<tr id="{step_anchor(step.id)}"' in page
        assert f'<code class="step-id">{step.id}</code>' in page
        assert step.source.url in text
        if is_web_url(step.source.url):
            assert f'href="{html.escape(step.source.url)}"' in page
        assert f'click n_{step.id} href "#{step_anchor(step.id)}"' in text


async def test_steps_to_verify_are_marked(logged_in: httpx.AsyncClient) -> None:
    protocol = get_knowledge().protocols["ongewenste_zwangerschap"]
    to_verify = [step.id for step in protocol.steps.values() if step.verify]
    assert to_verify, "the pregnancy protocol has content marked [check]"
    page = (await logged_in.get("/protocollen/ongewenste_zwangerschap")).text
    for step_id in to_verify:
        row = page.split(f'<tr id="{step_anchor(step_id)}"', 1)[1].split("</tr>", 1)[0]
        assert "step-verify" in page.split(f'<tr id="{step_anchor(step_id)}"', 1)[1][:80]
        assert '<span class="badge badge-verify">verifiëren</span>' in row
    assert "⚠ verifiëren" in html.unescape(page)


@pytest.mark.parametrize("protocol_id", PROTOCOL_IDS)
async def test_every_help_text_is_on_the_protocol_page(logged_in: httpx.AsyncClient, protocol_id: str) -> None:
    protocol = get_knowledge().guide(protocol_id)
    assert protocol is not None
    page = html.unescape((await logged_in.get(f"/protocollen/{protocol_id}")).text)
    for step in protocol.steps.values():
        if not step.help:
            continue
        row = page.split(f'<tr id="{step_anchor(step.id)}"', 1)[1].split("</tr>", 1)[0]
        label = "Toelichting" if step.is_question else "Waarom"
        assert f'<span class="inline-label">{label}:</span> {step.help}</p>' in row, step.id


async def test_numbers_to_verify_are_marked_on_the_protocol_page(logged_in: httpx.AsyncClient) -> None:
    knowledge = get_knowledge()
    lec = knowledge.organisations["lec_egg"]
    assert lec.verify and lec.phone
    page = html.unescape((await logged_in.get("/protocollen/eergerelateerd_geweld")).text)
    organisations = page.split('id="org-kop"', 1)[1].split("</section>", 1)[0]
    assert (f'<a href="{tel_href(lec.phone)}">{lec.phone}</a> '
            '<span class="badge badge-verify">nummer verifiëren</span>') in organisations
    vt = knowledge.organisations["veilig_thuis"]
    assert not vt.verify
    vt_line = organisations.split(f"<strong>{vt.name}</strong>", 1)[1].split("</li>", 1)[0]
    assert "verifiëren" not in vt_line
    steps = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert f'class="phone">{lec.phone}</a> <span class="badge badge-verify">nummer verifiëren</span>' in steps


async def test_unknown_protocol_is_404(logged_in: httpx.AsyncClient, auth) -> None:
    page = await logged_in.get("/protocollen/bestaat_niet")
    assert page.status_code == 404
    assert "Protocol niet gevonden" in page.text
    api = await logged_in.get("/api/v1/protocols/bestaat_niet", headers=auth("counsellor"))
    assert api.status_code == 404


async def test_a_number_question_shows_its_weet_ik_niet_branch(logged_in: httpx.AsyncClient, auth) -> None:
    """Page and JSON show where "Weet ik niet" leads (``unknown``, issue 12 part 4)."""
    page = html.unescape((await logged_in.get("/protocollen/ongewenste_zwangerschap")).text)
    row = page.split(f'<tr id="{step_anchor("aantal_weken")}"', 1)[1].split("</tr>", 1)[0]
    assert f'<span class="answer">Weet ik niet</span> → <a href="#{step_anchor("duur_onbekend")}">' in row
    body = (await logged_in.get("/api/v1/protocols/ongewenste_zwangerschap", headers=auth("counsellor"))).json()
    weeks = next(step for step in body["steps"] if step["id"] == "aantal_weken")
    assert weeks["unknown"] == "duur_onbekend" and weeks["unit"] == "weeks"


@pytest.mark.parametrize("role", ["counsellor", "contact_person", "supervisor", "admin", "service"])
async def test_protocols_json_for_every_role(client: httpx.AsyncClient, auth, role: str) -> None:
    headers = auth(role, "TERAPEL")
    listed = await client.get("/api/v1/protocols", headers=headers)
    assert listed.status_code == 200
    assert {item["id"] for item in listed.json()} == set(get_knowledge().protocols)
    one = await client.get("/api/v1/protocols/eergerelateerd_geweld", headers=headers)
    assert one.status_code == 200
    body = one.json()
    protocol = get_knowledge().protocols["eergerelateerd_geweld"]
    assert body["version"] == protocol.version
    assert [step["id"] for step in body["steps"]] == list(protocol.steps)
    assert all(step["source"]["url"] for step in body["steps"])
    assert {source["key"] for source in body["sources"]} == {s.source.key for s in protocol.steps.values()}
    assert "veilig_thuis" in {org["id"] for org in body["organisations"]}
    organisations = {org["id"]: org for org in body["organisations"]}
    assert organisations["lec_egg"]["verify"] is True
    assert organisations["veilig_thuis"]["verify"] is False
    assert organisations["veilig_thuis"]["phone_note"] == get_knowledge().organisations["veilig_thuis"].phone_note
    steps = {step["id"]: step for step in body["steps"]}
    assert all(steps[s.id]["help"] == s.help for s in protocol.steps.values())


async def test_protocols_json_needs_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/protocols")).status_code == 401
    assert (await client.get("/api/v1/protocols/eergerelateerd_geweld")).status_code == 401


async def test_the_api_accepts_the_session_cookie(logged_in: httpx.AsyncClient) -> None:
    response = await logged_in.get("/api/v1/protocols")
    assert response.status_code == 200
    locations = await logged_in.get("/api/v1/locations")
    assert locations.status_code == 200


async def test_cookie_authenticated_writes_need_the_csrf_header(
    logged_in: httpx.AsyncClient, incident_payload
) -> None:
    page = await logged_in.get("/protocollen")
    refused = await logged_in.post("/api/v1/incidents", json=incident_payload())
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["detail"]
    wrong = await logged_in.post("/api/v1/incidents", json=incident_payload(), headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403 and "X-CSRF-Token" in wrong.json()["detail"]
    # With the token the request gets through to the role check (a contact person may not record).
    allowed = await logged_in.post(
        "/api/v1/incidents", json=incident_payload(), headers={"X-CSRF-Token": csrf_from(page.text)}
    )
    assert allowed.status_code == 403
    assert "service" in allowed.json()["detail"]


async def test_a_bearer_header_wins_over_the_cookie(logged_in: httpx.AsyncClient) -> None:
    response = await logged_in.get("/api/v1/protocols", headers={"Authorization": "Bearer broken"})
    assert response.status_code == 401
    malformed = await logged_in.get("/api/v1/protocols", headers={"Authorization": "Basic abc"})
    assert malformed.status_code == 401


@pytest.mark.parametrize("path", ["/login", "/protocollen", "/protocollen/eergerelateerd_geweld", "/health"])
async def test_security_headers(logged_in: httpx.AsyncClient, path: str) -> None:
    response = await logged_in.get(path)
    assert response.status_code == 200 or (path == "/login" and response.status_code == 303)
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self';" in csp  # no 'unsafe-inline', no CDN
    assert "default-src 'self'" in csp and "object-src 'none'" in csp


async def test_pages_have_no_inline_scripts(logged_in: httpx.AsyncClient) -> None:
    for path in ["/protocollen", "/protocollen/eergerelateerd_geweld"]:
        page = (await logged_in.get(path)).text
        for chunk in page.split("<script")[1:]:
            tag = chunk.split(">", 1)[0]
            assert 'src="/static/' in tag, f"inline or foreign script on {path}: <script{tag}>"
            assert chunk.split(">", 1)[1].startswith("</script>")
        assert " onclick=" not in page and "javascript:" not in page


async def test_static_files_are_served(client: httpx.AsyncClient) -> None:
    css = await client.get("/static/css/app.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    script = await client.get("/static/js/protocol-chart.js")
    assert script.status_code == 200
    assert "securityLevel: \"strict\"" in script.text and "startOnLoad: false" in script.text
    vendor = await client.get("/static/vendor/mermaid/mermaid.min.js", headers={"Accept-Encoding": "gzip"})
    assert vendor.status_code == 200, "run `npm ci` (make node_modules/.stamp)"
    assert vendor.headers.get("content-encoding") == "gzip"
    assert "javascript" in vendor.headers["content-type"]


async def test_the_pregnancy_page_says_when_the_meldcode_goes_first(logged_in: httpx.AsyncClient, auth) -> None:
    """``gives_way`` is reviewable: on the page and in the JSON, with its reason and source."""
    give_way = get_knowledge().protocols["ongewenste_zwangerschap"].gives_way[0]
    page = html.unescape((await logged_in.get("/protocollen/ongewenste_zwangerschap")).text)
    section = page.split('id="voorrang-kop"', 1)[1].split("</section>", 1)[0]
    assert ", ".join(give_way.phrases) in section
    assert '<a href="/protocollen/huiselijk_geweld">Huiselijk geweld en kindermishandeling</a>' in section
    assert give_way.text in section and give_way.source.title in section
    body = (await logged_in.get("/api/v1/protocols/ongewenste_zwangerschap", headers=auth("counsellor"))).json()
    assert body["gives_way"] == [{"protocol": "huiselijk_geweld", "title": "Huiselijk geweld en kindermishandeling",
                                  "phrases": list(give_way.phrases), "text": give_way.text,
                                  "source": {"key": give_way.source.key, "title": give_way.source.title,
                                             "url": give_way.source.url}}]
    assert give_way.source.key in {source["key"] for source in body["sources"]}
    assert 'id="voorrang-kop"' not in (await logged_in.get("/protocollen/seksueel_geweld")).text


async def test_the_suicidality_page_lists_the_words_that_mean_danger_now(logged_in: httpx.AsyncClient,
                                                                          auth) -> None:
    """``danger_phrases`` are reviewable: a contact person sees which words make it say 112."""
    phrases = get_knowledge().protocols["suicidaliteit"].danger_phrases
    assert "een plan" in phrases
    page = html.unescape((await logged_in.get("/protocollen/suicidaliteit")).text)
    section = page.split('id="gevaar-kop"', 1)[1].split("</section>", 1)[0]
    assert ", ".join(phrases) in section and "112" in section
    body = (await logged_in.get("/api/v1/protocols/suicidaliteit", headers=auth("counsellor"))).json()
    assert body["danger_phrases"] == list(phrases)
    # and what it says then: its own 112 step, not the general advice
    step = get_knowledge().protocols["suicidaliteit"].steps["bel_112"]
    assert body["acute_step"] == "bel_112"
    advice = page.split('id="acuut-advies-kop"', 1)[1].split("</section>", 1)[0]
    assert step.text in advice and 'href="#' in advice
    assert 'id="acuut-advies-kop"' not in (await logged_in.get("/protocollen/huiselijk_geweld")).text
    assert not get_knowledge().protocols["huiselijk_geweld"].danger_phrases
    assert 'id="gevaar-kop"' not in (await logged_in.get("/protocollen/huiselijk_geweld")).text


async def test_a_step_that_hands_over_names_the_protocol_offered_after(logged_in: httpx.AsyncClient, auth) -> None:
    protocol = get_knowledge().protocols["ongewenste_zwangerschap"]
    handing = [step for step in protocol.steps.values() if step.hand_over]
    assert handing
    page = html.unescape((await logged_in.get("/protocollen/ongewenste_zwangerschap")).text)
    body = (await logged_in.get("/api/v1/protocols/ongewenste_zwangerschap", headers=auth("counsellor"))).json()
    steps = {step["id"]: step for step in body["steps"]}
    for step in handing:
        row = " ".join(page.split(f'<tr id="{step_anchor(step.id)}"', 1)[1].split("</tr>", 1)[0].split())
        title = get_knowledge().protocols[step.hand_over].title
        assert f'Na het besluit aangeboden:</span> <a href="/protocollen/{step.hand_over}">{title}</a>' in row
        assert steps[step.id]["hand_over"] == step.hand_over


async def test_a_left_run_shows_as_onderbroken_and_can_be_found(logged_in: httpx.AsyncClient, seeded: Session) -> None:
    """A supervisor or contact person finds the runs a counsellor left without a decision,
    and the session page says what that means."""
    from tests.api.factories import make_session

    now = utcnow()
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    asked = {"type": "question_asked", "step": "dreiging", "text": "Wordt zij bedreigd door familie?"}
    left = make_session(seeded, started_at=now - idle - timedelta(hours=2), conversation_id="c-left",
                        events=[{**asked, "created_at": now - idle - timedelta(hours=1)}])
    running = make_session(seeded, started_at=now - timedelta(minutes=10), conversation_id="c-running",
                           events=[{**asked, "created_at": now - timedelta(minutes=9)}])

    page = await logged_in.get("/sessies", params={"verloop": "onderbroken"})
    assert page.status_code == 200
    assert f"/sessies/{left.id}" in page.text and f"/sessies/{running.id}" not in page.text
    assert '<option value="onderbroken" selected>Onderbroken</option>' in page.text
    assert "state=onderbroken" in page.text  # the CSV export keeps the filter
    assert "geen bericht meer sinds 2 uur" in page.text and 'id="verloop-uitleg"' in page.text

    detail = await logged_in.get(f"/sessies/{left.id}")
    assert 'class="state state-onderbroken">Onderbroken<' in detail.text
    assert 'id="onderbroken"' in detail.text and "geen besluit vastgelegd" in detail.text
    still = await logged_in.get(f"/sessies/{running.id}")
    assert ">Lopend<" in still.text and 'id="onderbroken"' not in still.text


async def test_an_outcome_shows_its_title_and_a_neutral_run_only_its_code(
        logged_in: httpx.AsyncClient, seeded: Session) -> None:
    """A supervisor reads "Melden bij de politie, ..." where the code was, in the list,
    on the session page and in the dossier. A run filed under the neutral category (the
    resident did not consent) keeps the bare code: the LHBTI title would say what it was
    about."""
    from tests.api.factories import make_incident, make_session

    now = utcnow()
    knowledge = get_knowledge()
    title = knowledge.outcome_title("mensenhandel", "melding_politie_opvang")
    private_title = knowledge.outcome_title("lhbti_ondersteuning", "steun_op_locatie")
    assert title and private_title
    runs = {}
    for protocol, code in (("mensenhandel", "melding_politie_opvang"), ("algemene_veiligheid", "steun_op_locatie")):
        conversation = f"c-outcome-{protocol}"
        incident = make_incident(seeded, created_at=now, conversation_id=conversation, protocol=protocol,
                                 outcome=code, referrals=["politie"])
        runs[protocol] = (make_session(seeded, started_at=now - timedelta(minutes=5), conversation_id=conversation,
                                       protocol=protocol, events=[{"type": "outcome", "step": "einde",
                                                                   "outcome": code}]), incident)

    listed = html.unescape((await logged_in.get("/sessies")).text)
    named = '<span class="outcome-title">{}</span> <code class="outcome-code">{}</code>'
    assert named.format(title, "melding_politie_opvang") in listed
    assert '<td data-label="Uitkomst"><code class="outcome-code">steun_op_locatie</code></td>' in listed
    # Each run logged one event; "stappen" read as the protocol's steps (29 for a run of ten questions).
    assert listed.count('<span class="muted">· 1 gebeurtenis</span>') == 2 and " stappen<" not in listed
    session, incident = runs["mensenhandel"]
    page = html.unescape((await logged_in.get(f"/sessies/{session.id}")).text)
    assert page.count(named.format(title, "melding_politie_opvang")) == 2  # the timeline and the incident card
    dossier = html.unescape((await logged_in.get(f"/incidenten/{incident.id}/dossier")).text)
    assert f"{title} (melding_politie_opvang)" in dossier
    session, incident = runs["algemene_veiligheid"]
    neutral = [html.unescape((await logged_in.get(path)).text)
               for path in (f"/sessies/{session.id}", f"/incidenten/{incident.id}/dossier")]
    for text in (listed, *neutral):
        assert private_title not in text
    assert "steun_op_locatie" in neutral[0] and "steun_op_locatie" in neutral[1]


async def test_the_protocol_page_and_json_name_each_outcome_by_its_title(logged_in: httpx.AsyncClient, auth) -> None:
    protocol = get_knowledge().protocols["mensenhandel"]
    page = html.unescape((await logged_in.get("/protocollen/mensenhandel")).text)
    body = (await logged_in.get("/api/v1/protocols/mensenhandel", headers=auth("counsellor"))).json()
    titles = {step["outcome"]: step["title"] for step in body["steps"] if step["kind"] == "outcome"}
    outcomes = [step for step in protocol.steps.values() if step.kind == "outcome"]
    assert titles == {step.outcome: step.title for step in outcomes}
    for step in outcomes:
        assert f'<strong class="outcome-title">{step.title}</strong> (uitkomst <code>{step.outcome}</code>)' in page


async def test_the_session_page_names_whom_the_advice_said_to_involve(
        logged_in: httpx.AsyncClient, seeded: Session) -> None:
    """The incident card lists the key positions the outcome named, each with who held it
    then ("niemand bekend" when nobody did), not the whole directory. A record filed under
    the neutral category still lists everyone: naming its protocol's positions would say
    what it was about."""
    import re

    from tests.api.factories import make_incident, make_session

    now = utcnow()
    knowledge = get_knowledge()
    cards = {}
    for protocol, code in (("mensenhandel", "melding_politie_opvang"), ("algemene_veiligheid", "steun_op_locatie")):
        conversation = f"c-involved-{protocol}"
        make_incident(seeded, created_at=now, conversation_id=conversation, protocol=protocol, outcome=code,
                      referrals=["politie"])
        session = make_session(seeded, started_at=now - timedelta(minutes=5), conversation_id=conversation,
                               protocol=protocol)
        page = (await logged_in.get(f"/sessies/{session.id}")).text
        cards[protocol] = page.split('class="holders-then"', 1)[1].split("</dd>", 1)[0]

    named = knowledge.protocols["mensenhandel"].outcome_step("melding_politie_opvang").key_positions
    assert re.findall(r'data-position="(\w+)"', cards["mensenhandel"]) == list(named)
    assert "Te betrekken volgens het advies" in cards["mensenhandel"]
    assert "lhbti_contactpersoon" not in cards["mensenhandel"]
    assert "Sleutelposities toen" in cards["algemene_veiligheid"]
    assert set(re.findall(r'data-position="(\w+)"', cards["algemene_veiligheid"])) > set(named)


async def test_pages_show_dutch_local_time(logged_in: httpx.AsyncClient, seeded: Session) -> None:
    """The session list and page say when it started in local time, as the chat does."""
    from datetime import UTC, datetime

    from tests.api.factories import make_session

    started = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    session = make_session(seeded, started_at=started, conversation_id="c-local-time")
    listed = (await logged_in.get("/sessies")).text
    page = (await logged_in.get(f"/sessies/{session.id}")).text
    assert f'href="/sessies/{session.id}">01-07-2026 12:00<' in listed
    assert "01-07-2026 12:00" in page and "01-07-2026 10:00" not in page


async def test_the_dashboard_leads_to_the_runs_left_without_a_decision(logged_in: httpx.AsyncClient,
                                                                        seeded: Session) -> None:
    """Onderbroken runs are no indicator; the dashboard links to them, for its period and location."""
    page = html.unescape((await logged_in.get("/dashboard", params={"locatie": "TERAPEL", "periode": "28"})).text)
    link = page.split('id="left-runs" href="', 1)[1].split('"', 1)[0]
    assert link.startswith("/sessies?locatie=TERAPEL&van=") and link.endswith("&verloop=onderbroken")
    listed = await logged_in.get(link)
    assert listed.status_code == 200 and '<option value="onderbroken" selected>' in listed.text

"""The assistant follows the directory (issue 17), against the real API.

The API runs under uvicorn (the API environment's Python, on a fresh SQLite file,
migrated and seeded as ``make run`` does); the actions use their real client with the
service credential. An admin or supervisor changes the directory over HTTP, and the
very next look-up names the new holder; a deputy on their dates; after the end, the
fallback (the location's contactpersoon veiligheid and the 24/7 organisations).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from actions import ActionLookupKeyPosition, api_client, presenter
from actions.lookups import fetch_holders
from knowledge.local_time import local_today
from tests.actions.helpers import make_tracker, run, texts

ROOT = Path(__file__).resolve().parents[2]
API_PYTHON = ROOT / ".venv-api" / "bin" / "python"
SECRET = "directory-live-test-secret-0123456789abcdef"
AF = "aandachtsfunctionaris"
OLD_AF = "Joris Wolkenveld-Demo"
CPV = "Fenna Klaverhoek-Demo"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not API_PYTHON.exists():
        pytest.fail(f"{API_PYTHON} is missing: run `make setup`")
    folder = tmp_path_factory.mktemp("directory-api")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{folder / 'coa.db'}", "COA_JWT_SECRET": SECRET,
           "COA_ENV": "development"}
    for argv in (["-m", "alembic", "upgrade", "head"], ["-m", "api.seed"]):
        subprocess.run([str(API_PYTHON), *argv], cwd=ROOT, env=env, check=True, capture_output=True, timeout=180)

    def token(role: str, *locations: str) -> str:
        argv = [str(API_PYTHON), "-m", "api.auth.token_cli", "--role", role]
        for code in locations:
            argv += ["--location", code]
        out = subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=60)
        return out.stdout.strip().splitlines()[-1]

    port = _free_port()
    log = open(folder / "uvicorn.log", "wb")  # noqa: SIM115  (closed below)
    process = subprocess.Popen([str(API_PYTHON), "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
                                "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        # deduce loads at start-up (tens of seconds on a busy 2-core machine).
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                pytest.fail(f"uvicorn exited; see {folder / 'uvicorn.log'}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the API did not start")
            time.sleep(0.3)
        yield {"url": base, "admin": token("admin"), "supervisor": token("supervisor", "TERAPEL"),
               "service": token("service")}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def live(api: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("COA_API_URL", api["url"])
    monkeypatch.setenv("COA_SERVICE_TOKEN", api["service"])
    api_client.close_api_client()
    yield api
    api_client.close_api_client()


def _write(api: dict[str, Any], role: str, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.request(method, f"{api['url']}/api/v1{path}", json=body,
                             headers={"Authorization": f"Bearer {api[role]}"}, timeout=10)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _assignment_of(api: dict[str, Any], name: str) -> str:
    listed = httpx.get(f"{api['url']}/api/v1/locations/TERAPEL/assignments",
                       headers={"Authorization": f"Bearer {api['admin']}"}, timeout=10).json()
    return next(a["assignment_id"] for a in listed if a["name"] == name and a["position"] == AF)


def _ask_af() -> str:
    _, messages = run(ActionLookupKeyPosition(), make_tracker(
        text="wie is de aandachtsfunctionaris in ter apel?", intent="vraag_sleutelpersoon"))
    return "\n".join(texts(messages))


def _outcome_line() -> str:
    (line,) = presenter.key_position_lines([AF], asyncio.run(fetch_holders("TERAPEL")))
    return line


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_the_assistant_names_the_directory_as_it_is_now(live: dict[str, Any], role: str) -> None:
    today = local_today()  # the API's today: a Dutch day
    before = _ask_af()
    current = OLD_AF if role == "supervisor" else "Nadia Beukenhaag-Demo"  # the admin run follows the supervisor's
    assert current in before
    new_name = f"Nieuwe {role.capitalize()}-Demo"
    _write(live, role, "POST", "/locations/TERAPEL/assignments", {
        "position": AF, "name": new_name, "phone": "toestel 4190", "teams_id": f"{role}.af@demo.example",
        "valid_from": today.isoformat(), "replaces": _assignment_of(live, current)})
    # Right after the change: the look-up and an outcome name the new holder, not the old one.
    after = _ask_af()
    assert new_name in after and "toestel 4190" in after and current not in after
    assert new_name in _outcome_line()

    # A deputy for next week is not named today ...
    monday = today + timedelta(days=7 - today.weekday())
    deputy = _write(live, role, "POST", "/locations/TERAPEL/assignments", {
        "position": AF, "kind": "vervanger", "name": f"Vervanger Volgende Week {role}-Demo",
        "email": "vv@demo.example", "valid_from": monday.isoformat(),
        "valid_until": (monday + timedelta(days=4)).isoformat()})
    assert deputy["name"] not in _ask_af()
    # ... but on the deputy's dates (a deputy whose period has begun) it names the deputy.
    today_deputy = _write(live, role, "POST", "/locations/TERAPEL/assignments", {
        "position": AF, "kind": "vervanger", "name": f"Vervanger Vandaag {role}-Demo", "email": "vd@demo.example",
        "valid_from": today.isoformat(), "valid_until": today.isoformat()})
    named = _ask_af()
    assert today_deputy["name"] in named and "vervanger tot en met" in named and new_name not in named
    _write(live, role, "POST", f"/locations/TERAPEL/assignments/{today_deputy['assignment_id']}/end",
           {"last_day": (today - timedelta(days=1)).isoformat()})
    assert new_name in _ask_af()
    _write(live, role, "POST", f"/locations/TERAPEL/assignments/{deputy['assignment_id']}/end",
           {"last_day": (monday - timedelta(days=1)).isoformat()})

    if role == "admin":
        # End the assignment: nobody holds it today; the answer gives the next step.
        _write(live, role, "POST", f"/locations/TERAPEL/assignments/{_assignment_of(live, new_name)}/end", {})
        nobody = _ask_af()
        assert new_name not in nobody and CPV in nobody
        assert "Wacht dan niet: Veilig Thuis (0800-2000), Centrum Seksueel Geweld (CSG)" in nobody
        assert f"bel de contactpersoon veiligheid: {CPV}" in _outcome_line()
    else:
        # The admin run continues from this holder.
        _write(live, "admin", "PATCH", f"/locations/TERAPEL/assignments/{_assignment_of(live, new_name)}",
               {"name": "Nadia Beukenhaag-Demo"})


def test_a_location_change_reaches_the_actions_within_a_minute(
    live: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert api_client.LOCATIONS_TTL_SECONDS <= 60
    client = api_client.get_api_client()
    assert "azc vlagtwedde" not in client.locations()[0]["aliases"] + client.locations()[-1]["aliases"]
    _write(live, "admin", "PATCH", "/locations/TERAPEL", {"aliases": ["ter apel", "azc vlagtwedde"]})
    clock = time.monotonic()
    monkeypatch.setattr(api_client.time, "monotonic", lambda: clock + api_client.LOCATIONS_TTL_SECONDS + 1)
    terapel = next(loc for loc in client.locations() if loc["code"] == "TERAPEL")
    assert "azc vlagtwedde" in terapel["aliases"]

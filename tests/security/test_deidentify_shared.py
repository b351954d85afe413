"""One shared de-identification process for all API workers (issue 16, target 2):
the same result as deduce in the worker, and when the process is gone nothing is
stored (503). A real server process on a real Unix socket. Invented names only."""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.incidents.models import IncidentReviewEvent
from api.models_base import utcnow
from api.security import deidentify as module
from tests.api.conftest import REPO_ROOT, TokenFactory
from tests.api.factories import make_incident

from .test_deidentify_audit import NOTE, SECRETS


@pytest.fixture(scope="module")
def shared_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    path = str(tmp_path_factory.mktemp("deid") / "deidentify.sock")
    process = subprocess.Popen(
        [sys.executable, "-m", "api.security.deidentify_server", "--socket", path], cwd=REPO_ROOT
    )
    deadline = time.monotonic() + 300
    while not Path(path).exists():
        assert process.poll() is None and time.monotonic() < deadline, "the de-identification process did not start"
        time.sleep(0.2)
    yield path, process
    process.terminate()
    process.wait(timeout=30)


def _tracked(thing: object) -> bool:
    return any(candidate is thing for candidate in gc.get_objects())


def test_warm_up_keeps_deduces_tables_out_of_garbage_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    """A full collection walked deduce's ~4.5 M objects (~3 s, GIL held) in the middle of a
    request; frozen (gc.freeze) it skips them."""
    monkeypatch.delenv(module.SOCKET_ENV, raising=False)
    deduce = module._instance()
    gc.unfreeze()  # as before any warm-up in this test process
    assert _tracked(deduce)
    module.warm_up()
    assert not _tracked(deduce)
    assert gc.get_freeze_count() > 1_000_000  # the lookup tables, not only the instance
    assert "[PERSOON-1]" in str(module.deidentify(NOTE))  # frozen, still working


def test_the_shared_process_gives_what_deduce_in_the_worker_gives(
    shared_process: tuple[str, subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _process = shared_process
    local = module.deidentify(NOTE)
    monkeypatch.setenv(module.SOCKET_ENV, path)
    remote = module.deidentify(NOTE)
    assert remote == local
    assert remote is not None and "[PERSOON-1]" in remote
    for secret in SECRETS:
        assert secret not in remote
    assert oct(Path(path).stat().st_mode & 0o777) == "0o600"
    assert module._local.conn is not None  # the connection is kept for the next text


def test_the_shared_process_keeps_deduces_tables_out_of_garbage_collection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """serve() loads deduce, then freezes it before it answers its first request."""
    import deduce

    from api.security import deidentify_server

    loaded: list[dict[str, list[list[str]]]] = []
    served: list[object] = []

    def fake_deduce() -> dict[str, list[list[str]]]:
        tables = {"lookup": [["a table deduce loads"]]}  # containers the collector tracks
        loaded.append(tables)
        return tables

    def serve_forever(server: object) -> None:
        assert loaded and not _tracked(loaded[0]) and not _tracked(loaded[0]["lookup"])
        served.append(server)

    monkeypatch.setattr(deduce, "Deduce", fake_deduce)
    monkeypatch.setattr(deidentify_server._Server, "serve_forever", serve_forever)
    gc.unfreeze()
    deidentify_server.serve(str(tmp_path / "deidentify.sock"))
    assert len(served) == 1
    assert not (tmp_path / "deidentify.sock").exists()  # removed when serving ends


def test_a_worker_keeps_what_its_start_up_loaded_out_of_garbage_collection(
    shared_process: tuple[str, subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker of api.serve holds no deduce, but its modules and knowledge (~170,000
    objects) were walked by every full collection (~77 ms); warmed up, the collector
    skips what was loaded before and still collects what a request makes."""
    path, _process = shared_process
    monkeypatch.setenv(module.SOCKET_ENV, path)
    gc.unfreeze()
    loaded = {"knowledge": [["loaded at start-up"]]}  # containers the collector tracks
    assert _tracked(loaded)
    module.warm_up(timeout=60)
    assert not _tracked(loaded) and not _tracked(loaded["knowledge"])
    request = {"made": ["by a request"]}
    assert _tracked(request)
    assert "[PERSOON-1]" in str(module.deidentify(NOTE))  # answered by the shared process


async def test_without_the_process_nothing_is_stored(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(module.SOCKET_ENV, str(tmp_path / "nobody-listens.sock"))
    monkeypatch.setattr(module._local, "conn", None, raising=False)
    incident = make_incident(seeded, created_at=utcnow() - timedelta(hours=1), location="TERAPEL")
    response = await client.post(
        f"/api/v1/incidents/{incident.id}/review-events", json={"note": NOTE}, headers=auth("supervisor", "TERAPEL")
    )
    assert response.status_code == 503, response.text
    assert "nothing was stored" in response.json()["detail"]
    count = seeded.scalar(
        select(func.count()).select_from(IncidentReviewEvent).where(IncidentReviewEvent.incident_id == incident.id)
    )
    assert count == 0

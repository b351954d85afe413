"""No personal data in the API's logs (issue 14, finding 6, API part).

The attacks (reading the logs): a database error logged the statement's
parameters, answers included; the access log kept search terms (``/sessies?q=…``).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from api.config import REPO_ROOT
from api.db import SessionDep, make_engine

SECRET_ANSWER = "geheim-antwoord-zus-van-Fatima-0612345678"


def test_the_engine_never_puts_parameters_in_an_error(engine: Engine) -> None:
    hidden = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        with hidden.connect() as connection, pytest.raises(SQLAlchemyError) as caught:
            connection.execute(text("SELECT * FROM no_such_table WHERE answer = :answer"), {"answer": SECRET_ANSWER})
    finally:
        hidden.dispose()
    assert SECRET_ANSWER not in str(caught.value)
    assert "hidden" in str(caught.value)


async def test_a_database_error_is_logged_without_values(app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    @app.get("/api/v1/test-database-error")
    def failing(session: SessionDep) -> dict[str, str]:
        # PostgreSQL quotes the value in its own message ('invalid input syntax ... "<value>"').
        session.execute(text("SELECT CAST(:answer AS integer) FROM no_such_table"), {"answer": SECRET_ANSWER})
        return {}

    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        response = await http.get("/api/v1/test-database-error", params={"q": SECRET_ANSWER})
    assert response.status_code == 500
    assert response.json() == {"detail": "database error; nothing was stored"}
    assert SECRET_ANSWER not in response.text
    # What the API logged (the test client's own request log aside), tracebacks included.
    formatter = logging.Formatter()
    logged = "\n".join(formatter.format(record) for record in caplog.records if not record.name.startswith("httpx"))
    assert "database error" in logged and "/api/v1/test-database-error" in logged
    assert SECRET_ANSWER not in logged


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_access_log_of_a_real_server_holds_no_query_strings(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "uvicorn.log"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'coa.db'}", "COA_ENV": "test"}
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 240
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.5)
            for path in ("/sessies", "/api/v1/sessions", "/health"):
                httpx.get(f"http://127.0.0.1:{port}{path}", params={"q": SECRET_ANSWER}, timeout=10)
            time.sleep(0.5)
        finally:
            server.terminate()
            server.wait(timeout=30)
    written = log.read_text()
    assert '"GET /api/v1/sessions HTTP/1.1" 401' in written, written[-2000:]
    assert '"GET /sessies HTTP/1.1" 303' in written
    assert SECRET_ANSWER not in written and "?q=" not in written

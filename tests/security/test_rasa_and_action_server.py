"""Rasa and the action server (issue 6, part 3): loopback only, Rasa's HTTP API
only with authentication, and the action server answering only Rasa (shared
secret in ``X-Action-Token``, checked by ``actions/server.py``)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from api.config import REPO_ROOT
from scripts.stack import Stack

RASA_PYTHON = REPO_ROOT / ".venv-rasa" / "bin" / "python"
TOKEN = "test-action-token-0123456789abcdef"


def _built_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs) -> Stack:
    stack = Stack(env={"PATH": os.environ.get("PATH", "")}, log_dir=tmp_path / "log", **kwargs)
    monkeypatch.setattr(stack, "service_token", lambda: "service-token")
    monkeypatch.setattr(stack, "current_model", lambda: tmp_path / "model.tar.gz")
    stack.build()
    return stack


def test_every_process_binds_to_loopback_and_rasa_sends_the_secret(tmp_path, monkeypatch) -> None:
    stack = _built_stack(tmp_path, monkeypatch)
    argv = {proc.name: proc.argv for proc in stack.processes}
    assert argv["api"][argv["api"].index("--host") + 1] == "127.0.0.1"
    assert argv["rasa"][argv["rasa"].index("--interface") + 1] == "127.0.0.1"
    assert "--enable-api" not in argv["rasa"]  # Rasa's HTTP API is off by default
    assert argv["actions"][1:3] == ["-m", "actions.server"]
    assert stack.env["SANIC_HOST"] == "127.0.0.1"
    token = stack.env["COA_ACTION_SERVER_TOKEN"]
    assert len(token) >= 32
    endpoints_path = Path(argv["rasa"][argv["rasa"].index("--endpoints") + 1])
    endpoints = yaml.safe_load(endpoints_path.read_text())
    assert endpoints["action_endpoint"]["headers"] == {"X-Action-Token": token}
    assert endpoints["action_endpoint"]["url"].startswith("http://127.0.0.1:")
    assert endpoints_path.stat().st_mode & 0o077 == 0


def test_rasa_http_api_only_with_authentication(tmp_path, monkeypatch) -> None:
    with pytest.raises(RuntimeError, match="auth-token"):
        _built_stack(tmp_path, monkeypatch, rasa_extra_args=["--enable-api"])
    stack = _built_stack(tmp_path, monkeypatch, rasa_extra_args=["--enable-api", "--auth-token", "x" * 32])
    assert "--auth-token" in stack.process("rasa").argv


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening_addresses(port: int) -> set[str]:
    """Local addresses in LISTEN state on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for name in ("tcp", "tcp6"):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory):
    if not RASA_PYTHON.exists():
        pytest.skip("the Rasa environment (.venv-rasa) is not installed")
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key != "SANIC_HOST"}
    env.update(COA_ACTION_SERVER_TOKEN=TOKEN, COA_API_URL="http://127.0.0.1:9", COA_OUTBOX_RESUME="0",
               COA_OUTBOX_PATH=str(tmp_path_factory.mktemp("outbox") / "outbox.db"))  # fmt: skip
    log = tmp_path_factory.mktemp("log") / "actions.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(RASA_PYTHON), "-m", "actions.server", "--actions", "actions", "--port", str(port)],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail(f"action server did not start:\n{log.read_text()}")
        yield base, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_the_action_server_answers_only_with_the_shared_secret(action_server) -> None:
    base, _port = action_server
    body = {"next_action": "action_lookup_steps", "tracker": {"sender_id": "x", "slots": {}, "events": []},
            "domain": {}, "version": "3.6.21"}  # fmt: skip
    assert httpx.get(f"{base}/health").status_code == 200
    assert httpx.post(f"{base}/webhook", json=body).status_code == 401
    assert httpx.post(f"{base}/webhook", json=body, headers={"X-Action-Token": "wrong"}).status_code == 401
    assert httpx.get(f"{base}/actions").status_code == 401
    accepted = httpx.get(f"{base}/actions", headers={"X-Action-Token": TOKEN})
    assert accepted.status_code == 200 and "action_record_decision" in accepted.text


def test_the_action_server_listens_on_loopback_only(action_server) -> None:
    _base, port = action_server
    addresses = _listening_addresses(port)
    assert addresses == {"0100007F"}, addresses  # 127.0.0.1, nothing on 0.0.0.0 or ::


def test_the_action_server_refuses_to_start_without_a_secret() -> None:
    if not RASA_PYTHON.exists():
        pytest.skip("the Rasa environment (.venv-rasa) is not installed")
    env = {key: value for key, value in os.environ.items() if key != "COA_ACTION_SERVER_TOKEN"}
    result = subprocess.run(
        [str(RASA_PYTHON), "-m", "actions.server", "--actions", "actions"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and "COA_ACTION_SERVER_TOKEN" in result.stderr

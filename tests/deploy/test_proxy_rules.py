"""Issue 14: the production proxy (deploy/haproxy.cfg, and its copy in the k8s
ConfigMap) run for real with HAProxy in front of a stand-in replica on loopback: the
REST channel, Rasa's other paths and an oversized body are refused at the proxy; the
Teams webhook, the web chat socket and health get through. Needs the `haproxy` binary
(Debian: apt-get install haproxy)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
HAPROXY = shutil.which("haproxy")
# `make test` installs haproxy (Makefile: proxy); under CI a missing binary is a failure, not a skip.
pytestmark = pytest.mark.skipif(HAPROXY is None and not os.environ.get("CI"),
                                reason="needs the haproxy binary (apt-get install haproxy, or make proxy)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Replica(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []  # requests that reached the replica

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        Replica.seen.append(f"{self.command} {self.path}")
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


def configs() -> dict[str, str]:
    k8s = next(d for d in yaml.safe_load_all((DEPLOY / "k8s" / "configmap.yaml").read_text())
               if d["metadata"]["name"] == "coa-haproxy")
    return {"compose": (DEPLOY / "haproxy.cfg").read_text(), "k8s": k8s["data"]["haproxy.cfg"]}


@pytest.fixture(params=["compose", "k8s"])
def proxy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    replica = ThreadingHTTPServer(("127.0.0.1", 0), Replica)
    threading.Thread(target=replica.serve_forever, daemon=True).start()
    port = free_port()
    # Only the addresses change: the frontend's rules are the file's own.
    config = configs()[request.param].replace("bind :5005", f"bind 127.0.0.1:{port}")
    config = re.sub(r"server (rasa-\d) \S+:5005 check.*", rf"server \1 127.0.0.1:{replica.server_port}", config)
    config = re.sub(r"\n\s*option httpchk GET /\n\s*http-check expect status 200", "", config)
    (tmp_path / "haproxy.cfg").write_text(config)
    assert subprocess.run([HAPROXY, "-c", "-f", str(tmp_path / "haproxy.cfg")], capture_output=True).returncode == 0
    process = subprocess.Popen([HAPROXY, "-db", "-f", str(tmp_path / "haproxy.cfg")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        Replica.seen.clear()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        replica.shutdown()


def test_the_proxy_refuses_rest_and_other_rasa_paths(proxy: str) -> None:
    rest = {"sender": "demo-1", "message": "hallo", "metadata": {"location": "TERAPEL", "staff_id": "stf-2e9b"}}
    assert httpx.post(f"{proxy}/webhooks/rest/webhook", json=rest).status_code == 403
    assert httpx.post(f"{proxy}/webhooks/botframework/webhook", json={}).status_code == 403
    assert httpx.post(f"{proxy}/model/parse", json={"text": "x"}).status_code == 403
    assert httpx.get(f"{proxy}/conversations/demo-1/tracker").status_code == 403
    assert httpx.post(f"{proxy}/", json={}).status_code == 403
    big = b'{"type": "message", "text": "' + b"a" * 1_100_000 + b'"}'
    assert httpx.post(f"{proxy}/webhooks/teams/webhook", content=big,
                      headers={"Content-Type": "application/json"}).status_code == 413
    assert Replica.seen == [], "nothing reached a replica"


def test_the_proxy_forwards_teams_web_chat_and_health(proxy: str) -> None:
    activity = {"type": "message", "conversation": {"id": "19:abc"}, "text": "hallo"}
    assert httpx.post(f"{proxy}/webhooks/teams/webhook", json=activity).status_code == 200
    assert httpx.get(f"{proxy}/socket.io/", params={"EIO": "4", "transport": "polling"}).status_code == 200
    assert httpx.get(f"{proxy}/").status_code == 200
    assert Replica.seen == ["POST /webhooks/teams/webhook", "GET /socket.io/?EIO=4&transport=polling", "GET /"]

"""Scale-out (issue 7, part 3), on this machine: two Rasa replicas sharing a PostgreSQL
tracker store and a Redis lock store, the API under ``api.serve`` with two uvicorn workers
and one shared de-identification process (the session's), one action server, and the
pinning proxy (scripts/pinning_proxy.py) in front of the replicas. The topology is
scripts/scale_stack.py's, which bench/scale_out.py measures.

- ten whole protocol conversations at once through the proxy: each stays on one
  replica, reaches its recorded decision, and has exactly one incident with the
  answers that were clicked;
- one conversation whose turns go alternately to both replicas directly (no proxy):
  the shared tracker store carries it from one replica to the other, to one incident.

Non-contract ports (16005/16006 Rasa, 16055 actions, 18000 API, 16000 proxy), fresh
databases `coa_scale` (API) and `coa_scale_tracker` (Rasa), Redis db 3 with the key
prefix `coascale`. Takes /tmp/coa-e2e.lock like the stack fixture (or shares it when
this pytest session already holds it for the contract-port stack).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from api.security.deidentify import SOCKET_ENV
from tests.browser_support import shared_deidentification
from tests.e2e.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from scale_stack import ScaleStack, Topology, database_url, port_in_use, running, user_token

pytestmark = pytest.mark.e2e

RASA_PORTS = (16005, 16006)
PROXY_PORT = 16000
LOCK_PATH = "/tmp/coa-e2e.lock"
TOPOLOGY = Topology(
    rasa_ports=RASA_PORTS, actions_port=16055, api_port=18000, proxies=((PROXY_PORT, RASA_PORTS),),
    api_db="coa_scale", tracker_db="coa_scale_tracker", redis_db=3, redis_prefix="coascale",
    log_dir=ROOT / "test-artifacts" / "scale-logs",
)
API = TOPOLOGY.api_url
REFERENCE = re.compile(r"Referentie[^:]*:\s*\**([A-Z]+-[0-9]+-[A-Z0-9]+)")
REPORT = "een bewoonster vertelt dat haar broer haar bedreigt omdat ze niet met haar neef wil trouwen"
FREE_TEXT = "ruzie in de familie over een huwelijk"


def _lock_held_by_this_process(path: str) -> bool:
    """True when this process already holds an flock on ``path`` (the session's stack
    fixture): a second flock from the same process on a new descriptor would deadlock."""
    inode = os.stat(path).st_ino
    for line in Path("/proc/locks").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[4] == str(os.getpid()) \
                and parts[5].rsplit(":", 1)[-1] == str(inode):
            return True
    return False


@dataclass
class Scale:
    stack: ScaleStack
    proxy_url: str
    supervisor: str


@pytest.fixture(scope="module")
def scale() -> Iterator[Scale]:
    lock = open(LOCK_PATH, "a")  # noqa: SIM115 - held for the module
    if not _lock_held_by_this_process(LOCK_PATH):
        fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        busy = [port for port in TOPOLOGY.ports if port_in_use(port)]
        if busy:
            pytest.fail(f"ports {busy} are in use")
        env = dict(os.environ)
        # Both API workers send free text to one de-identification process, as `python -m
        # api.serve --workers 2` runs them in production (here the session's one process).
        env[SOCKET_ENV] = shared_deidentification()
        with running(TOPOLOGY, env) as stack:
            yield Scale(stack, f"http://127.0.0.1:{PROXY_PORT}", user_token(stack.env, "supervisor", "TERAPEL"))
    finally:
        lock.close()


@dataclass
class Chat:
    """A counsellor over the REST channel; ``urls`` are used in turn (one: pinned)."""

    urls: list[str]
    choice: int = 0
    sender: str = field(default_factory=lambda: "scale-" + uuid.uuid4().hex[:12])
    transcript: list[tuple[str, str, list[dict]]] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    replicas: set[str] = field(default_factory=set)

    def say(self, text: str) -> list[dict]:
        url = self.urls[len(self.transcript) % len(self.urls)]
        response = httpx.post(f"{url}/webhooks/rest/webhook", timeout=120,
                              json={"sender": self.sender, "message": text, "metadata": {"location": "TERAPEL"}})
        response.raise_for_status()
        self.replicas.add(response.headers.get("x-coa-replica", url))
        replies = response.json()
        self.transcript.append((url, text, replies))
        return replies

    def run_protocol(self, max_turns: int = 30) -> str:
        """Reports, then clicks button ``(choice + turn) % n`` to the end: the reference."""
        replies = self.say(REPORT)
        for turn in range(max_turns):
            text = "\n".join(r.get("text") or "" for r in replies)
            found = REFERENCE.search(text)
            if found:
                return found.group(1)
            buttons = [b for r in replies for b in r.get("buttons", [])]
            if not buttons:  # an open question: a typed answer
                self.answers.append(FREE_TEXT)
                replies = self.say(FREE_TEXT)
                continue
            button = buttons[(self.choice + turn) % len(buttons)]
            self.answers.append(_answer_of(button["payload"]))
            replies = self.say(button["payload"])
        raise AssertionError(f"no recorded decision after {max_turns} turns:\n{self.dump()}")

    def dump(self) -> str:
        lines = [f"conversation {self.sender}"]
        for url, said, replies in self.transcript:
            lines.append(f"> [{url}] {said}")
            lines.extend(f"< {r.get('text', '')} {[b['title'] for b in r.get('buttons', [])]}" for r in replies)
        return "\n".join(lines)


def _answer_of(payload: str) -> str:
    """The answer the protocol records for a button payload (actions/presenter.py)."""
    if payload == "/affirm":
        return "ja"
    if payload == "/deny":
        return "nee"
    if payload.startswith("/kies"):
        return str(json.loads(payload[len("/kies"):])["keuze"])
    raise AssertionError(f"unexpected button payload {payload!r}")


def _incidents(scale: Scale, conversation_id: str) -> dict:
    response = httpx.get(f"{API}/incidents", params={"conversation_id": conversation_id},
                         headers={"Authorization": f"Bearer {scale.supervisor}"}, timeout=30)
    response.raise_for_status()
    return response.json()


def _check_recorded(scale: Scale, chat: Chat, reference: str) -> None:
    body = _incidents(scale, chat.sender)
    assert body["total"] == 1, f"{body['total']} incidents:\n{chat.dump()}"
    incident = body["items"][0]
    assert incident["reference"] == reference, chat.dump()
    assert incident["conversation_id"] == chat.sender
    assert incident["protocol"] == "eergerelateerd_geweld"
    assert [str(s["answer"]) for s in incident["steps"]] == chat.answers, chat.dump()
    assert incident["acute"] is (chat.answers[0] == "ja")
    assert "veilig_thuis" in incident["referrals"]


def _events_in_tracker_store(sender: str) -> int:
    url = database_url(TOPOLOGY.tracker_db, driver="postgresql")
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM events WHERE sender_id = %s", (sender,)).fetchone()[0]


def _redis_clients_on_lock_db() -> int:
    out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "CLIENT", "LIST"],
                         capture_output=True, text=True, check=True, timeout=10).stdout
    return sum(1 for line in out.splitlines() if f" db={TOPOLOGY.redis_db} " in f" {line} ")


def test_concurrent_conversations_through_the_pinning_proxy_each_get_one_incident(scale: Scale) -> None:
    chats = [Chat([scale.proxy_url], choice=i) for i in range(10)]
    with ThreadPoolExecutor(max_workers=len(chats)) as pool:
        references = list(pool.map(lambda chat: chat.run_protocol(), chats))
    assert len(set(references)) == len(chats), "one decision per conversation"
    used = set()
    for chat, reference in zip(chats, references, strict=True):
        assert len(chat.replicas) == 1, f"conversation moved between replicas {chat.replicas}"
        used |= chat.replicas
        _check_recorded(scale, chat, reference)
        assert _events_in_tracker_store(chat.sender) > 0, "the tracker lives in PostgreSQL"
    assert len(used) == 2, f"ten conversations should spread over both replicas, used {used}"
    assert len({tuple(c.answers) for c in chats}) > 1, "the conversations took different paths"
    assert _redis_clients_on_lock_db() >= 2, "both replicas use the Redis lock store"


def test_one_conversation_alternating_between_replicas_stays_consistent(scale: Scale) -> None:
    chat = Chat([f"http://127.0.0.1:{port}" for port in RASA_PORTS], choice=1)
    reference = chat.run_protocol()
    assert {url for url, _, _ in chat.transcript} == {f"http://127.0.0.1:{p}" for p in RASA_PORTS}
    assert len(chat.transcript) >= 4, chat.dump()
    # Every answer was understood where the previous question was asked: no replica
    # ever re-asked a question or started over (the tracker moved with the turn).
    questions = [replies[-1].get("text") for _, _, replies in chat.transcript[:-1]]
    assert len(questions) == len(set(questions)), chat.dump()
    _check_recorded(scale, chat, reference)
    assert scale.stack.dead() == [], "all processes still running"

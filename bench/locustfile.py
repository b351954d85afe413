"""Load and soak (issue 7, part 4): simulated counsellors running whole protocols.

Each simulated counsellor, again and again: reports a situation in free Dutch on the
REST channel (a new conversation id), answers every question by clicking one of the
offered buttons at random (or typing a short answer to an open question) up to the
recorded decision, then starts the next one after a pause.

Run through `make load` (bench/load.py), which also checks that every conversation
has exactly one incident in the API; by hand:

    .venv-api/bin/locust -f bench/locustfile.py --headless -u 50 -r 5 -t 5m \\
        --stop-timeout 180 --host http://127.0.0.1:5005

Environment: COA_LOAD_OUT (JSON file with every conversation and turn latency, for
bench/load.py), COA_LOAD_WAIT (think time between turns in seconds, "min,max";
default "1,3").
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import uuid
from pathlib import Path
from typing import Any

from gevent.event import Event
from locust import HttpUser, events, task

REST = "/webhooks/rest/webhook"
REFERENCE = re.compile(r"Referentie[^:]*:\s*\**([A-Z]+-[0-9]+-[A-Z0-9]+)")
QUEUED = re.compile(r"Voorlopige referentie:\s*(VOORLOPIG-[0-9A-F]{8})")
LOCATIONS = ["TERAPEL", "BUDEL", "ZWOLLE", "GILZE", "MUSSELKANAAL"]
#: Free-Dutch reports, one or more per protocol (as the e2e tests use them).
REPORTS = [
    "een bewoonster vertelt dat haar broer haar bedreigt omdat ze niet met haar neef wil trouwen",
    "een bewoonster zegt dat haar vader en broers haar bedreigen omdat ze een vriend heeft",
    "een bewoonster vertelt dat ze twee dagen geleden door een medebewoner is aangerand",
    "bewoonster is zwanger maar wil het kindje niet, wat moet ik doen",
    "een bewoner wordt door medebewoners uitgescholden en bedreigd omdat hij homo is",
    "een bewoonster is bekeerd tot het christendom en wordt daarom bedreigd",
]
FREE_TEXT = ["ruzie in de familie", "dat weet ik niet precies", "ongeveer 10 weken", "twee dagen geleden"]
MAX_TURNS = 40
_low, _, _high = os.environ.get("COA_LOAD_WAIT", "1,3").partition(",")
WAIT = (float(_low), float(_high or _low))

#: Every conversation: id -> {location, status (started|completed|queued|failed), turns, reference}.
CONVERSATIONS: dict[str, dict[str, Any]] = {}
#: (start, seconds) of every turn, for exact percentiles and throughput in bench/load.py.
TURNS: list[tuple[float, float]] = []
#: Set when locust starts stopping the users: no new protocol is begun after it.
STOPPING = Event()


class Counsellor(HttpUser):
    host = "http://127.0.0.1:5005"

    def wait_time(self) -> float:
        return random.uniform(*WAIT)

    @task
    def protocols(self) -> None:
        # The user's whole run is one task with our own pause between protocols. Locust
        # stops a user that is in a task gracefully, but kills one that is in its
        # wait_time at once, and such a kill could land just after the pause had ended:
        # the next conversation was cut off in its first turn and counted as an error
        # (CI of stop 25). Now a stop always lands between two protocols.
        while not STOPPING.is_set():
            self.whole_protocol()
            time.sleep(self.wait_time())

    def whole_protocol(self) -> None:
        sender = "load-" + uuid.uuid4().hex[:16]
        location = random.choice(LOCATIONS)
        record = CONVERSATIONS[sender] = {"location": location, "status": "started", "turns": 0}
        started = time.perf_counter()
        replies = self.turn(sender, location, random.choice(REPORTS), record)
        for _ in range(MAX_TURNS):
            if replies is None:
                return
            text = "\n".join(r.get("text") or "" for r in replies)
            final, queued = REFERENCE.search(text), QUEUED.search(text)
            if final or queued:
                record["status"] = "completed" if final else "queued"
                record["reference"] = (final or queued).group(1)
                events.request.fire(request_type="PROTOCOL", name="whole protocol",
                                    response_time=(time.perf_counter() - started) * 1000,
                                    response_length=record["turns"], exception=None, context={})
                return
            buttons = [b for r in replies for b in r.get("buttons", [])]
            answer = random.choice(buttons)["payload"] if buttons else random.choice(FREE_TEXT)
            time.sleep(self.wait_time())
            replies = self.turn(sender, location, answer, record)
        record["status"] = "failed"
        events.request.fire(request_type="PROTOCOL", name="whole protocol",
                            response_time=(time.perf_counter() - started) * 1000, response_length=0,
                            exception=RuntimeError(f"no decision after {MAX_TURNS} turns"), context={})

    def turn(self, sender: str, location: str, text: str, record: dict[str, Any]) -> list[dict] | None:
        body = {"sender": sender, "message": text, "metadata": {"location": location}}
        started = time.perf_counter()
        wall = time.time()
        with self.client.post(REST, json=body, name="turn", timeout=120, catch_response=True) as response:
            took = time.perf_counter() - started
            record["turns"] += 1
            try:
                replies = response.json()
            except ValueError:
                replies = None
            if response.status_code != 200 or not isinstance(replies, list) or not replies:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]!r}")
                record["status"] = "failed"
                return None
            response.success()
        TURNS.append((wall, took))
        return replies


@events.quitting.add_listener
def write_results(environment: Any, **_kwargs: Any) -> None:
    out = os.environ.get("COA_LOAD_OUT")
    if out:
        Path(out).write_text(json.dumps({"conversations": CONVERSATIONS, "turns": TURNS}))


@events.test_stopping.add_listener
def _stopping(environment: Any, **_kwargs: Any) -> None:
    STOPPING.set()


@events.test_stop.add_listener
def _unfinished(environment: Any, **_kwargs: Any) -> None:
    # A conversation still running when the users were stopped outlived --stop-timeout:
    # bench/load.py counts it as an error.
    for record in CONVERSATIONS.values():
        if record["status"] == "started":
            record["status"] = "interrupted"


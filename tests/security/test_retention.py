"""Transcript retention in Rasa's tracker store (issue 6, part 4), on a tracker
database created by Rasa's own SQLTrackerStore (the .venv-rasa environment)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from api import retention
from api.config import REPO_ROOT

RASA_PYTHON = REPO_ROOT / ".venv-rasa" / "bin" / "python"
DAY = 86400.0

CREATE_WITH_RASA = """
import sys
from rasa.core.tracker_store import SQLTrackerStore
SQLTrackerStore(dialect="sqlite", db=sys.argv[1])
"""


@pytest.fixture(scope="module")
def rasa_schema_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not RASA_PYTHON.exists():
        pytest.skip("the Rasa environment (.venv-rasa) is not installed")
    path = tmp_path_factory.mktemp("tracker") / "template.db"
    subprocess.run([str(RASA_PYTHON), "-c", CREATE_WITH_RASA, str(path)], check=True, timeout=300, cwd=REPO_ROOT)
    return path


@pytest.fixture
def tracker_db(rasa_schema_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "rasa_tracker.db"
    path.write_bytes(rasa_schema_db.read_bytes())
    now = time.time()
    rows = []
    # old: last event 40 days ago; recent: started 40 days ago but active yesterday; new: today.
    for sender, stamps in {"conv-old": [45, 41, 40], "conv-recent": [40, 1], "conv-new": [0.1]}.items():
        for days_ago in stamps:
            data = json.dumps({"event": "user", "text": "Mijn naam is Jan Jansen, 06-12345678"})
            rows.append((sender, "user", now - days_ago * DAY, "greet", None, data))
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
    return path


def _senders(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT sender_id, COUNT(*) FROM events GROUP BY sender_id").fetchall())


def test_the_schema_is_rasas(rasa_schema_db: Path) -> None:
    with sqlite3.connect(rasa_schema_db) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(events)")]
    assert columns == ["id", "sender_id", "type_name", "timestamp", "intent_name", "action_name", "data"]


def test_dry_run_counts_and_deletes_nothing(tracker_db: Path, tmp_path: Path) -> None:
    log = tmp_path / "retention.log"
    code = retention.main(["--dry-run", "--days", "30", "--db-url", f"sqlite:///{tracker_db}", "--log", str(log)])
    assert code == 0
    assert _senders(tracker_db) == {"conv-old": 3, "conv-recent": 2, "conv-new": 1}
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["dry_run"] is True and entry["conversations"] == 1 and entry["events"] == 3


def test_whole_expired_conversations_are_deleted_and_logged_without_content(tracker_db: Path, tmp_path: Path) -> None:
    log = tmp_path / "retention.log"
    assert retention.main(["--days", "30", "--db-url", f"sqlite:///{tracker_db}", "--log", str(log)]) == 0
    # conv-recent keeps its 40-day-old event too: it is still going on.
    assert _senders(tracker_db) == {"conv-recent": 2, "conv-new": 1}
    text = log.read_text()
    entry = json.loads(text.splitlines()[-1])
    assert entry["dry_run"] is False and entry["conversations"] == 1 and entry["events"] == 3
    assert set(entry) == {"at", "cutoff", "retention_days", "dry_run", "conversations", "events"}
    assert "conv-old" not in text and "Jan" not in text
    # Idempotent: a second run finds nothing.
    assert retention.purge(f"sqlite:///{tracker_db}", 30, dry_run=False).events == 0


def test_a_shorter_period_and_bad_arguments(tracker_db: Path, tmp_path: Path) -> None:
    result = retention.purge(f"sqlite:///{tracker_db}", 0.5, dry_run=False)
    assert (result.conversations, result.events) == (2, 5)
    assert _senders(tracker_db) == {"conv-new": 1}
    assert retention.main(["--days", "0", "--log", str(tmp_path / "x.log")]) == 2

"""Delete old conversation transcripts from Rasa's tracker store (issue 6, part 4).

    python -m api.retention --dry-run          # what would be deleted (counts)
    python -m api.retention                    # delete
    python -m api.retention --days 30 --db-url sqlite:///var/rasa_tracker.db

Rasa's ``SQLTrackerStore`` keeps every message of every conversation in the table
``events`` (``sender_id``, ``type_name``, ``timestamp`` as Unix seconds, ``data``).
A conversation whose *last* event is older than the retention period is deleted
whole: deleting only old events of a conversation that is still going on would
leave Rasa a tracker without its slots. Recorded decisions and the session log
live in the API's database and are not touched.

Settings: ``COA_TRACKER_DB_URL`` (SQLAlchemy URL, default the SQLite file
``var/rasa_tracker.db`` of ``assistant/endpoints.yml``; PostgreSQL:
``postgresql+psycopg://user@host/rasa``), ``COA_TRACKER_RETENTION_DAYS`` (default 30),
``COA_RETENTION_LOG`` (default ``var/log/retention.log``).

The deletion log gets one JSON line per run with counts only (never a sender id or
any content): time, cut-off, dry run or not, conversations and events deleted.
Run it daily (cron / a systemd timer); exit code 0 on success, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.config import REPO_ROOT

DEFAULT_DB_URL = "sqlite:///var/rasa_tracker.db"
DEFAULT_DAYS = 30
DEFAULT_LOG = "var/log/retention.log"


@dataclass(frozen=True)
class RetentionResult:
    at: str
    cutoff: str
    retention_days: float
    dry_run: bool
    conversations: int
    events: int


def _resolve(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).is_absolute():
        return parsed.set(database=str(REPO_ROOT / parsed.database)).render_as_string(hide_password=False)
    return url


_EXPIRED = "SELECT sender_id FROM events GROUP BY sender_id HAVING MAX(timestamp) < :cutoff"


def purge(db_url: str, days: float, *, dry_run: bool, now: float | None = None) -> RetentionResult:
    now = time.time() if now is None else now
    cutoff = now - days * 86400
    engine = create_engine(_resolve(db_url))
    try:
        with engine.begin() as connection:
            conversations = connection.execute(
                text(f"SELECT COUNT(*) FROM ({_EXPIRED}) AS expired"), {"cutoff": cutoff}
            )
            n_conversations = int(conversations.scalar() or 0)
            n_events = int(
                connection.execute(
                    text(f"SELECT COUNT(*) FROM events WHERE sender_id IN ({_EXPIRED})"), {"cutoff": cutoff}
                ).scalar()
                or 0
            )
            if not dry_run and n_events:
                connection.execute(text(f"DELETE FROM events WHERE sender_id IN ({_EXPIRED})"), {"cutoff": cutoff})
    finally:
        engine.dispose()
    return RetentionResult(
        at=datetime.fromtimestamp(now, UTC).isoformat(),
        cutoff=datetime.fromtimestamp(cutoff, UTC).isoformat(),
        retention_days=days,
        dry_run=dry_run,
        conversations=n_conversations,
        events=n_events,
    )


def write_log(path: Path, result: RetentionResult) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        log.write(json.dumps(asdict(result), sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.retention", description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="count only, delete nothing")
    parser.add_argument("--days", type=float, default=float(os.environ.get("COA_TRACKER_RETENTION_DAYS", DEFAULT_DAYS)))
    parser.add_argument("--db-url", default=os.environ.get("COA_TRACKER_DB_URL", DEFAULT_DB_URL))
    parser.add_argument("--log", default=os.environ.get("COA_RETENTION_LOG", DEFAULT_LOG))
    args = parser.parse_args(argv)
    if args.days <= 0:
        print("--days must be positive", file=sys.stderr)
        return 2
    result = purge(args.db_url, args.days, dry_run=args.dry_run)
    log_path = Path(args.log)
    write_log(log_path if log_path.is_absolute() else REPO_ROOT / log_path, result)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {result.conversations} conversation(s), {result.events} event(s) older than {result.cutoff}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

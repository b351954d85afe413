"""Seed the demo locations, key-position holders and users: ``python -m api.seed``.

Idempotent: run it as often as you like (``make run`` does, after
``alembic upgrade head``). Locations are upserted from ``knowledge/locations.yml``
(the one list of locations), their invented key-position holders from
``api/seed_data.yml``; users are only created when missing, so a changed password
or role is never reset. Nothing is deleted.

Demo users (DEMO ONLY; every name in the seed file is invented):

=========================  ==============  ==============================  ===================
username                   role            locations                       password
=========================  ==============  ==============================  ===================
begeleider.terapel         counsellor      TERAPEL                         begeleider-demo
begeleider.budel           counsellor      BUDEL                           begeleider-demo
contactpersoon.terapel     contact_person  TERAPEL                         contactpersoon-demo
supervisor.terapel         supervisor      TERAPEL                         supervisor-demo
supervisor.budel           supervisor      BUDEL                           supervisor-demo
supervisor.noord           supervisor      TERAPEL, MUSSELKANAAL, ZWOLLE   supervisor-demo
admin                      admin           (all)                           admin-demo
=========================  ==============  ==============================  ===================

Refuses to run with ``COA_ENV=production`` unless ``--allow-production`` is given:
publicly documented passwords must not reach a production database by accident.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from api.auth.models import UserAccount
from api.auth.schemas import ROLES
from api.config import get_settings
from api.db import get_sessionmaker
from api.directory.models import KeyPositionAssignment
from api.indicators import rollup as indicator_rollup
from api.locations.models import KEY_POSITIONS, Location
from knowledge import PACKAGE_DIR, load_locations

SEED_FILE = Path(__file__).with_name("seed_data.yml")
#: The demo holders hold (and are known to hold) their positions since long before any
#: demo incident, as migration 0006 stamps the holders it converts.
SEED_VALID_FROM = date(2000, 1, 1)
SEED_KNOWN_SINCE = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass
class SeedReport:
    locations_created: int = 0
    holders_created: int = 0
    users_created: int = 0

    def __str__(self) -> str:
        return (
            f"seeded: {self.locations_created} new locations, {self.holders_created} new key-position "
            f"holders, {self.users_created} new users"
        )


def _with_knowledge_locations(path: Path, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every location of knowledge/locations.yml (name, aliases), with the demo
    holders the seed file gives for its code."""
    known = load_locations(PACKAGE_DIR / "locations.yml")
    unknown = sorted({entry["code"] for entry in entries} - set(known))
    if unknown:
        raise ValueError(f"{path}: locations {unknown} are not in knowledge/locations.yml")
    holders = {entry["code"]: entry.get("key_positions", {}) for entry in entries}
    return [
        {"code": loc.code, "name": loc.name, "aliases": [loc.name.lower(), *loc.aliases],
         "key_positions": holders.get(loc.code, {})}
        for loc in known.values()
    ]


def load_seed_data(path: Path = SEED_FILE) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["locations"] = _with_knowledge_locations(path, data.get("locations", []))
    # Fail with the file's name rather than deep inside the database code.
    for location in data.get("locations", []):
        unknown = set(location.get("key_positions", {})) - set(KEY_POSITIONS)
        if unknown:
            raise ValueError(f"{path}: location {location['code']}: unknown key positions {sorted(unknown)}")
    for user in data.get("users", []):
        if user["role"] not in ROLES:
            raise ValueError(f"{path}: user {user['username']}: unknown role {user['role']!r}")
    return data


def seed(session: Session, data: dict[str, Any]) -> SeedReport:
    report = SeedReport()
    for entry in data.get("locations", []):
        code = entry["code"].strip().upper()
        aliases = sorted({alias.strip().lower() for alias in entry.get("aliases", [])})
        location = session.get(Location, code)
        if location is None:
            location = Location(code=code, name=entry["name"], aliases=aliases)
            session.add(location)
            report.locations_created += 1
        else:
            location.name, location.aliases = entry["name"], aliases
        session.flush()
        for position, holder_data in entry.get("key_positions", {}).items():
            # Once seeded, a holder is the directory's: an admin may have ended or
            # changed the assignment since, and seeding again must not undo that.
            seeded_before = session.scalar(
                select(KeyPositionAssignment.id).where(
                    KeyPositionAssignment.location_code == code,
                    KeyPositionAssignment.position == position,
                    KeyPositionAssignment.name == holder_data["name"],
                ).limit(1)
            )
            if seeded_before is None:
                session.add(
                    KeyPositionAssignment(
                        assignment_id=uuid.uuid4().hex, version=1, location_code=code, position=position,
                        kind="houder", name=holder_data["name"], phone=holder_data.get("phone"),
                        teams_id=holder_data.get("teams_id"), email=holder_data.get("email"),
                        valid_from=SEED_VALID_FROM, valid_until=None, action="aangemaakt",
                        recorded_at=SEED_KNOWN_SINCE, recorded_by="seed",
                    )
                )
                report.holders_created += 1
    for entry in data.get("users", []):
        username = entry["username"].strip().lower()
        if session.scalar(select(UserAccount.id).where(UserAccount.username == username)) is None:
            session.add(
                UserAccount(
                    username=username,
                    password_hash=entry["password_hash"],
                    role=entry["role"],
                    staff_id=entry["staff_id"],
                    locations=[code.upper() for code in entry.get("locations", [])],
                )
            )
            report.users_created += 1
    # The indicator rollup is built once, and again after knowledge/norms.yml changed.
    indicator_rollup.ensure_fresh(session)
    session.commit()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.seed", description="Seed the demo data.")
    parser.add_argument("--file", type=Path, default=SEED_FILE)
    parser.add_argument("--allow-production", action="store_true")
    args = parser.parse_args(argv)
    if get_settings().env == "production" and not args.allow_production:
        print("refusing to seed demo users with COA_ENV=production (use --allow-production)", file=sys.stderr)
        return 2
    with get_sessionmaker()() as session:
        if not inspect(session.get_bind()).has_table("locations"):
            print("the database has no schema yet: run `alembic upgrade head` first", file=sys.stderr)
            return 1
        report = seed(session, load_seed_data(args.file))
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

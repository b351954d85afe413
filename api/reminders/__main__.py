"""``python -m api.reminders [--once]``: the reminder runner outside the API (a cron
job, or a separate worker); the API's workers run the same loop when e-mail or Teams is on."""

from __future__ import annotations

import argparse
import logging
import time

from api.db import get_write_sessionmaker
from api.reminders.runner import Runner, teams_notifier
from api.reminders.settings import ReminderSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="one round, then exit")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    settings = ReminderSettings()
    teams = teams_notifier()
    if not settings.enabled and teams is None:
        raise SystemExit("e-mail and Teams are off: set COA_SMTP_HOST or COA_TEAMS_APP_ID and COA_TEAMS_APP_PASSWORD "
                         "(see api/reminders/settings.py, api/teams/settings.py)")
    runner = Runner(get_write_sessionmaker(), settings, teams=teams)
    while True:
        print(f"sent {runner.run_once()}", flush=True)
        if args.once:
            return
        time.sleep(settings.interval_seconds)


if __name__ == "__main__":
    main()

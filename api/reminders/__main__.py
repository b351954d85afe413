"""``python -m api.reminders [--once]``: the reminder runner outside the API (a cron
job, or a separate worker); the API's workers run the same loop when e-mail is on."""

from __future__ import annotations

import argparse
import logging
import time

from api.db import get_sessionmaker
from api.reminders.runner import Runner
from api.reminders.settings import ReminderSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="one round, then exit")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    settings = ReminderSettings()
    if not settings.enabled:
        raise SystemExit("e-mail is off: set COA_SMTP_HOST (see api/reminders/settings.py)")
    runner = Runner(get_sessionmaker(), settings)
    while True:
        print(f"sent {runner.run_once()}", flush=True)
        if args.once:
            return
        time.sleep(settings.interval_seconds)


if __name__ == "__main__":
    main()

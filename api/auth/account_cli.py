"""Deactivate a staff account: its logins end and its tokens are refused at once.

    python -m api.auth.account_cli deactivate <username>

(issue 14, finding 5; ``api/auth/login_sessions.py``). Exit code 1 for an unknown username.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import login_sessions
from api.auth.models import UserAccount
from api.db import get_sessionmaker


def deactivate(session: Session, username: str) -> str | None:
    """The report line, or None when there is no such account."""
    account = session.scalar(select(UserAccount).where(UserAccount.username == username.strip().lower()))
    if account is None:
        return None
    ended = login_sessions.deactivate(session, account)
    return f"deactivated {account.username}; ended {ended} open login(s)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.auth.account_cli", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("deactivate", help="deactivate an account").add_argument("username")
    args = parser.parse_args(argv)
    with get_sessionmaker()() as session:
        report = deactivate(session, args.username)
    if report is None:
        print(f"no account {args.username!r}", file=sys.stderr)
        return 1
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

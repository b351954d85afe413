"""Print a bearer token for local use; the token is always the LAST line of stdout.

    python -m api.auth.token_cli --role supervisor --location TERAPEL [--location BUDEL]
                                 [--sub X] [--ttl-hours 12]

Signed with COA_JWT_SECRET (the same settings as the API). No database is needed:
the token's claims are what the API trusts. ``--role service`` is the action
server's credential (sub ``action-server``).
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from api.auth.schemas import ROLES
from api.auth.service import create_token
from api.config import get_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m api.auth.token_cli", description=__doc__.splitlines()[0])
    parser.add_argument("--role", required=True, choices=ROLES)
    parser.add_argument(
        "--location",
        action="append",
        default=[],
        help="location code (repeatable, or comma-separated), e.g. TERAPEL",
    )
    parser.add_argument("--sub", help="subject: pseudonymous staff id (default: derived from the role)")
    parser.add_argument("--ttl-hours", type=float, default=12.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.ttl_hours <= 0:
        print("--ttl-hours must be positive", file=sys.stderr)
        return 2
    # `make token LOCATION=` may pass an empty value: that means "no location".
    locations = [code for value in args.location for code in value.split(",") if code.strip()]
    sub = args.sub or ("action-server" if args.role == "service" else f"dev-{args.role}")
    token = create_token(
        get_settings(),
        sub=sub,
        role=args.role,
        locations=locations,
        ttl=timedelta(hours=args.ttl_hours),
    )
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())

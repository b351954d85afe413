"""Login limit per account (issue 14, finding 8), next to the per-address limit of
``ratelimit.py``.

Failed logins of one username count in a moving window (``COA_LOGIN_ACCOUNT_RATE``,
default 10 per 15 minutes) whatever address they come from, so guessing one
account's password from many addresses is slowed down as well. Over the limit,
the login answers 429 with ``Retry-After`` without checking the password.

Why it cannot lock a user out forever: the window moves, so the lock ends at most
one window after the attacker's last failure; and an address from which that
account logged in successfully before (kept 30 days, in memory) is never blocked
by the account limit (only by the per-address one), so the user's own device keeps
working while someone else hammers the account. Unknown usernames count the same
way, so the answer does not reveal which accounts exist.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict

from fastapi import Request
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

KNOWN_ADDRESS_SECONDS = 30 * 24 * 3600
KNOWN_ADDRESS_MAX = 50_000


class LoginGuard:
    def __init__(self, rate: str) -> None:
        self.limit = parse(rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.known: OrderedDict[tuple[str, str], float] = OrderedDict()

    @staticmethod
    def _key(username: str) -> str:
        return username.strip().lower()

    def _is_known(self, username: str, client: str) -> bool:
        seen = self.known.get((self._key(username), client))
        return seen is not None and time.time() - seen < KNOWN_ADDRESS_SECONDS

    def retry_after(self, username: str, client: str) -> int | None:
        """Seconds to wait when this account is over its limit for this address, else None."""
        if self._is_known(username, client) or self.limiter.test(self.limit, "account", self._key(username)):
            return None
        reset_at, _remaining = self.limiter.get_window_stats(self.limit, "account", self._key(username))
        return max(1, math.ceil(reset_at - time.time()))

    def failed(self, username: str) -> None:
        self.limiter.hit(self.limit, "account", self._key(username))

    def succeeded(self, username: str, client: str) -> None:
        key = (self._key(username), client)
        self.known[key] = time.time()
        self.known.move_to_end(key)
        while len(self.known) > KNOWN_ADDRESS_MAX:
            self.known.popitem(last=False)


def guard_of(request: Request) -> LoginGuard:
    """The app's guard (``create_app`` puts one on ``app.state``: every app starts empty)."""
    guard: LoginGuard = request.app.state.login_guard
    return guard


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def too_many_message(retry_after: int) -> str:
    return f"too many failed logins for this account; retry after {retry_after} s"

"""Browser sessions: the JWT in an HttpOnly cookie, and CSRF protection for it.

Design (see also ``api/web/README.md``):

* ``coa_session`` holds the same JWT that ``POST /api/v1/auth/login`` returns.
  HttpOnly (page scripts cannot read it), ``SameSite=Strict`` (a browser never
  sends it on a request started by another site), ``Secure`` when
  ``COA_ENV=production``, ``Path=/``, lifetime = the token's lifetime.
* ``coa_csrf`` holds a random token (double-submit). A state-changing request
  (anything but GET/HEAD/OPTIONS) that is authenticated by the cookie must repeat
  that token, in the ``X-CSRF-Token`` header (fetch from our pages) or in the
  ``csrf_token`` form field (HTML forms). A cross-site page can neither read the
  cookie nor set a custom header without a CORS preflight, which this API never
  allows. The page templates expose the token in ``<meta name="csrf-token">``.
  Requests with an ``Authorization: Bearer`` header are not cookie-authenticated
  and need no CSRF token.
* Bound to the login (issue 14): after login the CSRF token is an HMAC of the
  login session id (``api/auth/login_sessions.py``), and a logged-in request's
  check also compares with that value, so a CSRF cookie planted by another
  site or left from an earlier login does not pass.
* The login form has a CSRF token too (against "login CSRF": being logged in to
  someone else's account); it is rotated at every login.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response

from api.config import Settings

SESSION_COOKIE = "coa_session"
CSRF_COOKIE = "coa_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The CSRF cookie outlives a session so that a login form left open still works.
CSRF_COOKIE_MAX_AGE = 7 * 24 * 3600


def _secure(settings: Settings) -> bool:
    return settings.env == "production"


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.token_ttl_hours * 3600),
        path="/",
        httponly=True,
        secure=_secure(settings),
        samesite="strict",
    )


def set_csrf_cookie(response: Response, token: str, settings: Settings) -> None:
    # HttpOnly as well: our pages get the token from the HTML, never from the cookie.
    response.set_cookie(
        CSRF_COOKIE,
        token,
        max_age=CSRF_COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        secure=_secure(settings),
        samesite="strict",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, secure=_secure(settings), samesite="strict"
    )


def session_token(request: Request) -> str | None:
    token = request.cookies.get(SESSION_COOKIE)
    return token or None


def csrf_cookie(request: Request) -> str | None:
    return request.cookies.get(CSRF_COOKIE) or None


def bind_csrf(request: Request, expected: str | None) -> None:
    """Bind the CSRF check of this request to the login's own token (``csrf_for``)."""
    request.state.csrf_bound = expected


def csrf_matches(request: Request, submitted: str | None) -> bool:
    """True when ``submitted`` equals the request's CSRF cookie (constant time) and,
    for a logged-in request, the token bound to its login."""
    expected = csrf_cookie(request)
    if not expected or not submitted:
        return False
    if not hmac.compare_digest(expected.encode(), submitted.encode()):
        return False
    bound = getattr(request.state, "csrf_bound", None)
    return bound is None or hmac.compare_digest(bound.encode(), submitted.encode())

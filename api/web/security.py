"""Security headers on every response, and gzip for the static files.

The pages load scripts only from this origin (``script-src 'self'``), so no page
may contain inline JavaScript or event-handler attributes. ``style-src`` allows
``'unsafe-inline'`` because mermaid (and the chart libraries to come) write
``<style>`` elements and ``style`` attributes into the SVG they draw; styles cannot
run code. A route that needs a different policy (for example ``connect-src`` for
the chat's socket) sets its own ``Content-Security-Policy`` header: the middleware
only fills in headers that a response does not have yet.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP_DIRECTIVES: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def csp(**overrides: str) -> str:
    """The policy as a header value; ``csp(connect_src="'self' ws://host")`` changes one directive."""
    directives = dict(CSP_DIRECTIVES)
    directives.update({key.replace("_", "-"): value for key, value in overrides.items()})
    return "; ".join(f"{name} {value}" for name, value in directives.items())


# FastAPI's Swagger UI and ReDoc load their assets from a CDN with inline scripts;
# they keep working without our CSP (the other headers still apply).
CSP_EXEMPT_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, production: bool = False) -> None:
        self.app = app
        self.production = production
        self.policy = csp()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exempt = scope["path"] in CSP_EXEMPT_PATHS
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
                if not exempt:
                    headers.setdefault("Content-Security-Policy", self.policy)
                if not static:
                    # API JSON, the CSV export and pages hold case data: never in any cache (issue 14).
                    headers.setdefault("Cache-Control", "no-store")
                if self.production:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class StaticGZipMiddleware:
    """gzip for ``/static/`` only (mermaid is 3.5 MB, about 1 MB compressed).

    Pages and API answers stay uncompressed: a page that reflects input next to a
    secret (the CSRF token) must not be compressed (BREACH).
    """

    def __init__(self, app: ASGIApp, prefix: str = "/static/") -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=1024)
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)

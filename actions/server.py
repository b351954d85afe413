"""Entry point of the action server: ``python -m actions.server --actions actions ...``.

It is ``python -m rasa_sdk`` (rasa_sdk 3.6, same arguments) with two changes for
issue 6, because rasa_sdk 3.6 has no authentication of its own:

* every request except ``GET /health`` must carry the shared secret in the
  ``X-Action-Token`` header (``COA_ACTION_SERVER_TOKEN``), compared in constant
  time; otherwise 401. Rasa sends it through ``action_endpoint.headers`` in its
  endpoints file (``scripts/stack.py`` writes that; Rasa 3.6's ``EndpointConfig``
  adds ``headers`` to every call). So only Rasa can run actions, and through them
  write incidents with the service credential.
* it binds to 127.0.0.1 unless ``SANIC_HOST`` says otherwise (rasa_sdk's own
  default is 0.0.0.0).

And one for issue 16 (the tail): the knowledge is loaded when the app is made, not in
the first turn, and what start-up loaded (~46,000 objects: the knowledge, rasa_sdk,
Sanic) is then frozen out of garbage collection; each full collection walked it
(~11 ms with the GIL held, in the middle of a turn; bench/results.md).

Without ``COA_ACTION_SERVER_TOKEN`` it refuses to start, unless
``COA_ACTION_SERVER_INSECURE=1`` (a developer's own machine, nothing else).
"""

from __future__ import annotations

import gc
import hmac
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

TOKEN_HEADER = "X-Action-Token"
TOKEN_ENV = "COA_ACTION_SERVER_TOKEN"
OPEN_PATHS = frozenset({"/health"})

logger = logging.getLogger(__name__)


def token_matches(expected: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(expected.encode(), str(presented).encode())


def protect(app: Any, token: str) -> Any:
    """Adds the header check to a rasa_sdk Sanic app as a request middleware."""
    from sanic import response

    @app.middleware("request")
    async def _require_token(request: Any) -> Any:
        if request.path in OPEN_PATHS and request.method in ("GET", "HEAD"):
            return None
        if not token_matches(token, request.headers.get(TOKEN_HEADER)):
            return response.json({"error": f"missing or wrong {TOKEN_HEADER} header"}, status=401)
        return None

    return app


def serving(create_app: Callable[..., Any], token: str) -> Callable[..., Any]:
    """rasa_sdk's ``create_app`` with the changes of the module docstring."""
    from actions.knowledge_cache import get_engine

    def create(*args: Any, **kwargs: Any) -> Any:
        app = create_app(*args, **kwargs)
        get_engine()
        gc.collect()  # the garbage of loading is freed, not frozen
        gc.freeze()
        return protect(app, token) if token else app

    return create


def main() -> int:
    token = os.environ.get(TOKEN_ENV, "")
    if not token and os.environ.get("COA_ACTION_SERVER_INSECURE") != "1":
        print(
            f"{TOKEN_ENV} is not set: the action server would run actions for anyone who can reach it. "
            "Set it (and the same value in Rasa's action_endpoint headers), or COA_ACTION_SERVER_INSECURE=1.",
            file=sys.stderr,
        )
        return 2
    if token and len(token) < 24:
        print(f"{TOKEN_ENV} is too short (at least 24 characters)", file=sys.stderr)
        return 2
    os.environ.setdefault("SANIC_HOST", "127.0.0.1")

    import rasa_sdk.__main__
    import rasa_sdk.endpoint

    # rasa_sdk.endpoint.run looks create_app up in its module at call time.
    rasa_sdk.endpoint.create_app = serving(rasa_sdk.endpoint.create_app, token)
    rasa_sdk.__main__.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())

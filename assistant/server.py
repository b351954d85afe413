"""Entry point of the Rasa server process: `python -m assistant.server run ...`.

It is `rasa run` with one change: `GET /` answers JSON (`{"status": "ok", ...}`)
instead of Rasa's plain-text greeting, so health checks and the contract check
can parse the answer like every other health endpoint of the stack.
"""

from __future__ import annotations

import sys

import rasa
import rasa.server
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse


def add_json_root_route(app: Sanic) -> None:
    @app.get("/")
    async def hello(request: Request) -> HTTPResponse:
        return response.json({"status": "ok", "service": "rasa", "version": rasa.__version__})


def main() -> None:
    # Rasa builds its app through rasa.server.add_root_route in every mode
    # (with and without --enable-api); replacing it there is the one seam needed.
    rasa.server.add_root_route = add_json_root_route
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    sys.exit(main())

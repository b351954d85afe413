"""Entry point of the Rasa server process: `python -m assistant.server run ...`.

It is `rasa run` with two changes:

* `GET /` answers JSON (`{"status": "ok", ...}`) instead of Rasa's plain-text
  greeting, so health checks and the contract check can parse the answer like
  every other health endpoint of the stack;
* the action server's answer is validated against Rasa's response schema with a
  validator built once, not with `jsonschema.validate`, which checks the schema
  itself against the metaschema on every call: that check was a third of the Rasa
  process's CPU per protocol turn (py-spy, bench/results.md). The answer is still
  validated the same way (same schema, same validator class, same best error,
  same message), so an invalid answer is rejected exactly as before.
"""

from __future__ import annotations

import os
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


def _cached_action_result_validation() -> None:
    """Replace `RemoteAction._validate_action_result` by the same check with a
    validator built once per schema (see the module docstring)."""
    from jsonschema import ValidationError, exceptions, validators
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)  # once, as `jsonschema.validate` does on every call
    validator = cls(schema)

    def validate_action_result(self: RemoteAction, result: dict) -> bool:
        error = exceptions.best_match(validator.iter_errors(result))
        if error is not None:
            assert isinstance(error, ValidationError)
            error.message += (
                f". Failed to validate Action server response from API, "
                f"make sure your response from the Action endpoint is valid. "
                f"For more information about the format visit "
                f"{DOCS_BASE_URL}/custom-actions"
            )
            raise error
        return True

    RemoteAction._validate_action_result = validate_action_result


#: Sanic reads a request body of up to 100 MB before any channel sees it. No channel
#: needs more than this (the REST channel: 16 KB, a Teams activity: a few KB; issue 14).
REQUEST_MAX_SIZE = str(1024 * 1024)


def main() -> None:
    # Sanic takes SANIC_* environment variables into the app's config when Rasa builds it.
    os.environ.setdefault("SANIC_REQUEST_MAX_SIZE", REQUEST_MAX_SIZE)
    # Rasa builds its app through rasa.server.add_root_route in every mode
    # (with and without --enable-api); replacing it there is the one seam needed.
    rasa.server.add_root_route = add_json_root_route
    _cached_action_result_validation()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    sys.exit(main())

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
  same message), so an invalid answer is rejected exactly as before. An answer is
  first checked event by event against its own kind's part of the schema, the same
  verdict in a tenth of the time (`_fast_action_result_check`); only what that does
  not show valid goes to the full validator, for the verdict and the error;
* a button's payload (`/affirm`, `/kies{"keuze": "..."}`) is not run through the NLU
  pipeline. Rasa runs every component on it (DIET included: a sixth of the Rasa
  process's CPU over protocol turns, most of which are buttons; py-spy,
  bench/results.md) and then its last step, `RegexMessageHandler`, throws all of that
  away and unpacks the payload. Running that last step alone gives the same parse;
  anything that does not unpack (typed text, an unknown intent) still goes through the
  whole pipeline;
* once the model is loaded, everything loaded so far is frozen out of garbage
  collection (`gc.freeze`): the model, TensorFlow, spaCy and Rasa's modules are ~650,000
  objects that live as long as the process, and every full collection walked them all,
  ~0.3-0.4 s with the GIL held, in the middle of a turn (twice in 400 turns of
  `bench/turns.py`; bench/results.md).
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable
from typing import Any

import rasa
import rasa.server
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse


def add_json_root_route(app: Sanic) -> None:
    @app.get("/")
    async def hello(request: Request) -> HTTPResponse:
        return response.json({"status": "ok", "service": "rasa", "version": rasa.__version__})


def _fast_action_result_check(schema: dict[str, Any], cls: Any) -> Callable[[Any], bool]:
    """``check(result) -> bool``: True only when the full schema accepts ``result``.

    Rasa's schema says an event is one of ~23 kinds: ``oneOf`` over one branch per kind,
    each fixing ``event`` to its own ``const``. The full validator tries every branch on
    every event (~6 ms for a decision's answer of a dozen events, bench/results.md).
    Another kind's branch can never match (its ``const`` differs from the event's name),
    so validating an event against the base part and its own kind's branch gives the
    same verdict. False means "not shown valid here", not "invalid": the caller then
    runs the full validator, which gives the verdict and the error, as before.
    """
    events = schema.get("properties", {}).get("events", {})
    item = events.get("items") if isinstance(events, dict) else None
    branches = item.get("oneOf") if isinstance(item, dict) else None
    kinds: dict[str, Any] = {}
    for branch in branches or []:
        kind = branch.get("properties", {}).get("event", {}).get("const") if isinstance(branch, dict) else None
        if not isinstance(kind, str) or kind in kinds:
            return lambda result: False  # not the shape relied on: always the full validator
        kinds[kind] = cls({**{k: v for k, v in item.items() if k != "oneOf"}, "oneOf": [branch]})
    if not kinds:
        return lambda result: False
    outer = cls({**schema, "properties": {**schema["properties"],
                                          "events": {k: v for k, v in events.items() if k != "items"}}})

    def check(result: Any) -> bool:
        if not outer.is_valid(result):
            return False
        for event in (result.get("events") or []) if isinstance(result, dict) else []:
            kind = event.get("event") if isinstance(event, dict) else None
            validator = kinds.get(kind) if isinstance(kind, str) else None
            if validator is None or not validator.is_valid(event):
                return False
        return True

    return check


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
    shown_valid = _fast_action_result_check(schema, cls)

    def validate_action_result(self: RemoteAction, result: dict) -> bool:
        if shown_valid(result):
            return True
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


def _intent_payloads_without_nlu() -> None:
    """Parse a message that unpacks as an intent payload without running the NLU graph
    (see the module docstring): what the graph's last node would return for it."""
    from rasa.core.processor import MessageProcessor
    from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler
    from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
    from rasa.shared.nlu.training_data.message import Message

    run_graph = MessageProcessor._parse_message_with_graph
    # The graph's last node itself, given the model's domain as the graph gives it. It
    # returns the message it got unless the text unpacks; then a new message that is
    # the graph's whole result (nothing of the earlier nodes is kept).
    last_node = RegexMessageHandler()

    def parse(self: MessageProcessor, message: Any, tracker: Any, only_output_properties: bool = True
              ) -> dict[str, Any]:
        if message.text:
            plain = Message(data={TEXT: message.text})
            (unpacked,) = last_node.process([plain], self.domain)
            if unpacked is not plain:
                # The same assembly as MessageProcessor._parse_message_with_graph.
                parse_data: dict[str, Any] = {
                    TEXT: "", INTENT: {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, ENTITIES: []}
                parse_data.update(unpacked.as_dict(only_output_properties=only_output_properties))
                return parse_data
        return run_graph(self, message, tracker, only_output_properties)

    MessageProcessor._parse_message_with_graph = parse


def _freeze_after_model_load() -> None:
    """Wrap Rasa's start-up listener: load the model, then `gc.freeze` what is loaded (see
    the module docstring). Frozen objects are still freed by reference counting; only
    cycles among them stay, and a model's objects are loaded once per process."""
    import rasa.core.run

    load = rasa.core.run.load_agent_on_start

    async def load_then_freeze(*args: Any, **kwargs: Any) -> Any:
        agent = await load(*args, **kwargs)
        gc.collect()  # the garbage of loading is freed, not frozen
        gc.freeze()
        return agent

    # rasa.core.run.serve_application looks the listener up in its module at call time.
    rasa.core.run.load_agent_on_start = load_then_freeze


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
    _intent_payloads_without_nlu()
    _freeze_after_model_load()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    sys.exit(main())

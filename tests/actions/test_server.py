"""The action server's app factory (actions/server.py; the token check itself is tested
on the real process in tests/security/test_rasa_and_action_server.py)."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from actions import knowledge_cache, server


def _tracked(thing: object) -> bool:
    return any(candidate is thing for candidate in gc.get_objects())


def test_the_app_is_made_with_the_knowledge_loaded_and_kept_out_of_garbage_collection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each full collection walked what start-up loaded (~11 ms, GIL held, in a turn);
    frozen, the collector skips it and still collects what a turn makes."""
    monkeypatch.setattr(knowledge_cache, "_engine", None)
    made: list[tuple[tuple[Any, ...], dict[str, Any], Any]] = []

    def create_app(*args: Any, **kwargs: Any) -> Any:
        app = {"routes": [["/webhook"]]}  # containers the collector tracks
        made.append((args, kwargs, app))
        return app

    gc.unfreeze()  # as before any start-up in this test process
    app = server.serving(create_app, token="")("actions", cors_origins="*")
    assert made == [(("actions",), {"cors_origins": "*"}, app)]
    engine = knowledge_cache._engine
    assert engine is not None  # loaded now, not in the first turn
    assert not _tracked(app) and not _tracked(app["routes"]) and not _tracked(engine)
    turn = {"made": ["by a turn"]}
    assert _tracked(turn)

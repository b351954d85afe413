"""The knowledge base and engine, loaded once per action-server process.

Loading validates every YAML file, which is far too slow to repeat for each
message; it happens lazily on first use so that importing the package (and
``rasa run actions`` listing the actions) never depends on it.
"""

from __future__ import annotations

import threading

from actions.engine import ProtocolEngine
from knowledge import Knowledge, load_knowledge

_lock = threading.Lock()
_engine: ProtocolEngine | None = None


def get_engine() -> ProtocolEngine:
    """The process-wide engine over the package's knowledge files."""
    global _engine
    if _engine is None:
        with _lock:
            if _engine is None:
                _engine = ProtocolEngine(load_knowledge())
    return _engine


def get_knowledge() -> Knowledge:
    return get_engine().knowledge


def set_knowledge(knowledge: Knowledge | None) -> None:
    """Replace (or, with None, forget) the cached knowledge; used by tests."""
    global _engine
    with _lock:
        _engine = ProtocolEngine(knowledge) if knowledge is not None else None

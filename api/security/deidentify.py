"""De-identification of free text before it is stored (``deduce``, Dutch).

``deidentify(text)`` replaces names, places, institutions, dates, ages, phone
numbers, e-mail addresses, URLs and BSN/ID numbers with tags such as
``[PERSOON-1]`` or ``[TELEFOONNUMMER-1]``. ``deduce`` (UMC Utrecht, MIT licence) ships
its lookup lists in the package: nothing is downloaded. Its first use after
installation builds a lookup cache inside the package (about a minute, once);
later starts take a few seconds, so the instance is built lazily, once per process.
With several API workers (``python -m api.serve``) deduce lives in ONE shared
process instead (``api.security.deidentify_server``, ``COA_DEIDENTIFY_SOCKET``): a
worker that cannot reach it raises ``DeidentificationUnavailable`` (503), so no
text is ever stored without de-identification.

A small extra pass catches international phone notation (``+31 6 1234 5678``) and
e-mail addresses that deduce's Dutch patterns leave alone.

What goes through it (``SECURITY.md``): review notes, free-text answers of
``text`` steps in session events and in incident steps. Question, advice and
outcome texts come from the knowledge files and are stored as they are; yes/no,
choice and number answers are not free text.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from typing import Any

from api.security.deidentify_server import _HEADER, keep_out_of_collection, read_exact

_lock = threading.Lock()
_deduce: Any = None
_local = threading.local()

#: Set by ``api.serve``: de-identify in the one shared process on this Unix socket
#: instead of loading deduce (~1 GB) into every worker.
SOCKET_ENV = "COA_DEIDENTIFY_SOCKET"
_TIMEOUT_SECONDS = 30.0

_EXTRA = [
    (re.compile(r"(?<![\w+])\+\d{1,3}[\s\-.]?(?:\(0\))?[\s\-.]?\d(?:[\s\-.]?\d){6,11}(?!\w)"), "[TELEFOONNUMMER]"),
    (re.compile(r"(?<!\w)0\d(?:[\s\-.]?\d){8}(?!\w)"), "[TELEFOONNUMMER]"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[EMAIL]"),
]


class DeidentificationUnavailable(RuntimeError):
    """The shared de-identification process did not answer: store nothing (503)."""


def _instance() -> Any:
    global _deduce
    if _deduce is None:
        with _lock:
            if _deduce is None:
                from deduce import Deduce

                _deduce = Deduce()
    return _deduce


def _ask(path: str, text: str) -> str:
    """One round trip on this thread's connection (opened on first use, reopened once)."""
    body = text.encode("utf-8")
    for attempt in range(2):
        conn = getattr(_local, "conn", None)
        try:
            if conn is None:
                conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                conn.settimeout(_TIMEOUT_SECONDS)
                conn.connect(path)
                _local.conn = conn
            conn.sendall(_HEADER.pack(len(body)) + body)
            status = read_exact(conn, 1)[0]
            (size,) = _HEADER.unpack(read_exact(conn, _HEADER.size))
            reply = read_exact(conn, size).decode("utf-8")
        except OSError as exc:
            _local.conn = None
            if conn is not None:
                conn.close()
            if attempt:
                raise DeidentificationUnavailable(f"de-identification process unreachable: {exc}") from exc
            continue
        if status != 0:
            raise DeidentificationUnavailable(f"de-identification failed: {reply}")
        return reply
    raise AssertionError("unreachable")


def _core(text: str) -> str:
    path = os.environ.get(SOCKET_ENV)
    if path:
        return _ask(path, text)
    return _instance().deidentify(text).deidentified_text


def deidentify(text: str | None) -> str | None:
    """The text with personal data replaced by tags; None and "" unchanged.
    Raises ``DeidentificationUnavailable`` rather than return text it could not check."""
    if text is None or not text.strip():
        return text
    result = _core(text)
    for pattern, tag in _EXTRA:
        result = pattern.sub(tag, result)
    return result


def warm_up(timeout: float = 300.0) -> None:
    """Load deduce now (API start-up), not on the first stored note; with a shared
    process, wait until it answers. Then keep what start-up loaded out of garbage
    collection: deduce's tables in a single process; in a worker of ``api.serve`` its
    modules, models and knowledge (~170,000 objects, a ~77 ms full collection in the
    middle of an incident write; bench/results.md)."""
    path = os.environ.get(SOCKET_ENV)
    if not path:
        _instance()
        keep_out_of_collection()
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            _ask(path, "warm-up")
            break
        except DeidentificationUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    keep_out_of_collection()


#: Session event types whose ``text`` may carry what someone typed (not a knowledge text).
FREE_TEXT_EVENT_TYPES = frozenset({"answer_given", "lookup_answered", "error"})


def is_free_text_step(knowledge: Any, protocol_id: str, step_id: str | None) -> bool:
    """True for a ``text`` step, and for a step the protocol does not know (safe side)."""
    protocol = knowledge.guide(protocol_id)
    step = protocol.steps.get(step_id) if protocol is not None and step_id else None
    return step is None or step.kind == "text"


def free_text_answer(knowledge: Any, protocol_id: str, step_id: str | None, answer: Any) -> Any:
    """A string answer to a free-text step de-identified; any other answer unchanged."""
    if isinstance(answer, str) and is_free_text_step(knowledge, protocol_id, step_id):
        return deidentify(answer)
    return answer

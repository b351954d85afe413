"""De-identification of free text before it is stored (``deduce``, Dutch).

``deidentify(text)`` replaces names, places, institutions, dates, ages, phone
numbers, e-mail addresses, URLs and BSN/ID numbers with tags such as
``[PERSOON-1]`` or ``[TELEFOONNUMMER-1]``. ``deduce`` (UMC Utrecht, MIT licence) ships
its lookup lists in the package: nothing is downloaded. Its first use after
installation builds a lookup cache inside the package (about a minute, once);
later starts take a few seconds, so the instance is built lazily, once per process.

A small extra pass catches international phone notation (``+31 6 1234 5678``) and
e-mail addresses that deduce's Dutch patterns leave alone.

What goes through it (``SECURITY.md``): review notes, free-text answers of
``text`` steps in session events and in incident steps. Question, advice and
outcome texts come from the knowledge files and are stored as they are; yes/no,
choice and number answers are not free text.
"""

from __future__ import annotations

import re
import threading
from typing import Any

_lock = threading.Lock()
_deduce: Any = None

_EXTRA = [
    (re.compile(r"(?<![\w+])\+\d{1,3}[\s\-.]?(?:\(0\))?[\s\-.]?\d(?:[\s\-.]?\d){6,11}(?!\w)"), "[TELEFOONNUMMER]"),
    (re.compile(r"(?<!\w)0\d(?:[\s\-.]?\d){8}(?!\w)"), "[TELEFOONNUMMER]"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[EMAIL]"),
]


def _instance() -> Any:
    global _deduce
    if _deduce is None:
        with _lock:
            if _deduce is None:
                from deduce import Deduce

                _deduce = Deduce()
    return _deduce


def deidentify(text: str | None) -> str | None:
    """The text with personal data replaced by tags; None and "" unchanged."""
    if text is None or not text.strip():
        return text
    result = _instance().deidentify(text).deidentified_text
    for pattern, tag in _EXTRA:
        result = pattern.sub(tag, result)
    return result


def warm_up() -> None:
    """Load deduce now (API start-up), not on the first stored note."""
    _instance()


#: Session event types whose ``text`` may carry what someone typed (not a knowledge text).
FREE_TEXT_EVENT_TYPES = frozenset({"answer_given", "lookup_answered", "error"})


def is_free_text_step(knowledge: Any, protocol_id: str, step_id: str | None) -> bool:
    """True for a ``text`` step, and for a step the protocol does not know (safe side)."""
    protocol = knowledge.protocols.get(protocol_id)
    step = protocol.steps.get(step_id) if protocol is not None and step_id else None
    return step is None or step.kind == "text"


def free_text_answer(knowledge: Any, protocol_id: str, step_id: str | None, answer: Any) -> Any:
    """A string answer to a free-text step de-identified; any other answer unchanged."""
    if isinstance(answer, str) and is_free_text_step(knowledge, protocol_id, step_id):
        return deidentify(answer)
    return answer

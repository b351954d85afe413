"""Recognising a COA location in what the counsellor typed or clicked.

The API is the source of truth for locations (admins manage them), so matching
works on its ``[{"code", "name", "aliases"}]`` list rather than on a list here.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from actions.understanding import normalise_text


def _key(text: str) -> str:
    # "Ter Apel", "ter-apel" and "TERAPEL" are one location.
    return normalise_text(text).replace(" ", "")


def _names(location: Mapping[str, Any]) -> list[str]:
    return [str(location.get("code") or ""), str(location.get("name") or ""),
            *(str(a) for a in location.get("aliases") or [])]


def match_location(text: str, locations: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The location that ``text`` names (code, name or alias, also inside a sentence)."""
    wanted = _key(text)
    if not wanted:
        return None
    by_key = {_key(name): loc for loc in locations for name in _names(loc) if _key(name)}
    if wanted in by_key:
        return by_key[wanted]
    # "in Ter Apel", "azc Budel": a name inside the message, longest name first
    # so that a short alias cannot shadow a longer one.
    padded = f" {normalise_text(text)} "
    names = sorted(((normalise_text(n), loc) for loc in locations for n in _names(loc) if n.strip()),
                   key=lambda item: -len(item[0]))
    for name, loc in names:
        if f" {name} " in padded:
            return loc
    close = difflib.get_close_matches(wanted, list(by_key), n=1, cutoff=0.85)
    return by_key[close[0]] if close else None


def location_name(code: str | None, locations: Sequence[Mapping[str, Any]] | None) -> str | None:
    """The display name of ``code``; the code itself when the list is unavailable."""
    if not code:
        return None
    for loc in locations or []:
        if loc.get("code") == code:
            return str(loc.get("name") or code)
    return code


def fallback_code(text: str) -> str | None:
    """A best-effort code when the API cannot be asked ("Ter Apel" -> "TERAPEL")."""
    key = _key(text).upper()
    return key or None

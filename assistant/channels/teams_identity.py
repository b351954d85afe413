"""Who the Teams user is, as far as the assistant needs to know.

Standard library + PyYAML only (imported by the end-to-end tests in the API
environment as well).

- ``staff_id``: a pseudonymous, stable id for a staff member, derived from the
  tenant and the user's Entra ID (Azure AD) object id with a secret salt:
  ``HMAC-SHA256(salt, "<tenant>:<aadObjectId>")``, first 16 hex characters. The raw
  object id never leaves the channel (it is not put into the tracker).
- ``StaffLocations``: the configured staff list aadObjectId -> location code and
  role (a YAML file, see ``staff_locations.example.yml``), re-read when the file
  changes. With a file configured it is also the allow-list: a Teams user who is
  not on it is refused (issue 14).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

logger = logging.getLogger(__name__)


def staff_id(salt: str, tenant: str | None, aad_object_id: str) -> str:
    """Pseudonymous staff id; the same person in the same tenant always gets the same id."""
    if not salt:
        raise ValueError("a staff id salt is required")
    message = f"{(tenant or '').strip().lower()}:{aad_object_id.strip().lower()}"
    return hmac.new(salt.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


#: Roles a Teams user may have in the assistant (the API's staff roles that chat).
CHAT_ROLES = frozenset({"counsellor", "contact_person", "supervisor"})
DEFAULT_ROLE = "counsellor"


@dataclass(frozen=True)
class StaffEntry:
    location: str
    role: str = DEFAULT_ROLE


def _entry(key: object, value: object, source: str) -> StaffEntry:
    if isinstance(value, str):
        value = {"location": value}
    if not isinstance(key, str) or not isinstance(value, dict):
        raise ValueError(f"{source}: entry {key!r}: expected '<aadObjectId>: <LOCATION>' or "
                         "'<aadObjectId>: {location: <LOCATION>, role: <role>}'")
    location, role = value.get("location"), value.get("role", DEFAULT_ROLE)
    if not isinstance(location, str) or not location.strip():
        raise ValueError(f"{source}: entry {key!r}: the location code must be text")
    if role not in CHAT_ROLES:
        raise ValueError(f"{source}: entry {key!r}: role must be one of {', '.join(sorted(CHAT_ROLES))}")
    return StaffEntry(location=location.strip().upper(), role=str(role))


def _parse(data: object, source: str) -> dict[str, StaffEntry]:
    """``{"staff": {"<aadObjectId>": "<LOCATION>" | {location, role}}}`` -> lower-cased id -> entry."""
    if data is None:
        return {}
    staff = data.get("staff") if isinstance(data, dict) else None
    if not isinstance(staff, dict):
        raise ValueError(f"{source}: expected a mapping 'staff: {{<aadObjectId>: <location code>}}'")
    return {str(key).strip().lower(): _entry(key, value, source) for key, value in staff.items()}


class StaffLocations:
    """aadObjectId -> location code and role from a YAML file; reloaded when its mtime changes.

    A missing or broken file is logged and treated as an empty list: with a file
    configured, nobody is then let in (the channel refuses with a clear message).
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path else None
        self._mapping: dict[str, StaffEntry] = {}
        self._mtime: float | None = None
        self._lock = threading.Lock()

    @property
    def is_allow_list(self) -> bool:
        """A configured file lists everyone who may use the bot (a missing or broken
        file then refuses everyone: fail safe)."""
        return self.path is not None

    def entry_for(self, aad_object_id: str | None) -> StaffEntry | None:
        if not aad_object_id or self.path is None:
            return None
        self._reload_if_changed()
        return self._mapping.get(aad_object_id.strip().lower())

    def location_for(self, aad_object_id: str | None) -> str | None:
        entry = self.entry_for(aad_object_id)
        return entry.location if entry else None

    def _reload_if_changed(self) -> None:
        assert self.path is not None
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            if self._mtime is not None or not self._mapping:
                logger.warning("staff locations file %s not readable; no locations from Teams", self.path)
            self._mapping, self._mtime = {}, None
            return
        if mtime == self._mtime:
            return
        with self._lock:
            try:
                mapping = _parse(yaml.safe_load(self.path.read_text(encoding="utf-8")), str(self.path))
            except (OSError, ValueError, yaml.YAMLError) as error:
                logger.error("staff locations file %s ignored: %s", self.path, error)
                mapping = {}
            self._mapping, self._mtime = mapping, mtime

"""Who the Teams user is, as far as the assistant needs to know.

Standard library + PyYAML only (imported by the end-to-end tests in the API
environment as well).

- ``staff_id``: a pseudonymous, stable id for a staff member, derived from the
  tenant and the user's Entra ID (Azure AD) object id with a secret salt:
  ``HMAC-SHA256(salt, "<tenant>:<aadObjectId>")``, first 16 hex characters. The raw
  object id never leaves the channel (it is not put into the tracker).
- ``StaffLocations``: the configured mapping aadObjectId -> location code (a YAML
  file, see ``staff_locations.example.yml``), re-read when the file changes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
from pathlib import Path

import yaml

logger = logging.getLogger(__name__)


def staff_id(salt: str, tenant: str | None, aad_object_id: str) -> str:
    """Pseudonymous staff id; the same person in the same tenant always gets the same id."""
    if not salt:
        raise ValueError("a staff id salt is required")
    message = f"{(tenant or '').strip().lower()}:{aad_object_id.strip().lower()}"
    return hmac.new(salt.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def _parse(data: object, source: str) -> dict[str, str]:
    """``{"staff": {"<aadObjectId>": "<LOCATION>"}}`` -> lower-cased id -> upper-cased code."""
    if data is None:
        return {}
    staff = data.get("staff") if isinstance(data, dict) else None
    if not isinstance(staff, dict):
        raise ValueError(f"{source}: expected a mapping 'staff: {{<aadObjectId>: <location code>}}'")
    result: dict[str, str] = {}
    for key, value in staff.items():
        if not isinstance(key, str) or not isinstance(value, str) or not value.strip():
            raise ValueError(f"{source}: entry {key!r}: both the object id and the location code must be text")
        result[key.strip().lower()] = value.strip().upper()
    return result


class StaffLocations:
    """aadObjectId -> location code from a YAML file; reloaded when its mtime changes.

    A missing or broken file is logged and treated as an empty mapping (the
    assistant then asks for the location), never as a reason to drop messages.
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path else None
        self._mapping: dict[str, str] = {}
        self._mtime: float | None = None
        self._lock = threading.Lock()

    def location_for(self, aad_object_id: str | None) -> str | None:
        if not aad_object_id or self.path is None:
            return None
        self._reload_if_changed()
        return self._mapping.get(aad_object_id.strip().lower())

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

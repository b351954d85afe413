"""Load and validate the protocol -> IBIS category mapping (``knowledge/ibis_mapping.yml``).

A separate module from ``knowledge.loader``, like the norms: the mapping is about
exporting recorded decisions, not about the protocol graphs. Checked against a loaded
``Knowledge``: every protocol and every neutral record category needs exactly one
IBIS category, so a new protocol cannot be exported without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .loader import PACKAGE_DIR, read_yaml
from .model import Knowledge, KnowledgeError

IBIS_FILE = PACKAGE_DIR / "ibis_mapping.yml"
_FIELDS = {"category", "check"}
_MAX_CATEGORY = 120


@dataclass(frozen=True)
class IbisCategory:
    """The IBIS category a record id (protocol or neutral category) is registered under."""

    record_id: str
    category: str
    #: True while nobody who knows IBIS confirmed it: shown with "verifiëren".
    check: bool


def load_ibis_mapping(knowledge: Knowledge, path: Path | str | None = None) -> dict[str, IbisCategory]:
    """Record id -> IBIS category; KnowledgeError naming the file and the id when broken."""
    path = Path(path) if path is not None else IBIS_FILE
    data = read_yaml(path)
    problems: list[str] = []
    if not isinstance(data, dict) or not isinstance(data.get("mappings"), dict):
        raise KnowledgeError(f"{path}: expected a mapping with 'source' and 'mappings'")
    if data.get("source") not in knowledge.sources:
        problems.append(f"source: unknown source key {data.get('source')!r}")
    mapping: dict[str, IbisCategory] = {}
    for record_id, entry in data["mappings"].items():
        where = f"mapping '{record_id}'"
        if not knowledge.is_record_id(str(record_id)):
            problems.append(f"{where}: not a protocol id or record category")
            continue
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected 'category' and 'check'")
            continue
        unknown = sorted(set(entry) - _FIELDS)
        if unknown:
            problems.append(f"{where}: unknown field(s) {', '.join(map(str, unknown))}")
        category, check = entry.get("category"), entry.get("check")
        if not isinstance(category, str) or not category.strip() or len(category) > _MAX_CATEGORY:
            problems.append(f"{where}: 'category' must be a text of 1 to {_MAX_CATEGORY} characters")
            continue
        if not isinstance(check, bool):
            problems.append(f"{where}: 'check' must be true or false (true: shown as 'verifiëren')")
            continue
        mapping[str(record_id)] = IbisCategory(record_id=str(record_id), category=category.strip(), check=check)
    missing = sorted((set(knowledge.protocols) | set(knowledge.categories)) - set(data["mappings"]))
    if missing:
        problems.append(f"no IBIS category for: {', '.join(missing)}")
    if problems:
        raise KnowledgeError(f"{path}: " + "; ".join(problems))
    return mapping

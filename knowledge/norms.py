"""Load and validate the minimum norms (``knowledge/norms.yml``).

A separate module from ``knowledge.loader`` on purpose: the norms are about the
recorded decisions and their review, not about the protocol graphs. Standard
library + PyYAML only (imported by both the API and the assistant environment).

A norm is data: an id, a Dutch title and description for supervisors, a source
(a key of ``sources.yml``) and a *rule* of one of the kinds in ``RULES`` with its
parameters. The API turns each rule into SQL (``api/indicators/norms_sql.py``);
a new norm of an existing rule kind needs no code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from .model import KnowledgeError

PACKAGE_DIR = Path(__file__).resolve().parent
NORMS_FILE = PACKAGE_DIR / "norms.yml"
SOURCES_FILE = PACKAGE_DIR / "sources.yml"

#: Review statuses a norm may refer to; the API's review workflow uses the same
#: values (tests/api/test_reviews.py checks that they agree).
REVIEW_STATUSES = ("nieuw", "in_behandeling", "correctie_gevraagd", "gecorrigeerd", "afgehandeld")

#: rule kind → (required parameters, optional parameters)
RULES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "referral_within_hours": (frozenset({"protocols", "referral", "hours"}), frozenset()),
    "referral_when_acute": (frozenset({"referral"}), frozenset({"protocols"})),
    "review_within_working_days": (frozenset({"status", "working_days"}), frozenset({"protocols"})),
}
_COMMON = frozenset({"id", "title", "description", "source", "rule"})
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class NormSource:
    key: str
    title: str
    url: str


@dataclass(frozen=True)
class Norm:
    id: str
    title: str
    description: str
    source: NormSource
    rule: str
    #: Protocols the norm applies to; empty = every protocol.
    protocols: tuple[str, ...] = ()
    referral: str | None = None
    hours: int | None = None
    status: str | None = None
    working_days: int | None = None


def _fail(path: Path, where: str, message: str) -> KnowledgeError:
    return KnowledgeError(f"{path.name}: {where}: {message}")


def _load_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except OSError as exc:
        raise KnowledgeError(f"{path.name}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"{path.name}: invalid YAML: {exc}") from exc


def _load_sources(path: Path) -> dict[str, NormSource]:
    data = _load_yaml(path)
    if not isinstance(data, dict):
        raise KnowledgeError(f"{path.name}: expected a mapping of source keys")
    sources = {}
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(value.get("title"), str) and isinstance(value.get("url"), str):
            sources[str(key)] = NormSource(key=str(key), title=value["title"], url=value["url"])
    return sources


def _positive_int(path: Path, where: str, value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _fail(path, where, f"'{name}' must be a positive whole number, got {value!r}")
    return value


def _id_list(path: Path, where: str, value: Any, name: str, known: set[str] | None) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise _fail(path, where, f"'{name}' must be a non-empty list of ids")
    if len(set(value)) != len(value):
        raise _fail(path, where, f"'{name}' has duplicates")
    if known is not None:
        unknown = sorted(set(value) - known)
        if unknown:
            raise _fail(path, where, f"unknown {name} {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return tuple(value)


def _parse_norm(
    path: Path,
    index: int,
    raw: Any,
    sources: dict[str, NormSource],
    protocols: set[str] | None,
    organisations: set[str] | None,
) -> Norm:
    where = f"norm #{index + 1}"
    if not isinstance(raw, dict):
        raise _fail(path, where, "expected a mapping")
    norm_id = raw.get("id")
    if not isinstance(norm_id, str) or not _ID.match(norm_id):
        raise _fail(path, where, f"'id' must be a lower-case identifier, got {norm_id!r}")
    where = f"norm '{norm_id}'"
    rule = raw.get("rule")
    if rule not in RULES:
        raise _fail(path, where, f"unknown rule {rule!r}; known: {', '.join(sorted(RULES))}")
    required, optional = RULES[rule]
    missing = sorted((_COMMON | required) - set(raw))
    if missing:
        raise _fail(path, where, f"missing field(s) {', '.join(missing)}")
    extra = sorted(set(raw) - _COMMON - required - optional)
    if extra:
        raise _fail(path, where, f"unknown field(s) {', '.join(extra)} for rule '{rule}'")
    for name in ("title", "description"):
        if not isinstance(raw[name], str) or not raw[name].strip():
            raise _fail(path, where, f"'{name}' must be a non-empty text")
    source = sources.get(raw["source"]) if isinstance(raw["source"], str) else None
    if source is None:
        raise _fail(path, where, f"unknown source {raw['source']!r} (not in sources.yml)")

    fields: dict[str, Any] = {}
    if "protocols" in raw:
        fields["protocols"] = _id_list(path, where, raw["protocols"], "protocols", protocols)
    if "referral" in raw:
        (fields["referral"],) = _id_list(path, where, [raw["referral"]], "referral", organisations)
    if "hours" in raw:
        fields["hours"] = _positive_int(path, where, raw["hours"], "hours")
    if "working_days" in raw:
        fields["working_days"] = _positive_int(path, where, raw["working_days"], "working_days")
    if "status" in raw:
        if raw["status"] not in REVIEW_STATUSES:
            raise _fail(path, where, f"unknown review status {raw['status']!r}; known: {', '.join(REVIEW_STATUSES)}")
        fields["status"] = raw["status"]
    return Norm(
        id=norm_id,
        title=raw["title"].strip(),
        description=" ".join(raw["description"].split()),
        source=source,
        rule=rule,
        **fields,
    )


def load_norms(
    path: Path | None = None,
    *,
    sources_path: Path | None = None,
    protocols: set[str] | None = None,
    organisations: set[str] | None = None,
) -> dict[str, Norm]:
    """The norms by id, in file order. ``protocols``/``organisations`` (known ids,
    e.g. from ``load_knowledge()``) are checked when given."""
    path = path or NORMS_FILE
    data = _load_yaml(path)
    if not isinstance(data, dict) or "norms" not in data or not isinstance(data["norms"], list):
        raise KnowledgeError(f"{path.name}: expected a mapping with the key 'norms' holding a list")
    extra = sorted(set(data) - {"norms", FOLLOW_UP_NORMS_KEY})
    if extra:
        raise KnowledgeError(f"{path.name}: unknown key(s) {', '.join(extra)}; known: norms, {FOLLOW_UP_NORMS_KEY}")
    sources = _load_sources(sources_path or SOURCES_FILE)
    norms: dict[str, Norm] = {}
    for index, raw in enumerate(data["norms"]):
        norm = _parse_norm(path, index, raw, sources, protocols, organisations)
        if norm.id in norms:
            raise _fail(path, f"norm '{norm.id}'", "duplicate id")
        norms[norm.id] = norm
    if not norms:
        raise KnowledgeError(f"{path.name}: no norms")
    return norms


# --- deadlines of follow-up actions (issue 15)

#: The section of norms.yml with the deadlines of the follow-up actions that a
#: decision asks for (``follow_ups`` in a protocol names one by id as ``norm``).
FOLLOW_UP_NORMS_KEY = "follow_up_norms"
_FOLLOW_UP_NORM_FIELDS = frozenset({"id", "title", "description", "source", "hours", "working_days"})


@dataclass(frozen=True)
class FollowUpNorm:
    """A deadline for a follow-up action: ``hours`` after the decision, or the end of
    the ``working_days``-th working day (Mon–Fri, UTC) after it."""

    id: str
    title: str
    description: str
    source: NormSource
    hours: int | None = None
    working_days: int | None = None

    def due_at(self, decided_at: datetime) -> datetime:
        """The deadline of an action asked for by a decision recorded at ``decided_at``."""
        if self.hours is not None:
            return decided_at + timedelta(hours=self.hours)
        assert self.working_days is not None
        # The same rule as the review norm (api/indicators/norms_sql.working_day_offsets):
        # the deadline is the end of the n-th working day after the day of the decision.
        day, counted = decided_at.date(), 0
        while counted < self.working_days:
            day += timedelta(days=1)
            if day.weekday() < 5:
                counted += 1
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=decided_at.tzinfo or timezone.utc)


def load_follow_up_norms(path: Path | None = None, *, sources_path: Path | None = None) -> dict[str, FollowUpNorm]:
    """The follow-up deadlines by id (``follow_up_norms:`` in norms.yml; empty when absent)."""
    path = path or NORMS_FILE
    data = _load_yaml(path)
    raw_list = data.get(FOLLOW_UP_NORMS_KEY, []) if isinstance(data, dict) else None
    if not isinstance(raw_list, list):
        raise KnowledgeError(f"{path.name}: '{FOLLOW_UP_NORMS_KEY}' must be a list")
    sources = _load_sources(sources_path or path.with_name(SOURCES_FILE.name))
    result: dict[str, FollowUpNorm] = {}
    for index, raw in enumerate(raw_list):
        where = f"follow-up norm #{index + 1}"
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not _ID.match(raw["id"]):
            raise _fail(path, where, "expected a mapping with a lower-case 'id'")
        where = f"follow-up norm '{raw['id']}'"
        extra = sorted(set(raw) - _FOLLOW_UP_NORM_FIELDS)
        if extra:
            raise _fail(path, where, f"unknown field(s) {', '.join(extra)}")
        for name in ("title", "description"):
            if not isinstance(raw.get(name), str) or not raw[name].strip():
                raise _fail(path, where, f"'{name}' must be a non-empty text")
        source = sources.get(raw.get("source")) if isinstance(raw.get("source"), str) else None
        if source is None:
            raise _fail(path, where, f"unknown source {raw.get('source')!r} (not in sources.yml)")
        if ("hours" in raw) == ("working_days" in raw):
            raise _fail(path, where, "give exactly one of 'hours' and 'working_days'")
        name = "hours" if "hours" in raw else "working_days"
        if raw["id"] in result:
            raise _fail(path, where, "duplicate id")
        result[raw["id"]] = FollowUpNorm(
            id=raw["id"], title=raw["title"].strip(), description=" ".join(raw["description"].split()),
            source=source, **{name: _positive_int(path, where, raw[name], name)},
        )
    return result

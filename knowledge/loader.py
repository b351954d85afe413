"""Load and validate the knowledge files (sources, organisations, protocols).

Every problem is reported as a KnowledgeError whose message names the file
and the step (or organisation / source) concerned; a protocol that breaks a
safety invariant (knowledge.invariants) is refused as well.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from . import invariants
from .model import (
    ANY,
    NO,
    NUMBER_UNITS,
    QUESTION_KINDS,
    STEP_KINDS,
    YES,
    Definition,
    FollowUp,
    GiveWay,
    KeyPosition,
    Knowledge,
    KnowledgeError,
    Location,
    NumberRange,
    Option,
    Organisation,
    Privacy,
    Protocol,
    RecordCategory,
    Reference,
    ReferenceItem,
    Source,
    Step,
)
from .norms import load_follow_up_norms

PACKAGE_DIR = Path(__file__).resolve().parent

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_PHONE = re.compile(r"^[0-9][0-9 \-]{1,14}[0-9]$")
_LOCATION_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_REFERENCE_PREFIX = re.compile(r"^[A-Z]{2,6}$")
#: A protocol's intent examples may live next to it in ``<id>.nlu.yml``.
NLU_SUFFIX = ".nlu.yml"
#: Too few examples and the intent classifier cannot learn the protocol.
MIN_INTENT_EXAMPLES = 10

_PROTOCOL_FIELDS = {
    "id",
    "version",
    "title",
    "summary",
    "intent",
    "start",
    "steps",
    "required_referrals",
    "forbidden_advice",
    "privacy",
    "reference_prefix",
    "signal_phrases",
    "intent_examples",
    "follow_ups",
    "gives_way",
    "danger_phrases",
    "acute_step",
}
_GIVE_WAY_FIELDS = {"protocol", "when", "text", "source"}
_FOLLOW_UP_FIELDS = {"id", "action", "organisation", "norm"}
_PRIVACY_FIELDS = {"consent_step", "category", "neutral_steps", "revealing_referrals"}
_CATEGORY_FIELDS = {"id", "title", "reference_prefix"}
_STEP_FIELDS = {
    "id",
    "kind",
    "text",
    "help",
    "source",
    "options",
    "next",
    "ranges",
    "acute_answers",
    "referrals",
    "actions",
    "key_positions",
    "verify",
    "outcome",
    "title",
    "recorded_only_if",
    "unknown",
    "unit",
    "round",
    "hand_over",
}
OUTCOME_TITLE_MAX = 80
_OPTION_FIELDS = {"value", "label", "synonyms", "next", "min_age", "max_age"}
_RANGE_FIELDS = {"min", "max", "next"}
_ORGANISATION_FIELDS = {
    "id",
    "name",
    "description",
    "phone",
    "phone_note",
    "website",
    "source",
    "verify",
    "when",
    "aliases",
    "round_the_clock",
}
_REFERENCE_FIELDS = {"id", "title", "summary", "source", "steps", "afwegingskader", "definitions", "phrases"}
_REFERENCE_ITEM_FIELDS = {"number", "title", "text", "source"}
_DEFINITION_FIELDS = {"term", "text", "source"}


# --- YAML: safe, no duplicate keys, and no YAML 1.1 "yes/no/on/off" booleans


class _Loader(yaml.SafeLoader):
    pass


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _mapping_without_duplicates(loader: _Loader, node: yaml.MappingNode, deep: bool = False):
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; syntax errors and duplicate keys become KnowledgeError."""
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_Loader)  # a SafeLoader subclass
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"{path}: invalid YAML: {exc}") from exc


# --- small field readers that collect problems instead of raising


class _Problems:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{self.path}: {where}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            raise KnowledgeError("\n".join(self.items))


def _text(data: Mapping, name: str, where: str, problems: _Problems, required: bool = True) -> str:
    value = data.get(name)
    if value is None:
        if required:
            problems.add(where, f"missing '{name}'")
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        problems.add(where, f"'{name}' must be a non-empty string")
        return ""
    return value.strip()


def _optional_text(data: Mapping, name: str, where: str, problems: _Problems) -> str | None:
    return _text(data, name, where, problems, required=False) or None


def _str_list(data: Mapping, name: str, where: str, problems: _Problems) -> tuple[str, ...]:
    value = data.get(name, [])
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        problems.add(where, f"'{name}' must be a list of strings")
        return ()
    if len(set(value)) != len(value):
        problems.add(where, f"'{name}' has duplicates")
    return tuple(v.strip() for v in value)


def _bool(data: Mapping, name: str, where: str, problems: _Problems) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        problems.add(where, f"'{name}' must be true or false")
        return False
    return value


def _unknown_fields(data: Mapping, allowed: set[str], where: str, problems: _Problems) -> None:
    for name in data:
        if name not in allowed:
            problems.add(where, f"unknown field '{name}'")


def _source(data: Mapping, where: str, sources: Mapping[str, Source], problems: _Problems) -> Source | None:
    key = data.get("source")
    if not key:
        problems.add(where, "missing 'source'")
        return None
    if not isinstance(key, str) or key not in sources:
        problems.add(where, f"unknown source '{key}'")
        return None
    return sources[key]


# --- sources and organisations


def load_sources(path: Path) -> dict[str, Source]:
    """``sources.yml``: a mapping key -> {title, url}."""
    path = Path(path)
    data = read_yaml(path)
    problems = _Problems(path)
    if not isinstance(data, dict) or not data:
        raise KnowledgeError(f"{path}: expected a mapping of source keys")
    result: dict[str, Source] = {}
    for key, entry in data.items():
        where = f"source '{key}'"
        if not isinstance(key, str) or not _ID.match(key):
            problems.add(where, "key must be lower_snake_case")
            continue
        if not isinstance(entry, dict):
            problems.add(where, "expected a mapping with title and url")
            continue
        _unknown_fields(entry, {"title", "url"}, where, problems)
        title = _text(entry, "title", where, problems)
        url = _text(entry, "url", where, problems)
        result[key] = Source(key=key, title=title, url=url)
    problems.raise_if_any()
    return result


def load_organisations(path: Path, sources: Mapping[str, Source]) -> dict[str, Organisation]:
    """``organisations.yml``: ``organisations:`` list of organisation mappings."""
    path = Path(path)
    data = read_yaml(path)
    problems = _Problems(path)
    entries = data.get("organisations") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise KnowledgeError(f"{path}: expected 'organisations:' with a list of organisations")
    result: dict[str, Organisation] = {}
    for index, entry in enumerate(entries):
        org_id = entry.get("id") if isinstance(entry, dict) else None
        where = f"organisation '{org_id or f'#{index + 1}'}'"
        if not isinstance(entry, dict):
            problems.add(where, "expected a mapping")
            continue
        if not isinstance(org_id, str) or not _ID.match(org_id):
            problems.add(where, "missing or invalid 'id' (lower_snake_case)")
            continue
        if org_id in result:
            problems.add(where, "duplicate organisation id")
            continue
        _unknown_fields(entry, _ORGANISATION_FIELDS, where, problems)
        phone = _optional_text(entry, "phone", where, problems)
        if phone and not _PHONE.match(phone):
            problems.add(where, f"phone '{phone}' is not a phone number")
        source = _source(entry, where, sources, problems)
        org = Organisation(
            id=org_id,
            name=_text(entry, "name", where, problems),
            description=_text(entry, "description", where, problems),
            phone=phone,
            website=_optional_text(entry, "website", where, problems),
            source=source,  # type: ignore[arg-type]  # None only when refused below
            verify=_bool(entry, "verify", where, problems),
            phone_note=_optional_text(entry, "phone_note", where, problems),
            when=_optional_text(entry, "when", where, problems),
            aliases=_str_list(entry, "aliases", where, problems),
            round_the_clock=_bool(entry, "round_the_clock", where, problems),
        )
        if org.phone_note and not org.phone:
            problems.add(where, "'phone_note' without 'phone'")
        if org.round_the_clock and not org.phone:
            problems.add(where, "'round_the_clock' without 'phone': out of hours the chat names the number")
        result[org_id] = org
    problems.raise_if_any()
    return result


# --- key positions and locations


def _phrases(entry: Mapping, name: str, where: str, problems: _Problems) -> tuple[str, ...]:
    return tuple(" ".join(p.split()) for p in _str_list(entry, name, where, problems))


def load_key_positions(path: Path) -> dict[str, KeyPosition]:
    """``key_positions.yml``: ``key_positions:`` list of ``{id, label, phrases}``, in order."""
    path = Path(path)
    data = read_yaml(path)
    problems = _Problems(path)
    entries = data.get("key_positions") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise KnowledgeError(f"{path}: expected 'key_positions:' with a list of key positions")
    result: dict[str, KeyPosition] = {}
    for index, entry in enumerate(entries):
        position_id = entry.get("id") if isinstance(entry, dict) else None
        where = f"key position '{position_id or f'#{index + 1}'}'"
        if not isinstance(entry, dict) or not isinstance(position_id, str) or not _ID.match(position_id):
            problems.add(where, "expected a mapping with a lower_snake_case 'id'")
            continue
        if position_id in result:
            problems.add(where, "duplicate key position id")
            continue
        _unknown_fields(entry, {"id", "label", "phrases"}, where, problems)
        result[position_id] = KeyPosition(id=position_id, label=_text(entry, "label", where, problems),
                                          phrases=_phrases(entry, "phrases", where, problems))
    problems.raise_if_any()
    return result


def load_locations(path: Path) -> dict[str, Location]:
    """``locations.yml``: ``locations:`` list of ``{code, name, aliases}``."""
    path = Path(path)
    data = read_yaml(path)
    problems = _Problems(path)
    entries = data.get("locations") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise KnowledgeError(f"{path}: expected 'locations:' with a list of locations")
    result: dict[str, Location] = {}
    for index, entry in enumerate(entries):
        code = entry.get("code") if isinstance(entry, dict) else None
        where = f"location '{code or f'#{index + 1}'}'"
        if not isinstance(entry, dict) or not isinstance(code, str) or not _LOCATION_CODE.match(code):
            problems.add(where, "expected a mapping with an upper-case 'code'")
            continue
        if code in result:
            problems.add(where, "duplicate location code")
            continue
        _unknown_fields(entry, {"code", "name", "aliases"}, where, problems)
        result[code] = Location(code=code, name=_text(entry, "name", where, problems),
                                aliases=_phrases(entry, "aliases", where, problems))
    problems.raise_if_any()
    return result


_PACKAGE_KEY_POSITIONS = load_key_positions(PACKAGE_DIR / "key_positions.yml")
#: The key-position ids of this package's ``key_positions.yml``, safety first.
KEY_POSITIONS: tuple[str, ...] = tuple(_PACKAGE_KEY_POSITIONS)
#: Their Dutch names as used inside a sentence.
KEY_POSITION_LABELS: dict[str, str] = {p.id: p.label for p in _PACKAGE_KEY_POSITIONS.values()}


# --- protocols


def _next_map(raw: Any, where: str, problems: _Problems) -> dict[str, str]:
    if raw is None:
        return {}
    if isinstance(raw, str):
        return {ANY: raw}
    if isinstance(raw, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        return dict(raw)
    problems.add(where, "'next' must be a step id or a mapping answer -> step id")
    return {}


def _options(raw: dict, next_map: dict[str, str], where: str, problems: _Problems) -> tuple[Option, ...]:
    entries = raw.get("options")
    if not isinstance(entries, list) or not entries:
        problems.add(where, "a choice needs a non-empty 'options' list")
        return ()
    options: list[Option] = []
    for entry in entries:
        if isinstance(entry, str):
            entry = {"value": entry}
        if not isinstance(entry, dict):
            problems.add(where, f"option {entry!r} must be a mapping")
            continue
        value = entry.get("value")
        if not isinstance(value, str) or not _ID.match(value):
            problems.add(where, f"option value {value!r} must be lower_snake_case")
            continue
        _unknown_fields(entry, _OPTION_FIELDS, f"{where}: option '{value}'", problems)
        if any(o.value == value for o in options):
            problems.add(where, f"duplicate option '{value}'")
            continue
        if "next" in entry:
            if not isinstance(entry["next"], str):
                problems.add(where, f"option '{value}': 'next' must be a step id")
            elif value in next_map and next_map[value] != entry["next"]:
                problems.add(where, f"option '{value}': two different next steps")
            else:
                next_map[value] = entry["next"]
        if value not in next_map:
            problems.add(where, f"option '{value}' has no next step")
        label = entry.get("label", value.replace("_", " ").capitalize())
        synonyms = _str_list(entry, "synonyms", f"{where}: option '{value}'", problems)
        ages = {}
        for bound in ("min_age", "max_age"):
            if bound in entry:
                age = entry[bound]
                if isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= 120:
                    problems.add(where, f"option '{value}': '{bound}' must be a whole number of years (0-120)")
                else:
                    ages[bound] = age
        if ages.get("min_age", 0) > ages.get("max_age", 120):
            problems.add(where, f"option '{value}': 'min_age' is above 'max_age'")
        options.append(Option(value=value, label=str(label), synonyms=synonyms, **ages))
    for key in next_map:
        if key not in {o.value for o in options}:
            problems.add(where, f"'next' names '{key}', which is not an option")
    return tuple(options)


def _int_or_none(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def _ranges(raw: dict, where: str, problems: _Problems) -> tuple[NumberRange, ...]:
    entries = raw.get("ranges")
    if not isinstance(entries, list) or not entries:
        problems.add(where, "a number question needs a non-empty 'ranges' list")
        return ()
    ranges: list[NumberRange] = []
    for entry in entries:
        if not isinstance(entry, dict):
            problems.add(where, f"range {entry!r} must be a mapping")
            continue
        _unknown_fields(entry, _RANGE_FIELDS, f"{where}: range", problems)
        low, high, target = entry.get("min"), entry.get("max"), entry.get("next")
        if not (_int_or_none(low) and _int_or_none(high)):
            problems.add(where, f"range {entry!r}: min and max must be whole numbers")
            continue
        if low is not None and high is not None and low > high:
            problems.add(where, f"range {entry!r}: min is above max")
            continue
        if not isinstance(target, str) or not target:
            problems.add(where, f"range {entry!r} has no next step")
            continue
        ranges.append(NumberRange(min=low, max=high, next=target))
    ordered = sorted(ranges, key=lambda r: float("-inf") if r.min is None else r.min)
    for before, after in pairwise(ordered):
        if before.max is None or after.min is None or after.min <= before.max:
            problems.add(where, f"ranges overlap around {after.min}")
        elif after.min != before.max + 1:
            problems.add(where, f"no next step for {before.max + 1}..{after.min - 1} (gap in ranges)")
    return tuple(ranges)


def _step(
    raw: Any,
    index: int,
    organisations: Container[str],
    sources: Mapping[str, Source],
    problems: _Problems,
    known_positions: Container[str] = KEY_POSITIONS,
) -> Step | None:
    if not isinstance(raw, dict):
        problems.add(f"step #{index + 1}", "expected a mapping")
        return None
    step_id = raw.get("id")
    if not isinstance(step_id, str) or not _ID.match(step_id):
        problems.add(f"step #{index + 1} ({step_id!r})", "missing or invalid 'id' (lower_snake_case)")
        return None
    where = f"step '{step_id}'"
    _unknown_fields(raw, _STEP_FIELDS, where, problems)
    kind = raw.get("kind")
    if kind not in STEP_KINDS:
        problems.add(where, f"unknown kind {kind!r} (expected one of {', '.join(sorted(STEP_KINDS))})")
        return None
    text = _text(raw, "text", where, problems)
    help_text = _text(raw, "help", where, problems, required=kind in QUESTION_KINDS)
    source = _source(raw, where, sources, problems)
    next_map = _next_map(raw.get("next"), where, problems)
    options: tuple[Option, ...] = ()
    ranges: tuple[NumberRange, ...] = ()

    if kind != "choice" and "options" in raw:
        problems.add(where, "'options' only belong to a choice")
    if kind != "number" and "ranges" in raw:
        problems.add(where, "'ranges' only belong to a number question")
    for name in ("unknown", "unit", "round"):
        if kind != "number" and name in raw:
            problems.add(where, f"'{name}' only belongs to a number question")
    if kind == "yes_no":
        for answer in (YES, NO):
            if answer not in next_map:
                problems.add(where, f"yes/no question without next step for '{answer}'")
        for answer in next_map:
            if answer not in (YES, NO):
                problems.add(where, f"yes/no answer '{answer}' must be 'ja' or 'nee'")
    elif kind == "choice":
        options = _options(raw, next_map, where, problems)
    elif kind == "number":
        if next_map:
            problems.add(where, "a number question uses 'ranges', not 'next'")
        ranges = _ranges(raw, where, problems)
    elif kind in ("text", "instruction"):
        if set(next_map) != {ANY}:
            problems.add(where, f"{kind} step needs one 'next' step id")
            next_map = {ANY: next_map[ANY]} if ANY in next_map else {}
    elif kind == "outcome" and next_map:
        problems.add(where, "an outcome has no 'next'")

    acute = _str_list(raw, "acute_answers", where, problems)
    valid = {YES, NO} if kind == "yes_no" else {o.value for o in options}
    for answer in acute:
        if kind not in ("yes_no", "choice"):
            problems.add(where, "'acute_answers' only on yes/no and choice questions")
            break
        if answer not in valid:
            problems.add(where, f"acute answer '{answer}' is not an answer of this step")

    referrals = _str_list(raw, "referrals", where, problems)
    for org in referrals:
        if org not in organisations:
            problems.add(where, f"unknown organisation '{org}'")
    key_positions = _str_list(raw, "key_positions", where, problems)
    for position in key_positions:
        if position not in known_positions:
            problems.add(where, f"unknown key position '{position}'")
    outcome = _optional_text(raw, "outcome", where, problems)
    if kind == "outcome" and not outcome:
        problems.add(where, "an outcome needs an 'outcome' code")
    if kind != "outcome" and outcome:
        problems.add(where, "'outcome' code on a step that is not an outcome")
    title = _optional_text(raw, "title", where, problems)
    if kind == "outcome" and not title:
        problems.add(where, "an outcome needs a short 'title' (what the decision lists show)")
    if kind != "outcome" and title:
        problems.add(where, "'title' on a step that is not an outcome")
    if title and len(title) > OUTCOME_TITLE_MAX:
        problems.add(where, f"an outcome's title is at most {OUTCOME_TITLE_MAX} characters (it fits a table column)")
    if source is None:
        return None
    return Step(
        id=step_id,
        kind=kind,
        text=text,
        help=help_text,
        source=source,
        options=options,
        next=next_map,
        ranges=ranges,
        acute_answers=frozenset(acute),
        referrals=referrals,
        actions=_str_list(raw, "actions", where, problems),
        key_positions=key_positions,
        verify=_bool(raw, "verify", where, problems),
        outcome=outcome,
        title=title,
        recorded_only_if=_optional_text(raw, "recorded_only_if", where, problems),
        hand_over=_optional_text(raw, "hand_over", where, problems),
        **(_number_answers(raw, where, problems) if kind == "number" else {}),
    )


def _number_answers(raw: dict, where: str, problems: _Problems) -> dict[str, Any]:
    """``unknown`` (the step after "Weet ik niet"), ``unit`` and ``round`` of a number question."""
    unit = _optional_text(raw, "unit", where, problems)
    if unit is not None and unit not in NUMBER_UNITS:
        problems.add(where, f"unit '{unit}' is not one of {', '.join(sorted(NUMBER_UNITS))}")
    rounding = raw.get("round", "down")
    if rounding not in ("up", "down"):
        problems.add(where, f"round {rounding!r} must be 'up' or 'down'")
    return {"unknown": _optional_text(raw, "unknown", where, problems), "unit": unit,
            "round_up": rounding == "up"}


def _privacy(
    raw: Any,
    steps: Mapping[str, Step],
    organisations: Container[str],
    categories: Container[str] | None,
    problems: _Problems,
) -> Privacy | None:
    """The ``privacy`` block: what a record may keep without the resident's consent."""
    if raw is None:
        return None
    where = "privacy"
    if not isinstance(raw, dict):
        problems.add(where, "expected a mapping with consent_step, category, neutral_steps, revealing_referrals")
        return None
    _unknown_fields(raw, _PRIVACY_FIELDS, where, problems)
    consent = _text(raw, "consent_step", where, problems)
    if consent and (consent not in steps or steps[consent].kind != "yes_no"):
        problems.add(where, f"'consent_step' must name a yes/no step, not '{consent}'")
    category = _text(raw, "category", where, problems)
    # ``categories`` is None when one file is loaded on its own (no record_categories.yml).
    if category and categories is not None and category not in categories:
        problems.add(where, f"unknown record category '{category}' (see record_categories.yml)")
    neutral_steps = _str_list(raw, "neutral_steps", where, problems)
    for step_id in neutral_steps:
        if step_id not in steps:
            problems.add(where, f"neutral step '{step_id}' unknown")
        elif steps[step_id].recorded_only_if or steps[step_id].kind == "text":
            # Only closed answers that hold no special-category data may stand in a neutral record.
            problems.add(where, f"neutral step '{step_id}' is consent-gated or free text")
    revealing = _str_list(raw, "revealing_referrals", where, problems)
    for org in revealing:
        if org not in organisations:
            problems.add(where, f"revealing referral: unknown organisation '{org}'")
    return Privacy(consent_step=consent, category=category, neutral_steps=neutral_steps,
                   revealing_referrals=revealing)


def load_record_categories(path: Path) -> dict[str, RecordCategory]:
    """``record_categories.yml``: neutral categories an incident may be filed under."""
    if not path.exists():
        return {}
    data = read_yaml(path)
    problems = _Problems(path)
    raw = data.get("categories") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise KnowledgeError(f"{path}: categories: expected a list")
    categories: dict[str, RecordCategory] = {}
    for index, entry in enumerate(raw):
        where = f"category #{index + 1}"
        if not isinstance(entry, dict):
            problems.add(where, "expected a mapping with id, title and reference_prefix")
            continue
        _unknown_fields(entry, _CATEGORY_FIELDS, where, problems)
        category_id = _text(entry, "id", where, problems)
        if category_id and not _ID.match(category_id):
            problems.add(where, f"id '{category_id}' must be lower case letters, digits and _")
        prefix = _text(entry, "reference_prefix", where, problems)
        if prefix and not re.match(r"^[A-Z]{2,6}$", prefix):
            problems.add(where, f"reference_prefix '{prefix}' must be 2 to 6 capital letters")
        if category_id in categories:
            problems.add(where, f"duplicate category id '{category_id}'")
        categories[category_id] = RecordCategory(id=category_id, title=_text(entry, "title", where, problems),
                                                 reference_prefix=prefix)
    problems.raise_if_any()
    return categories


def _intent_examples(data: Mapping, path: Path, problems: _Problems) -> tuple[str, ...]:
    """``intent_examples`` in the protocol file, or ``examples`` in its sibling ``<id>.nlu.yml``."""
    sibling = path.with_name(path.stem + NLU_SUFFIX)
    if sibling.exists():
        if "intent_examples" in data:
            problems.add("protocol", f"intent examples both in the file and in {sibling.name}")
        extra = read_yaml(sibling)
        if not isinstance(extra, dict) or set(extra) != {"examples"}:
            problems.add("protocol", f"{sibling.name} must hold one key, 'examples' (a list of messages)")
            return ()
        data = extra
        name = "examples"
    else:
        name = "intent_examples"
    examples = tuple(e.strip() for e in _str_list(data, name, "protocol intent examples", problems))
    for example in examples:
        if "\n" in example:
            problems.add("protocol", f"intent example {example!r} spans several lines")
    return examples


def _follow_ups(raw: Any, organisations: Container[str], problems: _Problems) -> tuple[FollowUp, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add("follow_ups", "expected a list of {id, action, organisation?, norm}")
        return ()
    result: list[FollowUp] = []
    for index, entry in enumerate(raw):
        where = f"follow-up #{index + 1}"
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not _ID.match(entry["id"]):
            problems.add(where, "expected a mapping with a lower_snake_case 'id'")
            continue
        _unknown_fields(entry, _FOLLOW_UP_FIELDS, where, problems)
        organisation = _optional_text(entry, "organisation", where, problems)
        if organisation and organisation not in organisations:
            problems.add(where, f"unknown organisation '{organisation}'")
        if any(known.id == entry["id"] for known in result):
            problems.add(where, f"duplicate follow-up id '{entry['id']}'")
        # Every action gets a deadline; the id is checked against norms.yml by load_knowledge.
        norm = _text(entry, "norm", where, problems)
        result.append(FollowUp(id=entry["id"], action=_text(entry, "action", where, problems),
                               organisation=organisation, norm=norm))
    return tuple(result)


def _gives_way(raw: Any, sources: Mapping[str, Source], problems: _Problems) -> tuple[GiveWay, ...]:
    """The ``gives_way`` list; that each ``protocol`` is another known protocol is checked
    by load_knowledge, which knows them all."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add("gives_way", "expected a list of {protocol, when, text, source}")
        return ()
    result: list[GiveWay] = []
    for index, entry in enumerate(raw):
        where = f"gives_way #{index + 1}"
        if not isinstance(entry, dict):
            problems.add(where, "expected a mapping {protocol, when, text, source}")
            continue
        _unknown_fields(entry, _GIVE_WAY_FIELDS, where, problems)
        phrases = _phrases(entry, "when", where, problems)
        if not phrases:
            problems.add(where, "'when' must list at least one phrase")
        source = _source(entry, where, sources, problems)
        if source is not None:
            result.append(GiveWay(protocol=_text(entry, "protocol", where, problems), phrases=phrases,
                                  text=_text(entry, "text", where, problems), source=source))
    return tuple(result)


def load_protocol_file(
    path: Path | str,
    organisations: Container[str],
    sources: Mapping[str, Source],
    *,
    check_invariants: bool = True,
    categories: Container[str] | None = None,
    key_positions: Container[str] = KEY_POSITIONS,
) -> Protocol:
    """Load one protocol; refuse it (KnowledgeError naming file and step) when
    its structure is broken or, unless ``check_invariants`` is false, when it
    breaks a safety invariant."""
    path = Path(path)
    data = read_yaml(path)
    problems = _Problems(path)
    if not isinstance(data, dict):
        raise KnowledgeError(f"{path}: protocol: expected a mapping")
    where = "protocol"
    _unknown_fields(data, _PROTOCOL_FIELDS, where, problems)
    protocol_id = _text(data, "id", where, problems)
    if protocol_id and protocol_id != path.stem:
        problems.add(where, f"id '{protocol_id}' differs from the file name '{path.stem}'")
    version = data.get("version")
    if not isinstance(version, str) or not re.match(r"^\d+\.\d+\.\d+$", version):
        problems.add(where, "'version' must be a quoted string like \"1.0.0\"")
    required = _str_list(data, "required_referrals", where, problems)
    for org in required:
        if org not in organisations:
            problems.add(where, f"required referral: unknown organisation '{org}'")
    forbidden = _str_list(data, "forbidden_advice", where, problems)
    for advice in forbidden:
        if advice not in invariants.FORBIDDEN_ADVICE_PATTERNS:
            problems.add(where, f"unknown forbidden advice id '{advice}'")

    raw_steps = data.get("steps")
    steps: dict[str, Step] = {}
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.add(where, "'steps' must be a non-empty list")
        raw_steps = []
    for index, raw in enumerate(raw_steps):
        step = _step(raw, index, organisations, sources, problems, key_positions)
        if step is None:
            continue
        if step.id in steps:
            problems.add(f"step '{step.id}'", "duplicate step id")
            continue
        steps[step.id] = step
    start = _text(data, "start", where, problems)
    if start and steps and start not in steps:
        problems.add(f"step '{start}'", "start step unknown")
    for step in steps.values():
        targets = [r.next for r in step.ranges] + list(step.next.values()) + ([step.unknown] if step.unknown else [])
        for target in targets:
            if target not in steps:
                problems.add(f"step '{step.id}'", f"next step '{target}' unknown")
        consent = step.recorded_only_if
        if consent is not None and (consent not in steps or steps[consent].kind != "yes_no"):
            problems.add(f"step '{step.id}'", f"'recorded_only_if' must name a yes/no step, not '{consent}'")
    privacy = _privacy(data.get("privacy"), steps, organisations, categories, problems)
    prefix = _text(data, "reference_prefix", where, problems)
    if prefix and not _REFERENCE_PREFIX.match(prefix):
        problems.add(where, f"reference_prefix '{prefix}' must be 2 to 6 capital letters")
    examples = _intent_examples(data, path, problems)
    follow_ups = _follow_ups(data.get("follow_ups"), organisations, problems)
    gives_way = _gives_way(data.get("gives_way"), sources, problems)
    acute_step = _optional_text(data, "acute_step", where, problems)
    if acute_step is not None and (acute_step not in steps or steps[acute_step].kind != "instruction"
                                   or "112" not in steps[acute_step].text):
        problems.add(where, f"'acute_step' must name an instruction step that says 112, not '{acute_step}'")
    elif acute_step is not None:
        # The assistant says it as the 112 advice and then leaves it out of the instructions
        # that follow (actions.engine.pending_instructions): only an acute answer may lead there.
        for step in steps.values():
            leads = [r.next for r in step.ranges] + ([step.unknown] if step.unknown else [])
            leads += [target for value, target in step.next.items() if not step.is_acute(value)]
            if acute_step in leads:
                problems.add(f"step '{step.id}'", f"leads to the acute_step '{acute_step}' by an answer "
                                                  "that is not acute")
    problems.raise_if_any()

    protocol = Protocol(
        id=protocol_id,
        version=str(version),
        title=_text(data, "title", where, problems),
        summary=_text(data, "summary", where, problems),
        intent=_text(data, "intent", where, problems),
        start=start,
        steps=steps,
        required_referrals=required,
        forbidden_advice=forbidden,
        file=path,
        privacy=privacy,
        reference_prefix=prefix,
        signal_phrases=_phrases(data, "signal_phrases", where, problems),
        intent_examples=examples,
        follow_ups=follow_ups,
        gives_way=gives_way,
        danger_phrases=_phrases(data, "danger_phrases", where, problems),
        acute_step=acute_step,
    )
    problems.raise_if_any()
    found = invariants.check_protocol(protocol) if check_invariants else invariants.check_graph(protocol)
    if found:
        raise KnowledgeError("\n".join(f"{path}: {problem}" for problem in found))
    return protocol


# --- reference texts (reference/*.yml)


def _reference_items(
    raw: Any, where: str, sources: Mapping[str, Source], problems: _Problems
) -> tuple[ReferenceItem, ...]:
    if not isinstance(raw, list) or not raw:
        problems.add(where, "expected a non-empty list of numbered items")
        return ()
    items: list[ReferenceItem] = []
    for index, entry in enumerate(raw):
        number = entry.get("number") if isinstance(entry, dict) else None
        item_where = f"{where} #{index + 1}"
        if not isinstance(entry, dict):
            problems.add(item_where, "expected a mapping with number, title, text and source")
            continue
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            problems.add(item_where, "'number' must be a whole number from 1")
            continue
        item_where = f"{where} {number}"
        if number != index + 1:
            problems.add(item_where, f"numbers must run 1, 2, 3, ... in order (expected {index + 1})")
        _unknown_fields(entry, _REFERENCE_ITEM_FIELDS, item_where, problems)
        source = _source(entry, item_where, sources, problems)
        title = _text(entry, "title", item_where, problems)
        text = _text(entry, "text", item_where, problems)
        if source is not None:
            items.append(ReferenceItem(number=number, title=title, text=text, source=source))
    return tuple(items)


def load_reference_file(path: Path | str, sources: Mapping[str, Source]) -> Reference:
    """One reference text; KnowledgeError naming the file and the item when invalid."""
    path = Path(path)
    data = read_yaml(path)
    problems = _Problems(path)
    if not isinstance(data, dict):
        raise KnowledgeError(f"{path}: reference: expected a mapping")
    where = "reference"
    _unknown_fields(data, _REFERENCE_FIELDS, where, problems)
    ref_id = _text(data, "id", where, problems)
    if ref_id and ref_id != path.stem:
        problems.add(where, f"id '{ref_id}' differs from the file name '{path.stem}'")
    source = _source(data, where, sources, problems)
    steps = _reference_items(data.get("steps"), "step", sources, problems)
    questions: tuple[ReferenceItem, ...] = ()
    questions_title = ""
    frame = data.get("afwegingskader")
    if frame is not None:
        if not isinstance(frame, dict):
            problems.add("afwegingskader", "expected a mapping with title and questions")
        else:
            _unknown_fields(frame, {"title", "questions"}, "afwegingskader", problems)
            questions_title = _text(frame, "title", "afwegingskader", problems)
            questions = _reference_items(frame.get("questions"), "afwegingskader question", sources, problems)
    definitions: list[Definition] = []
    raw_definitions = data.get("definitions") or []
    if not isinstance(raw_definitions, list):
        problems.add("definitions", "expected a list")
        raw_definitions = []
    for index, entry in enumerate(raw_definitions):
        term = entry.get("term") if isinstance(entry, dict) else None
        item_where = f"definition '{term or f'#{index + 1}'}'"
        if not isinstance(entry, dict):
            problems.add(item_where, "expected a mapping with term, text and source")
            continue
        _unknown_fields(entry, _DEFINITION_FIELDS, item_where, problems)
        def_source = _source(entry, item_where, sources, problems)
        definition = Definition(term=_text(entry, "term", item_where, problems),
                                text=_text(entry, "text", item_where, problems),
                                source=def_source)  # type: ignore[arg-type]  # refused below if None
        if def_source is not None:
            definitions.append(definition)
    phrases = _phrases(data, "phrases", where, problems)
    problems.raise_if_any()
    assert source is not None
    return Reference(
        id=ref_id,
        title=_text(data, "title", where, problems),
        summary=_text(data, "summary", where, problems),
        source=source,
        steps=steps,
        questions_title=questions_title,
        questions=questions,
        definitions=tuple(definitions),
        file=path,
        phrases=phrases,
    )


def _check_follow_up_norms(path: Path, protocol: Protocol, norms: Mapping[str, Any]) -> None:
    """Each follow-up's ``norm`` names a deadline in norms.yml's ``follow_up_norms``."""
    for follow_up in protocol.follow_ups:
        if follow_up.norm not in norms:
            known = ", ".join(sorted(norms)) or "none (no follow_up_norms in norms.yml)"
            raise KnowledgeError(f"{path}: follow-up '{follow_up.id}': unknown norm '{follow_up.norm}'; known: {known}")


def _load_general_path(root: Path, organisations: Mapping[str, Organisation], sources: Mapping[str, Source],
                       categories: Mapping[str, RecordCategory], key_positions: Container[str],
                       intents: Mapping[str, str], follow_up_norms: Mapping[str, Any]) -> Protocol | None:
    """``general/<category>.yml``: the safe general path, filed under that neutral category."""
    files = [p for p in sorted((root / "general").glob("*.yml")) if not p.name.endswith(NLU_SUFFIX)]
    if not files:
        return None
    if len(files) > 1:
        raise KnowledgeError(f"{root / 'general'}: one general path expected, found {', '.join(p.name for p in files)}")
    path = files[0]
    general = load_protocol_file(path, organisations, sources, categories=categories, key_positions=key_positions)
    category = categories.get(general.id)
    if category is None:
        raise KnowledgeError(f"{path}: general path: id '{general.id}' must be a record category "
                             f"(record_categories.yml): its records are filed there")
    if general.reference_prefix != category.reference_prefix:
        raise KnowledgeError(f"{path}: general path: reference_prefix '{general.reference_prefix}' differs from "
                             f"its category's '{category.reference_prefix}'")
    if general.intent in intents:
        raise KnowledgeError(f"{path}: general path: intent '{general.intent}' already starts "
                             f"'{intents[general.intent]}'")
    if len(general.intent_examples) < MIN_INTENT_EXAMPLES:
        raise KnowledgeError(f"{path}: general path: needs at least {MIN_INTENT_EXAMPLES} intent examples "
                             f"(in {path.stem}{NLU_SUFFIX})")
    if any(step.hand_over for step in general.steps.values()):
        raise KnowledgeError(f"{path}: general path: no hand_over (the topic menu follows its decision)")
    _check_follow_up_norms(path, general, follow_up_norms)
    return general


def load_knowledge(root: Path | str | None = None) -> Knowledge:
    """Load sources.yml, organisations.yml, key_positions.yml, locations.yml,
    protocols/*.yml (with their ``*.nlu.yml``) and reference/*.yml under ``root``
    (default: this package's directory)."""
    root = Path(root) if root is not None else PACKAGE_DIR
    sources = load_sources(root / "sources.yml")
    organisations = load_organisations(root / "organisations.yml", sources)
    categories = load_record_categories(root / "record_categories.yml")
    key_positions = load_key_positions(root / "key_positions.yml")
    locations = load_locations(root / "locations.yml")
    follow_up_norms = load_follow_up_norms(root / "norms.yml") if (root / "norms.yml").exists() else {}
    protocols: dict[str, Protocol] = {}
    intents: dict[str, str] = {}
    prefixes = {category.reference_prefix: category.id for category in categories.values()}
    for path in sorted((root / "protocols").glob("*.yml")):
        if path.name.endswith(NLU_SUFFIX):
            continue  # a protocol's intent examples, read with the protocol
        protocol = load_protocol_file(path, organisations, sources, categories=categories,
                                      key_positions=key_positions)
        if len(protocol.intent_examples) < MIN_INTENT_EXAMPLES:
            raise KnowledgeError(f"{path}: protocol: needs at least {MIN_INTENT_EXAMPLES} intent examples "
                                 f"(in {path.stem}{NLU_SUFFIX} or as 'intent_examples'), "
                                 f"found {len(protocol.intent_examples)}")
        if prefixes.setdefault(protocol.reference_prefix, protocol.id) != protocol.id:
            raise KnowledgeError(f"{path}: protocol: reference_prefix '{protocol.reference_prefix}' "
                                 f"is already used by '{prefixes[protocol.reference_prefix]}'")
        if protocol.id in categories:
            raise KnowledgeError(f"{path}: protocol: id '{protocol.id}' is also a record category")
        _check_follow_up_norms(path, protocol, follow_up_norms)
        if protocol.intent in intents:
            raise KnowledgeError(
                f"{path}: protocol: intent '{protocol.intent}' already starts '{intents[protocol.intent]}'"
            )
        intents[protocol.intent] = protocol.id
        protocols[protocol.id] = protocol
    for protocol in protocols.values():
        for step in protocol.steps.values():
            if step.hand_over is not None and (step.hand_over not in protocols or step.hand_over == protocol.id):
                raise KnowledgeError(f"{protocol.file}: step '{step.id}': hand_over '{step.hand_over}' "
                                     f"is not another protocol; known: {', '.join(sorted(protocols))}")
        for give_way in protocol.gives_way:
            if give_way.protocol not in protocols or give_way.protocol == protocol.id:
                raise KnowledgeError(f"{protocol.file}: gives_way: '{give_way.protocol}' is not another "
                                     f"protocol; known: {', '.join(sorted(protocols))}")
    general_path = _load_general_path(root, organisations, sources, categories, key_positions, intents,
                                      follow_up_norms)
    references: dict[str, Reference] = {}
    for path in sorted((root / "reference").glob("*.yml")):
        reference = load_reference_file(path, sources)
        if reference.id in protocols:
            raise KnowledgeError(f"{path}: reference: id '{reference.id}' is also a protocol id")
        references[reference.id] = reference
    return Knowledge(protocols=protocols, organisations=organisations, sources=sources, references=references,
                     categories=categories, key_positions=key_positions, locations=locations,
                     general_path=general_path)

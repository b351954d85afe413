#!/usr/bin/env python3
"""Build the small Dutch spaCy pipeline that Rasa's ``SpacyNLP`` loads.

Usage (from the repository root, with the assistant environment)::

    .venv-rasa/bin/python scripts/build_spacy_model.py [--out build/spacy_nl]
                                                       [--synonyms data/nlu/synonyms_generated.yml]
                                                       [--force]

The pipeline is ``spacy.blank("nl")`` plus

* ``lemmatizer`` in lookup mode; its table comes from the installed
  ``spacy-lookups-data`` package (``nlp.initialize()``), so nothing is downloaded;
* ``entity_ruler`` (phrase patterns matched on the ``LOWER`` attribute) with
  label ``organisation`` (pattern id = organisation id, from
  ``knowledge/organisations.yml`` plus common variants and abbreviations) and
  label ``location`` (pattern id = location code, from ``assistant/locations.yml``).

Rasa's ``SpacyEntityExtractor`` only passes on the matched text, not the pattern
id. So the script also writes the matching entity synonyms (matched text ->
organisation id / location code) to ``data/nlu/synonyms_generated.yml``; with
``EntitySynonymMapper`` in the NLU pipeline the ``location`` entity (and slot)
then holds the location *code*, e.g. ``TERAPEL``, and ``organisation`` the id.
That file is generated: do not edit it by hand, edit the inputs.

The build is skipped when the inputs (this script, the two YAML files, the spaCy
and spacy-lookups-data versions) are unchanged: a content hash is kept in
``<out>/.build-stamp``. The model is written to a temporary directory first and
then moved into place, so a half-written model is never loaded.

Note: Rasa fingerprints ``SpacyNLP`` by the model *path* only, and loads the
model from that path again at run time (it is not packed into the Rasa model).
Run the server from the repository root so that ``build/spacy_nl`` resolves.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "build" / "spacy_nl"
ORGANISATIONS_FILE = ROOT / "knowledge" / "organisations.yml"
LOCATIONS_FILE = ROOT / "assistant" / "locations.yml"
DEFAULT_SYNONYMS = ROOT / "data" / "nlu" / "synonyms_generated.yml"
STAMP_NAME = ".build-stamp"

# Names used when knowledge/organisations.yml is absent or lacks an id, plus the
# variants people type in a chat. The official name from the knowledge file is
# always added as well. Ids are the contract ids of ../shared/DESIGN.md.
ORGANISATION_DEFAULTS: dict[str, tuple[str, list[str]]] = {
    "politie": ("Politie", ["de politie", "wijkagent", "police"]),
    "veilig_thuis": ("Veilig Thuis", ["VT", "veiligthuis", "veilig-thuis"]),
    "lec_egg": (
        "Landelijk Expertisecentrum Eergerelateerd Geweld",
        ["LEC EGG", "LEC-EGG", "LECEGG", "LEC", "expertisecentrum eergerelateerd geweld"],
    ),
    "centrum_seksueel_geweld": ("Centrum Seksueel Geweld", ["CSG", "centrum sexueel geweld"]),
    "slachtofferhulp": ("Slachtofferhulp Nederland", ["slachtofferhulp", "SHN"]),
    "vrouwenopvang": ("Vrouwenopvang", ["blijf van m'n lijf", "blijfhuis", "opvanghuis voor vrouwen"]),
    "siriz": ("Siriz", []),
    "fiom": ("Fiom", []),
    "gza": ("Gezondheidszorg Asielzoekers", ["GZA", "GZA praktijklijn", "praktijklijn"]),
    "ggd": ("GGD", []),
    "coc": ("COC", ["COC Nederland"]),
    "lgbt_asylum_support": ("LGBT Asylum Support", ["LGBTI Asylum Support", "lgbt asylum"]),
    "roze_in_blauw": ("Roze in Blauw", ["roze-in-blauw"]),
    "comensha": ("CoMensha", []),
    "landelijk_knooppunt_huwelijksdwang": (
        "Landelijk Knooppunt Huwelijksdwang en Achterlating",
        ["knooppunt huwelijksdwang", "landelijk knooppunt"],
    ),
}


def _read_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _organisation_entries(data: Any) -> Iterable[dict[str, Any]]:
    """Accepts ``{organisations: [..]}``, ``{organisations: {id: {..}}}``, a list or a mapping."""
    if isinstance(data, dict) and "organisations" in data:
        data = data["organisations"]
    if isinstance(data, list):
        for item in data:
            if isinstance(item, dict) and item.get("id"):
                yield item
    elif isinstance(data, dict):
        for key, item in data.items():
            if isinstance(item, dict):
                yield {"id": item.get("id", key), **item}


def _split_parenthetical(value: str) -> list[str]:
    """"Centrum Seksueel Geweld (CSG)" -> ["Centrum Seksueel Geweld", "CSG"]: nobody types the brackets."""
    match = re.fullmatch(r"\s*(.*?)\s*\(([^()]+)\)\s*", value)
    return [match.group(1), match.group(2)] if match else [value]


def _unique(values: Iterable[str]) -> list[str]:
    seen, result = set(), []
    for raw in values:
        for value in _split_parenthetical(str(raw)):
            value = " ".join(value.split())
            if value and value.lower() not in seen:
                seen.add(value.lower())
                result.append(value)
    return result


def load_organisations(path: Path = ORGANISATIONS_FILE) -> dict[str, list[str]]:
    """Organisation id -> phrases (name first)."""
    phrases: dict[str, list[str]] = {
        org_id: [name, *variants] for org_id, (name, variants) in ORGANISATION_DEFAULTS.items()
    }
    if path.exists():
        for entry in _organisation_entries(_read_yaml(path) or {}):
            org_id = str(entry["id"])
            extra = [entry.get("name"), entry.get("short_name"), entry.get("abbreviation")]
            for key in ("aliases", "synonyms", "variants"):
                if isinstance(entry.get(key), list):
                    extra.extend(entry[key])
            known = phrases.get(org_id, [])
            phrases[org_id] = [*[e for e in extra if e], *known]
    return {org_id: _unique(values) for org_id, values in phrases.items()}


def load_locations(path: Path = LOCATIONS_FILE) -> dict[str, list[str]]:
    """Location code -> phrases (name first)."""
    data = _read_yaml(path) or {}
    result: dict[str, list[str]] = {}
    for entry in data.get("locations", []):
        code = str(entry["code"])
        result[code] = _unique([entry["name"], *entry.get("aliases", [])])
    return result


def patterns_for(organisations: dict[str, list[str]], locations: dict[str, list[str]]) -> list[dict[str, str]]:
    patterns = []
    for label, table in (("organisation", organisations), ("location", locations)):
        for ident, phrases in table.items():
            for phrase in phrases:
                patterns.append({"label": label, "pattern": phrase.lower(), "id": ident})
    return patterns


def synonyms_yaml(organisations: dict[str, list[str]], locations: dict[str, list[str]]) -> str:
    """Rasa NLU training data with one synonym block per location / organisation."""
    lines = [
        "# GENERATED by scripts/build_spacy_model.py from assistant/locations.yml and",
        "# knowledge/organisations.yml: do not edit by hand.",
        "# Maps the text matched by the spaCy entity_ruler to the location code /",
        "# organisation id (EntitySynonymMapper compares lower-cased).",
        'version: "3.1"',
        "nlu:",
    ]
    for table in (locations, organisations):
        for ident, phrases in table.items():
            # EntitySynonymMapper skips a synonym equal to its value, so a phrase equal
            # to the id is written capitalised: "Slachtofferhulp" still maps to the id.
            variants = _unique(p if p != ident else p.capitalize() for p in phrases)
            variants = [p for p in variants if p != ident]
            if not variants:
                continue
            lines.append(f"- synonym: {ident}")
            lines.append("  examples: |")
            lines.extend(f"    - {json.dumps(p, ensure_ascii=False)[1:-1]}" for p in variants)
    return "\n".join(lines) + "\n"


def input_hash(organisations_path: Path, locations_path: Path) -> str:
    import spacy
    import spacy_lookups_data

    digest = hashlib.sha256()
    for path in (Path(__file__).resolve(), organisations_path, locations_path):
        digest.update(str(path.name).encode())
        digest.update(path.read_bytes() if path.exists() else b"<absent>")
    digest.update(spacy.__version__.encode())
    digest.update(getattr(spacy_lookups_data, "__version__", "?").encode())
    return digest.hexdigest()


def build(out: Path, patterns: list[dict[str, str]], stamp: str) -> None:
    import spacy

    nlp = spacy.blank("nl")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()  # loads the lookup table from spacy-lookups-data (installed, offline)
    # Added after initialize(): EntityRuler.initialize() would clear the patterns.
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True})
    ruler.add_patterns(patterns)
    nlp.meta["name"] = "coa_nl"
    nlp.meta["version"] = "1.0.0"
    nlp.meta["description"] = "Blank Dutch + lookup lemmatizer + entity_ruler (location, organisation)"

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    try:
        nlp.to_disk(tmp)
        tmp.chmod(0o755)  # mkdtemp creates it 0700
        (tmp / STAMP_NAME).write_text(stamp + "\n", encoding="utf-8")
        backup = out.with_name(out.name + ".old")
        if backup.exists():
            shutil.rmtree(backup)
        if out.exists():
            out.rename(backup)
        tmp.rename(out)
        if backup.exists():
            shutil.rmtree(backup)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def self_check(out: Path, locations: dict[str, list[str]]) -> None:
    import spacy

    nlp = spacy.load(out)
    doc = nlp("Een bwn in Ter Apel wil Veilig Thuis of het VT bellen, ook in budel-cranendonck")
    found = {(ent.label_, ent.ent_id_) for ent in doc.ents}
    expected = {("location", "TERAPEL"), ("organisation", "veilig_thuis"), ("location", "BUDEL")}
    missing = expected - found
    if missing:
        raise SystemExit(f"self-check failed: missing entities {sorted(missing)} in {sorted(found)}")
    if nlp("bedreigingen")[0].lemma_ == "":
        raise SystemExit("self-check failed: lemmatizer returned empty lemma")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default build/spacy_nl)")
    parser.add_argument(
        "--synonyms",
        type=Path,
        default=DEFAULT_SYNONYMS,
        help="where to write the generated Rasa entity synonyms ('' to skip)",
    )
    parser.add_argument("--organisations", type=Path, default=ORGANISATIONS_FILE)
    parser.add_argument("--locations", type=Path, default=LOCATIONS_FILE)
    parser.add_argument("--force", action="store_true", help="rebuild even when the inputs are unchanged")
    args = parser.parse_args(argv)

    out = args.out if args.out.is_absolute() else Path.cwd() / args.out
    organisations = load_organisations(args.organisations)
    locations = load_locations(args.locations)

    if str(args.synonyms):
        synonyms_path = args.synonyms if args.synonyms.is_absolute() else Path.cwd() / args.synonyms
        text = synonyms_yaml(organisations, locations)
        if not synonyms_path.exists() or synonyms_path.read_text(encoding="utf-8") != text:
            synonyms_path.parent.mkdir(parents=True, exist_ok=True)
            synonyms_path.write_text(text, encoding="utf-8")
            print(f"wrote {synonyms_path}")

    stamp = input_hash(args.organisations, args.locations)
    stamp_file = out / STAMP_NAME
    if not args.force and stamp_file.exists() and stamp_file.read_text(encoding="utf-8").strip() == stamp:
        print(f"spaCy model {out} is up to date")
        return 0

    patterns = patterns_for(organisations, locations)
    build(out, patterns, stamp)
    self_check(out, locations)
    print(f"built spaCy model {out} ({len(patterns)} entity patterns)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
  ``knowledge/organisations.yml`` plus common variants and abbreviations),
  label ``location`` (pattern id = location code, from ``assistant/locations.yml``),
  label ``protocol`` (pattern id = protocol id or ``meldcode``, from
  ``PROTOCOL_PHRASES`` below) and label ``key_position`` (pattern id =
  key-position id, from ``KEY_POSITION_PHRASES`` below).

spaCy keeps a hyphenated word as one token ("EGG-protocol", "lhbti-contactpersoon"),
so hyphenated variants of multi-word phrases are generated as patterns of their own.
When patterns overlap the longest match wins ("Centrum Seksueel Geweld" is the
organisation, not the protocol "seksueel geweld").

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
        ["landelijk knooppunt huwelijksdwang", "knooppunt huwelijksdwang", "landelijk knooppunt"],
    ),
}


# Protocol ids (contract, ../shared/DESIGN.md) and ``meldcode`` (the reference of
# knowledge/reference/meldcode.yml) -> the phrases staff type for them. Used by the
# look-up actions ("wat is stap 4 van de meldcode?") and as a hint for a second topic
# during a protocol ("zwanger" -> ongewenste_zwangerschap).
PROTOCOL_PHRASES: dict[str, list[str]] = {
    "eergerelateerd_geweld": [
        "eergerelateerd geweld", "eer gerelateerd geweld", "eer-gerelateerd geweld",
        "eergerelateerd gewelt", "eergerelateert geweld", "ergerelateerd geweld",
        "eergerelateerd", "EGG", "EGG-protocol", "protocol EGG", "eerwraak", "huwelijksdwang",
        "gedwongen huwelijk", "achterlating",
    ],
    "seksueel_geweld": [
        "seksueel geweld", "sexueel geweld", "seksueel gewelt", "seksuele geweld",
        "seksueel misbruik", "sexueel misbruik", "verkrachting", "aanranding", "zedenzaak",
    ],
    "ongewenste_zwangerschap": [
        "ongewenste zwangerschap", "ongewenst zwanger", "onbedoelde zwangerschap",
        "onbedoeld zwanger", "ongeplande zwangerschap", "ongewenste zwangershap",
        "zwangerschap", "zwanger", "zw",
    ],
    "lhbti_ondersteuning": [
        "lhbti ondersteuning", "ondersteuning lhbti", "lhbti", "lhbti+", "lhbtiq", "lhbtiq+",
        "lhbt", "lgbt", "lgbtq", "lgbtq+", "lgbti", "lhbti-protocol", "bekeerling",
        "bekeerlingen", "afvallige", "afvalligen",
    ],
    "meldcode": [
        "meldcode", "meld code", "de meldcode", "meldcode huiselijk geweld",
        "meldcode huiselijk geweld en kindermishandeling", "afwegingskader",
        "afwegingskaders", "afweegkader",
    ],
}

# Key-position ids (docs/INTERFACES.md, also used by the API) -> common spellings.
# No bare "AF": it is an ordinary Dutch word ("breek af").
KEY_POSITION_PHRASES: dict[str, list[str]] = {
    "contactpersoon_veiligheid": [
        "contactpersoon veiligheid", "contact persoon veiligheid", "contactpersoon sociale veiligheid",
        "contactpersoon voor veiligheid", "veiligheidscontactpersoon", "cp veiligheid", "CPV",
        "contactpersonen veiligheid", "kontaktpersoon veiligheid",
    ],
    "aandachtsfunctionaris": [
        "aandachtsfunctionaris", "aandachtfunctionaris", "aandachts functionaris",
        "aandachtsfunctionarissen", "aandachtsfunctionaris huiselijk geweld",
        "aandachtsfunctionaris huiselijk geweld en kindermishandeling",
        "aandachtsfunctionaris hg", "aandachtsfunctionaris hgkm", "af hg", "af hgkm",
        "af huiselijk geweld",
    ],
    "contactpersoon_mensenhandel": [
        "contactpersoon mensenhandel", "contact persoon mensenhandel", "cp mensenhandel",
        "aandachtsfunctionaris mensenhandel", "af mensenhandel", "mensenhandel contactpersoon",
        "contactpersoon mh", "contactpersoon voor mensenhandel",
    ],
    "aandachtsfunctionaris_zwangere": [
        "aandachtsfunctionaris zwangere", "aandachtsfunctionaris zwangeren",
        "aandachtsfunctionaris zwangerschap", "aandachtfunctionaris zwangere",
        "af zwangere", "af zwangeren", "af zwangerschap", "contactpersoon zwangeren",
        "contactpersoon zwangere",
    ],
    "lhbti_contactpersoon": [
        "lhbti contactpersoon", "contactpersoon lhbti", "lhbti+ contactpersoon",
        "lhbtiq contactpersoon", "lgbt contactpersoon", "contactpersoon lgbt",
        "lhbti aandachtsfunctionaris", "contactpersoon lhbti en bekeerlingen",
        "roze contactpersoon", "regenboogcontactpersoon",
    ],
}


def _with_hyphen_variants(table: dict[str, list[str]]) -> dict[str, list[str]]:
    """Adds "lhbti-contactpersoon" for "lhbti contactpersoon" (two-word phrases only)."""
    result = {}
    for ident, phrases in table.items():
        extra = [p.replace(" ", "-") for p in phrases if len(p.split()) == 2]
        result[ident] = _unique([*phrases, *extra])
    return result


def load_protocols() -> dict[str, list[str]]:
    """Protocol id (or ``meldcode``) -> phrases."""
    return _with_hyphen_variants(PROTOCOL_PHRASES)


def load_key_positions() -> dict[str, list[str]]:
    """Key-position id -> phrases."""
    return _with_hyphen_variants(KEY_POSITION_PHRASES)


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


def patterns_for(
    organisations: dict[str, list[str]],
    locations: dict[str, list[str]],
    protocols: dict[str, list[str]] | None = None,
    key_positions: dict[str, list[str]] | None = None,
) -> list[dict[str, str]]:
    patterns = []
    tables = (
        ("organisation", organisations),
        ("location", locations),
        ("protocol", protocols or {}),
        ("key_position", key_positions or {}),
    )
    for label, table in tables:
        for ident, phrases in table.items():
            for phrase in phrases:
                patterns.append({"label": label, "pattern": phrase.lower(), "id": ident})
    return patterns


def synonyms_yaml(
    organisations: dict[str, list[str]],
    locations: dict[str, list[str]],
    protocols: dict[str, list[str]] | None = None,
    key_positions: dict[str, list[str]] | None = None,
) -> str:
    """Rasa NLU training data with one synonym block per location / organisation /
    protocol / key position."""
    lines = [
        "# GENERATED by scripts/build_spacy_model.py from assistant/locations.yml,",
        "# knowledge/organisations.yml and the protocol / key-position phrases in the",
        "# script: do not edit by hand.",
        "# Maps the text matched by the spaCy entity_ruler to the location code /",
        "# organisation id / protocol id / key-position id (EntitySynonymMapper compares",
        "# lower-cased).",
        'version: "3.1"',
        "nlu:",
    ]
    seen: dict[str, str] = {}
    for table in (locations, organisations, protocols or {}, key_positions or {}):
        for ident, phrases in table.items():
            # EntitySynonymMapper skips a synonym equal to its value, so a phrase equal
            # to the id is written capitalised: "Slachtofferhulp" still maps to the id.
            variants = _unique(p if p != ident else p.capitalize() for p in phrases)
            variants = [p for p in variants if p != ident]
            for phrase in variants:
                other = seen.setdefault(phrase.lower(), ident)
                if other != ident:
                    raise SystemExit(f"phrase {phrase!r} maps to both {other} and {ident}")
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
    nlp.meta["description"] = (
        "Blank Dutch + lookup lemmatizer + entity_ruler (location, organisation, protocol, key_position)"
    )

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
    doc = nlp(
        "Een bwn in Ter Apel wil Veilig Thuis of het VT bellen, ook in budel-cranendonck; "
        "wat is stap 4 van de meldcode bij eergerelateerd geweld, wie is de lhbti-contactpersoon "
        "en bel ik het Centrum Seksueel Geweld of de aandachtsfunctionaris zwangere?"
    )
    found = {(ent.label_, ent.ent_id_) for ent in doc.ents}
    expected = {
        ("location", "TERAPEL"), ("organisation", "veilig_thuis"), ("location", "BUDEL"),
        ("protocol", "meldcode"), ("protocol", "eergerelateerd_geweld"),
        ("key_position", "lhbti_contactpersoon"), ("organisation", "centrum_seksueel_geweld"),
        ("key_position", "aandachtsfunctionaris_zwangere"),
    }
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
    protocols = load_protocols()
    key_positions = load_key_positions()

    if str(args.synonyms):
        synonyms_path = args.synonyms if args.synonyms.is_absolute() else Path.cwd() / args.synonyms
        text = synonyms_yaml(organisations, locations, protocols, key_positions)
        if not synonyms_path.exists() or synonyms_path.read_text(encoding="utf-8") != text:
            synonyms_path.parent.mkdir(parents=True, exist_ok=True)
            synonyms_path.write_text(text, encoding="utf-8")
            print(f"wrote {synonyms_path}")

    stamp = input_hash(args.organisations, args.locations)
    stamp_file = out / STAMP_NAME
    if not args.force and stamp_file.exists() and stamp_file.read_text(encoding="utf-8").strip() == stamp:
        print(f"spaCy model {out} is up to date")
        return 0

    patterns = patterns_for(organisations, locations, protocols, key_positions)
    build(out, patterns, stamp)
    self_check(out, locations)
    print(f"built spaCy model {out} ({len(patterns)} entity patterns)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

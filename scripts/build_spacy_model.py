#!/usr/bin/env python3
"""Build the small Dutch spaCy pipeline that Rasa's ``SpacyNLP`` loads.

Usage (from the repository root, with the assistant environment)::

    .venv-rasa/bin/python scripts/build_spacy_model.py [--out build/spacy_nl] [--force]

The pipeline is ``spacy.blank("nl")`` plus

* ``lemmatizer`` in lookup mode; its table comes from the installed
  ``spacy-lookups-data`` package (``nlp.initialize()``), so nothing is downloaded;
* ``entity_ruler`` (phrase patterns matched on the ``LOWER`` attribute) with the
  labels ``location`` (pattern id = location code), ``organisation`` (organisation
  id), ``protocol`` (protocol id, or ``meldcode`` for the reference) and
  ``key_position`` (key-position id). The patterns all come from
  ``knowledge.load_knowledge()`` via ``assistant.generate.entity_patterns``: the
  locations, organisation names and aliases, each protocol's ``signal_phrases``, the
  reference's ``phrases`` and ``key_positions.yml``.

spaCy keeps a hyphenated word as one token ("EGG-protocol", "lhbti-contactpersoon"),
so hyphenated variants of two-word phrases are patterns of their own. When patterns
overlap the longest match wins ("Centrum Seksueel Geweld" is the organisation, not
the protocol "seksueel geweld").

Rasa's ``SpacyEntityExtractor`` only passes on the matched text, not the pattern id;
the matching entity synonyms (``data/nlu/synonyms_generated.yml``) are generated from
the same phrases by ``python -m assistant.generate``.

The build is skipped when the patterns, this script and the spaCy and
spacy-lookups-data versions are unchanged: a content hash is kept in
``<out>/.build-stamp`` (scripts/train.py folds it into the model's hash). The model
is written to a temporary directory first and then moved into place, so a
half-written model is never loaded.

Note: Rasa fingerprints ``SpacyNLP`` by the model *path* only, and loads the
model from that path again at run time (it is not packed into the Rasa model).
Run the server from the repository root so that ``build/spacy_nl`` resolves.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.generate import entity_patterns  # noqa: E402  (needs ROOT on the path)
from knowledge import load_knowledge  # noqa: E402

DEFAULT_OUT = ROOT / "build" / "spacy_nl"
STAMP_NAME = ".build-stamp"


def input_hash(patterns: list[dict[str, str]]) -> str:
    import spacy
    import spacy_lookups_data

    digest = hashlib.sha256(Path(__file__).resolve().read_bytes())
    digest.update(json.dumps(patterns, sort_keys=True, ensure_ascii=False).encode())
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


def self_check(out: Path) -> None:
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
    parser.add_argument("--force", action="store_true", help="rebuild even when the inputs are unchanged")
    args = parser.parse_args(argv)

    out = args.out if args.out.is_absolute() else Path.cwd() / args.out
    patterns = entity_patterns(load_knowledge())
    stamp = input_hash(patterns)
    stamp_file = out / STAMP_NAME
    if not args.force and stamp_file.exists() and stamp_file.read_text(encoding="utf-8").strip() == stamp:
        print(f"spaCy model {out} is up to date")
        return 0

    build(out, patterns, stamp)
    self_check(out)
    print(f"built spaCy model {out} ({len(patterns)} entity patterns)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

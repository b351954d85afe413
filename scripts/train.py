"""Trains the Rasa model only when its inputs changed (content hash).

First the Rasa files generated from knowledge/ are brought up to date
(``assistant.generate``; the files it had to rewrite are listed in
build/generated_rewritten.txt, and tests/knowledge/test_generated.py fails while
that list is not empty: the checked-in copies were stale), then the spaCy pipeline.
Inputs of the hash: Rasa config, domain, training data (generated files included),
the spaCy pipeline's build stamp (its entity patterns) and the Rasa version. The
model is stored as models/<hash>.tar.gz and models/current names it, so `make run`
and the tests always serve the model of the current sources. Runs in the assistant
venv.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INPUTS = [
    "assistant/config.yml",
    "assistant/domain",
    "data/nlu",
    "data/rules",
    "data/stories",
    "build/spacy_nl/.build-stamp",
]


def content_hash() -> str:
    import rasa

    digest = hashlib.sha256(f"rasa {rasa.__version__}".encode())
    for entry in INPUTS:
        path = ROOT / entry
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.exists():
                digest.update(str(file.relative_to(ROOT)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def regenerate() -> None:
    sys.path.insert(0, str(ROOT))
    from assistant.generate import REWRITTEN_MARKER, write_files
    from knowledge import load_knowledge

    rewritten = write_files(load_knowledge())
    marker = ROOT / REWRITTEN_MARKER
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("".join(f"{name}\n" for name in rewritten), encoding="utf-8")
    for name in rewritten:
        print(f"regenerated {name} from knowledge/ (commit it)")


def main() -> int:
    regenerate()
    subprocess.run([sys.executable, "scripts/build_spacy_model.py"], cwd=ROOT, check=True)
    model_hash = content_hash()
    name = f"coa-{model_hash}"
    model = ROOT / "models" / f"{name}.tar.gz"
    current = ROOT / "models" / "current"
    if model.exists():
        print(f"model up to date: {model.relative_to(ROOT)}")
    else:
        print(f"training {model.relative_to(ROOT)} (inputs changed) ...", flush=True)
        started = time.monotonic()
        subprocess.run(
            # Rasa's command line with tf.data autotuning off (assistant/rasa_cli.py: why).
            [sys.executable, "-m", "assistant.rasa_cli", "train", "--config", "assistant/config.yml",
             "--domain", "assistant/domain", "--data", "data/nlu", "data/rules", "data/stories",
             "--out", "models", "--fixed-model-name", name],
            cwd=ROOT, check=True,
        )
        print(f"training took {time.monotonic() - started:.0f} s")
    current.write_text(model.name + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

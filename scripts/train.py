"""Trains the Rasa model only when its inputs changed (content hash).

Inputs: Rasa config, domain, training data, the spaCy pipeline's inputs and the
Rasa version. The model is stored as models/<hash>.tar.gz and models/current names
it, so `make run` and the tests always serve the model of the current sources.
Runs in the assistant venv.
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
    "assistant/locations.yml",
    "data/nlu",
    "data/rules",
    "data/stories",
    "knowledge/organisations.yml",
    "scripts/build_spacy_model.py",
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


def main() -> int:
    bin_dir = Path(sys.executable).parent
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
            [str(bin_dir / "rasa"), "train", "--config", "assistant/config.yml",
             "--domain", "assistant/domain", "--data", "data/nlu", "data/rules", "data/stories",
             "--out", "models", "--fixed-model-name", name],
            cwd=ROOT, check=True,
        )
        print(f"training took {time.monotonic() - started:.0f} s")
    current.write_text(model.name + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

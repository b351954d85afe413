"""The Rasa files generated from knowledge/ (assistant/generate.py) are checked in
and must match the knowledge: edit knowledge/, run `python -m assistant.generate`
(scripts/train.py, i.e. `make setup`, does it too) and commit the result."""

from __future__ import annotations

from assistant.generate import REWRITTEN_MARKER, ROOT, stale_files
from knowledge import load_knowledge


def test_generated_files_match_the_knowledge() -> None:
    stale = stale_files(load_knowledge())
    assert not stale, f"stale generated files (run `python -m assistant.generate` and commit): {stale}"


def test_setup_did_not_have_to_regenerate_checked_in_files() -> None:
    """scripts/train.py rewrites stale files before training and lists them here:
    on a fresh clone (CI) a non-empty list means the commit carried stale copies."""
    marker = ROOT / REWRITTEN_MARKER
    rewritten = marker.read_text(encoding="utf-8").split() if marker.exists() else []
    assert not rewritten, f"setup regenerated {rewritten} from knowledge/: commit them"

"""The e2e lock: `flock /tmp/coa-e2e.lock pytest tests/e2e` must not wait for itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = ("import sys; sys.path.insert(0, {root!r}); from tests.e2e.conftest import lock_held_by_ancestor; "
         "print(lock_held_by_ancestor({lock!r}))")


def _probe(lock: Path, *wrapper: str) -> str:
    code = PROBE.format(root=str(ROOT), lock=str(lock))
    out = subprocess.run([*wrapper, sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                         check=True)
    return out.stdout.strip()


def test_a_lock_taken_by_the_calling_flock_is_recognised(tmp_path: Path) -> None:
    lock = tmp_path / "e2e.lock"
    lock.touch()
    assert _probe(lock, "flock", str(lock)) == "True"
    assert _probe(lock, "flock", str(lock), "bash", "-c", '"$0" "$@"') == "True"


def test_a_lock_held_by_nobody_or_a_stranger_is_not_ours(tmp_path: Path) -> None:
    lock = tmp_path / "e2e.lock"
    lock.touch()
    assert _probe(lock) == "False"
    stranger = subprocess.Popen(["flock", str(lock), "sleep", "30"])
    try:
        # Until the stranger holds it (a non-blocking try then fails).
        subprocess.run(["bash", "-c", f"while flock -n {lock} true; do sleep 0.05; done"], timeout=10, check=True)
        assert _probe(lock) == "False"
    finally:
        stranger.kill()
        stranger.wait()

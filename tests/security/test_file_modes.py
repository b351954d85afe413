"""Issue 14: plain text must not be world-readable on disk. var/dev.env (the signing
secret), var/coa.db, var/rasa_tracker.db, the outbox and the logs are owner-only
(files 0600, directories 0700), whatever the shell's umask. The outbox's own erase
(secure_delete, WAL checkpoint) is tests/actions/test_outbox.py."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from stack import Process, Stack, make_private  # noqa: E402


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_make_creates_the_development_secret_owner_only(tmp_path: Path) -> None:
    result = subprocess.run(["make", "-s", "-C", str(tmp_path), "-f", str(ROOT / "Makefile"), "var/dev.env"],
                            capture_output=True, text=True, timeout=60, env={**os.environ, "MAKEFLAGS": ""})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "dev.env").read_text().startswith("COA_JWT_SECRET=")
    assert mode(tmp_path / "var") == 0o700
    assert mode(tmp_path / "var" / "dev.env") == 0o600


def test_the_stack_makes_state_private_and_its_processes_create_private_files(tmp_path: Path) -> None:
    state = tmp_path / "var"
    state.mkdir(mode=0o755)
    old = state / "coa.db"
    old.write_text("made before the rule")
    old.chmod(0o644)
    make_private(state)
    assert mode(state) == 0o700 and mode(old) == 0o600

    created = state / "rasa_tracker.db"
    stack = Stack(log_dir=tmp_path / "log")
    make_private(stack.log_dir)
    proc = Process("writer", [sys.executable, "-c", f"open({str(created)!r}, 'w').write('x')"], "")
    previous = os.umask(0o022)  # a usual shell umask: files would be 0644
    try:
        stack._spawn(proc, mode="w")
        assert proc.popen is not None and proc.popen.wait(timeout=30) == 0
    finally:
        os.umask(previous)
    assert mode(created) == 0o600
    assert proc.log_path is not None and mode(proc.log_path) == 0o600

"""What every benchmark prints first and last, so that bench/results.md can keep a
run's figures with its date, commit, the machine's load (the machine is shared) and
its speed that day (the same virtual machine ran a fixed loop 1.3 s on one day and
markedly faster on others, which moves every absolute figure with it)."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} (1/5/15 min) on {os.cpu_count()} CPUs"


def cpu_reference() -> str:
    """Seconds for a fixed pure-Python loop: compares absolute figures across days."""
    started = time.perf_counter()
    total = 0
    for number in range(3_000_000):
        total += number
    return f"CPU reference {time.perf_counter() - started:.2f} s (3M-step Python loop)"


def header(name: str) -> str:
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no") else ""
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{name}: {started}, commit {commit}{dirty}, {load()}, {cpu_reference()}"

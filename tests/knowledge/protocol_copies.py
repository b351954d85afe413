"""Mutated copies of the real protocol files, for tests that show a check refuses them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from knowledge.loader import PACKAGE_DIR


def copy_with(tmp_path: Path, protocol_id: str, mutate: Callable[[dict], None]) -> Path:
    """``protocols/<id>.yml`` under ``tmp_path``, changed by ``mutate`` on its parsed YAML."""
    source = PACKAGE_DIR / "protocols" / f"{protocol_id}.yml"
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    mutate(data)
    target = tmp_path / "protocols" / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return target


def raw_step(data: dict, step_id: str) -> dict:
    """The step ``step_id`` in a protocol's parsed YAML."""
    return next(s for s in data["steps"] if s["id"] == step_id)

"""The Teams app package an admin uploads."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "teams"))

import build_package  # noqa: E402

from knowledge import load_knowledge  # noqa: E402


def test_manifest_is_a_personal_bot_with_an_app_id_placeholder() -> None:
    manifest = json.loads((ROOT / "teams" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["manifestVersion"] == "1.16"
    assert "v1.16" in manifest["$schema"]
    assert manifest["id"] == "{{MICROSOFT_APP_ID}}"
    [bot] = manifest["bots"]
    assert bot["botId"] == "{{MICROSOFT_APP_ID}}"
    assert bot["scopes"] == ["personal"]
    assert len(manifest["name"]["short"]) <= 30
    assert len(manifest["description"]["short"]) <= 80


def test_the_store_description_names_every_protocol() -> None:
    """What an admin reads before installing the app keeps up with knowledge/."""
    full = json.loads((ROOT / "teams" / "manifest.json").read_text(encoding="utf-8"))["description"]["full"]
    assert len(full) <= 4000
    for protocol in load_knowledge().protocols.values():
        assert protocol.title.lower() in full.lower(), protocol.title


def test_icons_have_the_sizes_teams_requires() -> None:
    assert Image.open(ROOT / "teams" / "color.png").size == (192, 192)
    outline = Image.open(ROOT / "teams" / "outline.png")
    assert outline.size == (32, 32)
    assert outline.mode == "RGBA"  # white on transparent


def test_package_fills_in_the_app_id(tmp_path: Path) -> None:
    app_id = "12345678-1234-4234-8234-123456789abc"
    out = build_package.build(app_id, "1.0.1", tmp_path / "teams-app.zip")
    with zipfile.ZipFile(out) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
    assert manifest["id"] == manifest["bots"][0]["botId"] == app_id
    assert manifest["version"] == "1.0.1"

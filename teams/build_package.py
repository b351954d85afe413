"""Builds the Teams app package an admin uploads: build/teams-app.zip.

    python3 teams/build_package.py --app-id <Microsoft App ID of the bot>
    (or COA_TEAMS_APP_ID in the environment)

Standard library only. Fills the app id into manifest.json and zips it with the icons.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def build(app_id: str, version: str | None, out: Path) -> Path:
    if not GUID.match(app_id):
        raise SystemExit(f"the app id must be the bot registration's GUID, got {app_id!r}")
    manifest = (HERE / "manifest.json").read_text(encoding="utf-8").replace("{{MICROSOFT_APP_ID}}", app_id)
    data = json.loads(manifest)
    if version:
        data["version"] = version
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(data, indent=2, ensure_ascii=False))
        for icon in ("color.png", "outline.png"):
            package.write(HERE / icon, icon)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-id", default=os.environ.get("COA_TEAMS_APP_ID", ""))
    parser.add_argument("--version", help="app version (raise it for every upload)")
    parser.add_argument("--out", type=Path, default=HERE.parent / "build" / "teams-app.zip")
    args = parser.parse_args()
    print(build(args.app_id, args.version, args.out))


if __name__ == "__main__":
    main()

"""The Rasa project as Rasa itself sees it: data validation and the test stories,
run with the CLI against the model that `make test` trained (models/current)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA = str(Path(sys.executable).parent / "rasa")
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}


def current_model() -> Path:
    marker = ROOT / "models" / "current"
    assert marker.exists(), "no trained model: `make model` trains it"
    return ROOT / "models" / marker.read_text().strip()


def test_data_validates_without_warnings() -> None:
    result = subprocess.run(
        [RASA, "data", "validate", "--fail-on-warnings", "--config", "assistant/config.yml",
         "--domain", "assistant/domain", "--data", "data/nlu", "data/rules", "data/stories"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def story_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rasa-test-core")
    result = subprocess.run(
        [RASA, "test", "core", "--stories", "data/tests", "--model", str(current_model()),
         "--endpoints", "assistant/endpoints.yml", "--out", str(out), "--fail-on-prediction-errors"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return out


def test_every_test_story_is_predicted_exactly(story_results: Path) -> None:
    report = json.loads((story_results / "story_report.json").read_text())
    assert report["conversation_accuracy"]["accuracy"] == 1.0, report["conversation_accuracy"]
    failed = story_results / "failed_test_stories.yml"
    assert not failed.exists() or "story:" not in failed.read_text(), failed.read_text()

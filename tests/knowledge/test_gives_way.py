"""``gives_way``: a report that starts a protocol but says a situation another protocol
leads (violence against a pregnant woman: the meldcode first). The loader refuses an
entry that names no other known protocol, has no phrase or no known source."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from knowledge import PACKAGE_DIR, KnowledgeError, load_knowledge

OZ = "ongewenste_zwangerschap"


def test_unwanted_pregnancy_gives_way_to_domestic_violence_with_a_source() -> None:
    knowledge = load_knowledge()
    (give_way,) = knowledge.protocols[OZ].gives_way
    assert give_way.protocol == "huiselijk_geweld"
    assert {"slaat", "geslagen", "mishandel"} <= set(give_way.phrases)
    assert give_way.source.key == "rijksoverheid_meldcode"
    assert "meldcode huiselijk geweld" in give_way.text
    # Threats alone stay in the pregnancy protocol: it asks about pressure from her
    # surroundings and hands over to eergerelateerd geweld itself.
    assert not any(phrase.startswith(("bedreig", "dreig")) for phrase in give_way.phrases)


def _with_give_way(tmp_path: Path, entry: dict) -> Path:
    root = tmp_path / "knowledge"
    shutil.copytree(PACKAGE_DIR, root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    path = root / "protocols" / f"{OZ}.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["gives_way"] = [entry]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("change", "message"),
    [({"protocol": "onbekend_protocol"}, "'onbekend_protocol' is not another protocol"),
     ({"protocol": OZ}, f"'{OZ}' is not another protocol"),
     ({"when": []}, "'when' must list at least one phrase"),
     ({"source": "geen_bron"}, "unknown source 'geen_bron'"),
     ({"reden": "x"}, "reden")],
)
def test_a_broken_entry_is_refused_naming_the_file(tmp_path: Path, change: dict, message: str) -> None:
    entry = {"protocol": "huiselijk_geweld", "when": ["slaat"], "text": "Eerst de meldcode.",
             "source": "rijksoverheid_meldcode", **change}
    with pytest.raises(KnowledgeError) as refused:
        load_knowledge(_with_give_way(tmp_path, entry))
    assert f"{OZ}.yml" in str(refused.value) and message in str(refused.value)

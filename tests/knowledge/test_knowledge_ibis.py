"""The protocol -> IBIS category mapping (issue 15 part 6): every protocol and every
neutral record category has one, each marked for checking, and a broken file is
refused with the id that is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge import Knowledge, load_knowledge
from knowledge.ibis import IBIS_FILE, load_ibis_mapping
from knowledge.model import KnowledgeError

REVEALING = ("lhbt", "lgbt", "orient", "geloof", "bekering", "religi")


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge()


def _raw() -> dict[str, Any]:
    return yaml.safe_load(IBIS_FILE.read_text(encoding="utf-8"))


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "ibis_mapping.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_every_protocol_and_category_has_an_ibis_category_to_verify(knowledge: Knowledge) -> None:
    mapping = load_ibis_mapping(knowledge)
    assert set(mapping) == set(knowledge.protocols) | set(knowledge.categories)
    # IBIS's categories are not public: none may be presented as confirmed.
    assert all(entry.check for entry in mapping.values())


def test_the_neutral_category_maps_to_nothing_revealing(knowledge: Knowledge) -> None:
    mapping = load_ibis_mapping(knowledge)
    for category in knowledge.categories:
        assert not any(word in mapping[category].category.casefold() for word in REVEALING)


def test_a_protocol_without_a_mapping_is_refused_by_name(knowledge: Knowledge, tmp_path: Path) -> None:
    data = _raw()
    del data["mappings"]["mensenhandel"]
    with pytest.raises(KnowledgeError, match="no IBIS category for: mensenhandel"):
        load_ibis_mapping(knowledge, _write(tmp_path, data))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(onbekend_protocol={"category": "X", "check": True}), "mapping 'onbekend_protocol'"),
        (lambda m: m["seksueel_geweld"].update(check="ja"), "'check' must be true or false"),
        (lambda m: m["seksueel_geweld"].update(category=""), "'category' must be a text"),
        (lambda m: m["seksueel_geweld"].update(code=12), "unknown field"),
    ],
)
def test_a_broken_mapping_is_refused(knowledge: Knowledge, tmp_path: Path, change: Any, message: str) -> None:
    data = _raw()
    change(data["mappings"])
    with pytest.raises(KnowledgeError, match=message):
        load_ibis_mapping(knowledge, _write(tmp_path, data))

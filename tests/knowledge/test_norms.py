"""knowledge/norms.yml: the minimum norms load, validate and refuse broken files."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge import Knowledge, load_knowledge
from knowledge.model import KnowledgeError
from knowledge.norms import NORMS_FILE, REVIEW_STATUSES, RULES, load_norms

EXPECTED = {"veilig_thuis_binnen_24_uur", "politie_bij_acuut", "review_binnen_5_werkdagen"}


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge()


def _raw() -> dict[str, Any]:
    return yaml.safe_load(NORMS_FILE.read_text(encoding="utf-8"))


def _load(tmp_path: Path, data: Any, knowledge: Knowledge | None = None) -> Any:
    path = tmp_path / "norms.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    if knowledge is None:
        return load_norms(path)
    return load_norms(path, protocols=set(knowledge.protocols), organisations=set(knowledge.organisations))


def test_the_shipped_norms_load_against_the_knowledge(knowledge: Knowledge) -> None:
    norms = load_norms(protocols=set(knowledge.protocols), organisations=set(knowledge.organisations))
    assert set(norms) == EXPECTED
    vt = norms["veilig_thuis_binnen_24_uur"]
    assert vt.rule == "referral_within_hours" and vt.referral == "veilig_thuis" and vt.hours == 24
    assert set(vt.protocols) == {"eergerelateerd_geweld", "seksueel_geweld"}
    assert norms["politie_bij_acuut"].referral == "politie"
    review = norms["review_binnen_5_werkdagen"]
    assert review.status == "afgehandeld" and review.working_days == 5 and review.protocols == ()
    for norm in norms.values():
        assert norm.source.key == "seed_letter" and norm.source.url == "seed letter"
        assert norm.description and norm.title


def test_every_rule_kind_is_used_or_known() -> None:
    assert {norm["rule"] for norm in _raw()["norms"]} <= set(RULES)
    assert "afgehandeld" in REVIEW_STATUSES


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda n: n.update(rule="vibes"), "unknown rule 'vibes'"),
        (lambda n: n.pop("description"), "missing field(s) description"),
        (lambda n: n.update(referral="brandweer"), "unknown referral brandweer"),
        (lambda n: n.update(protocols=["eergerelateerd_geweld", "nope"]), "unknown protocols nope"),
        (lambda n: n.update(hours=0), "'hours' must be a positive whole number"),
        (lambda n: n.update(hours=True), "'hours' must be a positive whole number"),
        (lambda n: n.update(source="wikipedia"), "unknown source 'wikipedia'"),
        (lambda n: n.update(extra="x"), "unknown field(s) extra"),
        (lambda n: n.update(id="Met Spaties"), "lower-case identifier"),
        (lambda n: n.update(title="  "), "'title' must be a non-empty text"),
    ],
)
def test_a_broken_norm_is_refused_with_its_name(
    tmp_path: Path, knowledge: Knowledge, change: Any, message: str
) -> None:
    data = copy.deepcopy(_raw())
    change(data["norms"][0])
    with pytest.raises(KnowledgeError) as excinfo:
        _load(tmp_path, data, knowledge)
    assert message in str(excinfo.value)
    assert "norms.yml" in str(excinfo.value)


def test_unknown_review_status_and_duplicates_are_refused(tmp_path: Path) -> None:
    data = copy.deepcopy(_raw())
    data["norms"][2]["status"] = "beoordeeld"
    with pytest.raises(KnowledgeError, match="unknown review status 'beoordeeld'"):
        _load(tmp_path, data)
    data = copy.deepcopy(_raw())
    data["norms"].append(copy.deepcopy(data["norms"][0]))
    with pytest.raises(KnowledgeError, match="duplicate id"):
        _load(tmp_path, data)


@pytest.mark.parametrize("content", ["norms: {}", "- a\n- b", "norms: []", "norms: [1]", "a: [b"])
def test_a_malformed_file_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "norms.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(KnowledgeError):
        load_norms(path)

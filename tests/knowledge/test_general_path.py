"""The safe general path (issue 13, part 5) as knowledge: right whatever the situation
turns out to be, checked over every path; and what the loader refuses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from knowledge import Knowledge, KnowledgeError, iter_paths, load_knowledge, path_referrals
from knowledge.graph import answers_of
from knowledge.invariants import MAX_PATH_STEPS, check_protocol
from knowledge.loader import PACKAGE_DIR

GENERAL_FILE = PACKAGE_DIR / "general" / "algemene_veiligheid.yml"


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return load_knowledge()


def test_the_general_path_is_filed_under_the_neutral_category_and_is_no_protocol(knowledge: Knowledge) -> None:
    general = knowledge.general_path
    assert general is not None
    assert general.id == "algemene_veiligheid" and general.id in knowledge.categories
    assert general.id not in knowledge.protocols  # not a protocol id (contract list unchanged)
    assert knowledge.guide(general.id) is general
    assert knowledge.protocol_for_intent(general.intent) is general
    assert general.reference_prefix == knowledge.categories[general.id].reference_prefix == "VEI"


def test_every_path_refers_to_veilig_thuis_and_names_the_contactpersoon_veiligheid(knowledge: Knowledge) -> None:
    general = knowledge.general_path
    assert general is not None
    paths = list(iter_paths(general))
    assert len(paths) == 6  # acute yes/no x adult / child with family / amv
    for path in paths:
        assert "veilig_thuis" in path_referrals(path), [p.step.id for p in path]
        positions = {kp for item in path for kp in item.step.key_positions}
        assert "contactpersoon_veiligheid" in positions
        assert len([p for p in path if p.step.kind != "outcome"]) <= MAX_PATH_STEPS


def test_an_acute_answer_leads_to_112_first(knowledge: Knowledge) -> None:
    general = knowledge.general_path
    assert general is not None
    first = general.first_step
    assert first.acute_answers == frozenset({"ja"})
    after_yes = general.steps[dict(answers_of(first))["ja"]]
    assert "112" in after_yes.text and "politie" in after_yes.referrals


def test_an_unaccompanied_minor_brings_in_nidos_and_a_child_never_the_family_first(knowledge: Knowledge) -> None:
    general = knowledge.general_path
    assert general is not None
    for path in iter_paths(general):
        answers = {item.answer for item in path}
        if "amv" in answers:
            assert "nidos" in path_referrals(path)
        if "kind_met_ouders" in answers:
            advice = " ".join(item.step.text for item in path)
            assert "Informeer de ouders niet zelf" in advice


def test_the_general_path_passes_every_safety_invariant(knowledge: Knowledge) -> None:
    general = knowledge.general_path
    assert general is not None
    assert check_protocol(general) == []
    assert all(step.source is not None for step in general.steps.values())


def _copy_knowledge(tmp_path: Path) -> Path:
    root = tmp_path / "knowledge"
    shutil.copytree(PACKAGE_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def _mutate_general(root: Path, change: dict) -> None:
    path = root / "general" / "algemene_veiligheid.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(change)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize(("change", "message"), [
    ({"reference_prefix": "ALG"}, "differs from its category's 'VEI'"),
    ({"intent": "melding_suicidaliteit"}, "already starts 'suicidaliteit'"),
    ({"required_referrals": []}, None),  # allowed: the path still refers to Veilig Thuis
])
def test_the_loader_checks_the_general_path(tmp_path: Path, change: dict, message: str | None) -> None:
    root = _copy_knowledge(tmp_path)
    _mutate_general(root, change)
    if message is None:
        assert load_knowledge(root).general_path is not None
        return
    with pytest.raises(KnowledgeError, match=message):
        load_knowledge(root)


def test_a_general_path_that_is_not_a_category_is_refused(tmp_path: Path) -> None:
    root = _copy_knowledge(tmp_path)
    source = root / "general" / "algemene_veiligheid.yml"
    text = source.read_text(encoding="utf-8").replace("id: algemene_veiligheid", "id: iets_anders", 1)
    (root / "general" / "iets_anders.yml").write_text(text, encoding="utf-8")
    (root / "general" / "algemene_veiligheid.nlu.yml").rename(root / "general" / "iets_anders.nlu.yml")
    source.unlink()
    with pytest.raises(KnowledgeError, match="must be a record category"):
        load_knowledge(root)


def test_a_general_path_without_veilig_thuis_on_a_path_is_refused(tmp_path: Path) -> None:
    root = _copy_knowledge(tmp_path)
    path = root / "general" / "algemene_veiligheid.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for step in data["steps"]:
        if "veilig_thuis" in step.get("referrals", []):
            step["referrals"] = [r for r in step["referrals"] if r != "veilig_thuis"]
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KnowledgeError, match="veilig_thuis"):
        load_knowledge(root)


def test_two_general_paths_are_refused(tmp_path: Path) -> None:
    root = _copy_knowledge(tmp_path)
    shutil.copy(root / "general" / "algemene_veiligheid.yml", root / "general" / "tweede.yml")
    with pytest.raises(KnowledgeError, match="one general path expected"):
        load_knowledge(root)

"""Follow-up actions (issue 15): each protocol's decision asks for actions with a
deadline from norms.yml's ``follow_up_norms``; the loader refuses a follow-up whose
norm or organisation is unknown, naming the file and the follow-up."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from knowledge import PACKAGE_DIR, KnowledgeError, load_knowledge
from knowledge.norms import load_follow_up_norms, load_norms

UTC = timezone.utc  # the knowledge tests also run on Python 3.10 (no datetime.UTC)


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "knowledge"
    shutil.copytree(PACKAGE_DIR, root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return root


def _edit_follow_ups(root: Path, protocol: str, edit) -> None:
    path = root / "protocols" / f"{protocol}.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data["follow_ups"])
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_every_protocol_asks_for_a_review_and_every_action_has_a_known_deadline() -> None:
    knowledge = load_knowledge()
    norms = load_follow_up_norms()
    for protocol in knowledge.protocols.values():
        ids = [f.id for f in protocol.follow_ups]
        assert "beoordeeld_contactpersoon_veiligheid" in ids, protocol.id
        assert len(ids) == len(set(ids)), protocol.id
        for follow_up in protocol.follow_ups:
            assert follow_up.norm in norms, (protocol.id, follow_up.id)
            assert follow_up.organisation is None or follow_up.organisation in knowledge.organisations


def test_veilig_thuis_is_a_follow_up_where_the_seed_letter_asks_for_it() -> None:
    knowledge = load_knowledge()
    for protocol_id in ("eergerelateerd_geweld", "seksueel_geweld"):
        veilig_thuis = [f for f in knowledge.protocols[protocol_id].follow_ups if f.organisation == "veilig_thuis"]
        assert [(f.action, f.norm) for f in veilig_thuis] == [("Veilig Thuis gebeld", "veilig_thuis_binnen_24_uur")]
    assert load_follow_up_norms()["veilig_thuis_binnen_24_uur"].hours == 24
    assert load_follow_up_norms()["csg_binnen_72_uur"].hours == 72


def test_gza_is_a_follow_up_the_same_day_after_suicidal_thoughts_or_self_harm() -> None:
    """DOMAIN.md: involve GZA (the resident's GP) the same day. Every path refers to GZA
    (required_referrals), so every decision asks for it, within 24 hours."""
    protocol = load_knowledge().protocols["suicidaliteit"]
    gza = [f for f in protocol.follow_ups if f.organisation == "gza"]
    assert [(f.action, f.norm) for f in gza] == [("GZA ingeschakeld", "gza_dezelfde_dag")]
    assert "gza" in protocol.required_referrals
    assert load_follow_up_norms()["gza_dezelfde_dag"].hours == 24


def test_an_action_with_an_organisation_applies_only_when_the_decision_refers_to_it() -> None:
    protocol = load_knowledge().protocols["seksueel_geweld"]
    asked = [f.id for f in protocol.follow_ups if f.applies(["veilig_thuis"])]
    assert asked == ["veilig_thuis_gebeld", "vervolggesprek_slachtoffer", "beoordeeld_contactpersoon_veiligheid"]
    with_csg = [f.id for f in protocol.follow_ups if f.applies(["veilig_thuis", "centrum_seksueel_geweld"])]
    assert "csg_gebeld" in with_csg


def test_deadlines_in_hours_and_in_working_days() -> None:
    norms = load_follow_up_norms()
    friday = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)
    assert norms["veilig_thuis_binnen_24_uur"].due_at(friday) == datetime(2026, 12, 5, 15, 30, tzinfo=UTC)
    # Five working days after a Friday: Monday to Friday of the next week, due at its end.
    assert norms["beoordeling_binnen_5_werkdagen"].due_at(friday) == datetime(2026, 12, 12, tzinfo=UTC)
    assert norms["vervolggesprek_binnen_een_week"].due_at(friday) == datetime(2026, 12, 11, 15, 30, tzinfo=UTC)


def test_the_follow_up_section_is_not_read_as_minimum_norms() -> None:
    norms = load_norms()
    assert "politie_bij_acuut" in norms
    # Deadlines only: the indicators' SQL (api/indicators/norms_sql.py) never sees them.
    assert not {"csg_binnen_72_uur", "vervolggesprek_binnen_een_week"} & set(norms)


def test_unknown_norm_is_refused_naming_file_and_follow_up(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    _edit_follow_ups(root, "seksueel_geweld", lambda items: items[0].update(norm="binnen_een_jaar"))
    with pytest.raises(KnowledgeError) as refused:
        load_knowledge(root)
    message = str(refused.value)
    assert "seksueel_geweld.yml" in message and "veilig_thuis_gebeld" in message and "binnen_een_jaar" in message


def test_follow_up_without_norm_or_with_unknown_organisation_is_refused(tmp_path: Path) -> None:
    root = _copy(tmp_path)

    def broken(items: list[dict]) -> None:
        items[0].pop("norm")
        items[1]["organisation"] = "onbekende_dienst"
        items.append(dict(items[2]))  # a duplicate id

    _edit_follow_ups(root, "eergerelateerd_geweld", broken)
    with pytest.raises(KnowledgeError) as refused:
        load_knowledge(root)
    message = str(refused.value)
    assert "eergerelateerd_geweld.yml" in message
    assert "follow-up #1" in message and "'norm'" in message
    assert "unknown organisation 'onbekende_dienst'" in message
    assert "duplicate follow-up id 'vervolggesprek_slachtoffer'" in message


def test_a_follow_up_norm_needs_exactly_one_time_limit(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "norms.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["follow_up_norms"][0]["working_days"] = 1
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KnowledgeError, match="exactly one of 'hours' and 'working_days'"):
        load_follow_up_norms(path)

"""The real knowledge files: organisations, sources, API behaviour."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge import (
    KEY_POSITIONS,
    Knowledge,
    PathStep,
    iter_paths,
    load_knowledge,
    path_key_positions,
    path_referrals,
)
from knowledge.loader import PACKAGE_DIR

CONTRACT_ORGANISATIONS = {
    "politie",
    "veilig_thuis",
    "lec_egg",
    "centrum_seksueel_geweld",
    "slachtofferhulp",
    "vrouwenopvang",
    "siriz",
    "fiom",
    "gza",
    "ggd",
    "coc",
    "lgbt_asylum_support",
    "roze_in_blauw",
    "comensha",
    # second release (issue 13)
    "nidos",
    "zelfmoordpreventie_113",
    "arbeidsinspectie",
    "pharos",
    "landelijk_knooppunt_huwelijksdwang",
}

#: Every phone number DOMAIN.md gives, and whether it is marked [check] there.
DOMAIN_PHONES = {
    "112": False,
    "0900-8844": False,
    "0800-2000": False,
    "088-9648550": True,
    "0900-0101": False,
    "0800-0188": False,
    "0800-6160": False,
    "088-1122112": True,
    "0800-5151": False,
    "113": False,
    "0800-0113": False,
}


def test_all_contract_organisations(kb: Knowledge):
    assert set(kb.organisations) >= CONTRACT_ORGANISATIONS


def test_phone_numbers_only_from_domain(kb: Knowledge):
    for org in kb.organisations.values():
        numbers = re.findall(r"\d[\d-]{1,}\d", f"{org.phone or ''} {org.phone_note or ''}")
        for number in numbers:
            if number in ("08", "30-17", "00"):  # opening hours, not numbers
                continue
            assert number in DOMAIN_PHONES or re.fullmatch(r"\d{2}", number), (org.id, number)
        if org.phone:
            assert org.phone in DOMAIN_PHONES, org.id
            assert org.verify == DOMAIN_PHONES[org.phone], org.id


def test_specific_organisations(kb: Knowledge):
    orgs = kb.organisations
    assert orgs["politie"].phone == "112" and "0900-8844" in orgs["politie"].phone_note
    assert orgs["veilig_thuis"].phone == "0800-2000" and not orgs["veilig_thuis"].verify
    assert orgs["lec_egg"].phone == "088-9648550" and orgs["lec_egg"].verify
    assert orgs["gza"].phone == "088-1122112" and orgs["gza"].verify
    assert orgs["siriz"].phone is None and orgs["siriz"].website
    for org in orgs.values():
        assert org.source.key in kb.sources and org.name and org.description


def test_round_the_clock_is_where_domain_says_24_7(kb: Knowledge):
    """DOMAIN.md: Veilig Thuis, CSG, Fiom and 113 are 24/7, GZA's line for urgent matters;
    the police carry no flag because every out-of-hours note names 112 itself."""
    flagged = {org.id for org in kb.organisations.values() if org.round_the_clock}
    assert flagged == {"veilig_thuis", "centrum_seksueel_geweld", "fiom", "gza", "zelfmoordpreventie_113"}


def test_sources_catalogue(kb: Knowledge):
    assert kb.sources["seed_letter"].url == "seed letter"
    for source in kb.sources.values():
        assert source.url == "seed letter" or source.url.startswith("https://"), source


def test_protocol_metadata(kb: Knowledge):
    egg = kb.protocols["eergerelateerd_geweld"]
    assert egg.version == "1.2.0" and egg.title and egg.summary
    assert egg.intent == "melding_eergerelateerd_geweld"
    assert kb.protocol_for_intent("melding_eergerelateerd_geweld") is egg
    assert kb.protocol_for_intent("greet") is None
    assert egg.required_referrals == ("veilig_thuis",)
    assert egg.forbidden_advice == ("contact_familie", "bemiddeling_familie")
    assert egg.file == PACKAGE_DIR / "protocols" / "eergerelateerd_geweld.yml"
    kinds = {step.kind for step in egg.steps.values()}
    assert {"yes_no", "choice", "instruction", "outcome"} <= kinds
    assert kinds & {"number", "text"}
    for step in egg.steps.values():
        assert set(step.key_positions) <= set(KEY_POSITIONS)


def test_next_for_each_kind(kb: Knowledge):
    egg = kb.protocols["eergerelateerd_geweld"]
    first = egg.steps["acuut_gevaar"]
    assert first.next_for("ja") == "bel_112"
    assert first.next_for(" Nee ") == "vorm_dreiging"
    assert first.next_for(True) == "bel_112"
    assert first.next_for("misschien") is None
    assert first.is_acute("ja") and not first.is_acute("nee")
    choice = egg.steps["vorm_dreiging"]
    assert choice.next_for("huwelijksdwang") == "knooppunt_huwelijksdwang"
    assert choice.next_for("Huwelijksdwang") == "knooppunt_huwelijksdwang"
    assert choice.next_for("gedwongen huwelijk") == "knooppunt_huwelijksdwang"
    assert choice.next_for("anders") == "vorm_anders"
    assert choice.next_for("fiets") is None
    assert egg.steps["vorm_anders"].next_for("vreemde sfeer") == "deskundige_raadplegen"
    assert egg.steps["vorm_anders"].next_for("") is None
    assert egg.steps["bel_112"].next_for(None) == "vorm_dreiging"
    assert egg.steps["melding_veilig_thuis"].next_for("ja") is None


def test_next_for_number(kb, protocol_data, write_protocol):
    from knowledge import load_protocol_file

    protocol = load_protocol_file(write_protocol(protocol_data), kb.organisations, kb.sources)
    days = protocol.steps["dagen"]
    assert days.next_for(3) == "melden" and days.next_for("12") == "melden"
    assert days.next_for(-1) is None and days.next_for("veel") is None
    answers = [[item.answer for item in path] for path in iter_paths(protocol)]
    assert ["ja", None, "bedreiging", 0, None] in answers
    assert ["nee", "anders", None, 8, None] in answers


def test_path_helpers(kb: Knowledge):
    egg = kb.protocols["eergerelateerd_geweld"]
    path = next(iter_paths(egg))
    assert isinstance(path[0], PathStep) and path[0].step.id == egg.start
    referrals = path_referrals(path)
    assert referrals[0] == "politie" and len(referrals) == len(set(referrals))
    assert "veilig_thuis" in referrals
    assert "aandachtsfunctionaris" in path_key_positions(path)


def test_steps_are_hashable_and_frozen(kb: Knowledge):
    step = kb.protocols["eergerelateerd_geweld"].first_step
    assert step in {step}
    with pytest.raises(AttributeError):
        step.text = "x"  # type: ignore[misc]


def test_load_knowledge_from_another_root(kb, tmp_path, protocol_data, write_yaml):
    for name in ("sources.yml", "organisations.yml", "key_positions.yml", "locations.yml"):
        (tmp_path / name).write_text((PACKAGE_DIR / name).read_text("utf-8"), "utf-8")
    write_yaml(tmp_path / "protocols" / "test_protocol.yml", protocol_data)
    other = load_knowledge(tmp_path)
    assert list(other.protocols) == ["test_protocol"]


def test_imports_only_stdlib_and_yaml():
    """knowledge must import under both environments: stdlib + PyYAML only."""
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys; before = set(sys.modules); import knowledge; knowledge.load_knowledge();"
        "new = {m.split('.')[0] for m in set(sys.modules) - before};"
        "print(' '.join(sorted(m for m in new if m not in sys.stdlib_module_names)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    # PyYAML's C extension brings Cython's runtime modules along
    out = [m for m in out if not m.startswith(("_cython", "cython_runtime"))]
    assert set(out) <= {"knowledge", "yaml", "_yaml"}, out

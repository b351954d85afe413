"""The loader refuses broken knowledge files, naming the file and the step."""

from __future__ import annotations

import pytest

from knowledge import KnowledgeError, load_protocol_file
from knowledge.loader import load_organisations, load_sources


def load(path, kb, **kwargs):
    return load_protocol_file(path, kb.organisations, kb.sources, **kwargs)


def assert_refused(path, kb, *fragments: str) -> str:
    with pytest.raises(KnowledgeError) as info:
        load(path, kb)
    message = str(info.value)
    assert path.name in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_valid_fixture_loads(kb, protocol_data, write_protocol):
    protocol = load(write_protocol(protocol_data), kb)
    assert protocol.id == "test_protocol"
    assert list(protocol.steps) == [s["id"] for s in protocol_data["steps"]]
    assert protocol.steps["bel_112"].next == {"*": "soort"}


def test_unknown_next_step(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "bel_112")["next"] = "nergens"
    assert_refused(write_protocol(protocol_data), kb, "'bel_112'", "nergens")


def test_unreachable_step(kb, protocol_data, write_protocol):
    protocol_data["steps"].append(
        {
            "id": "vergeten",
            "kind": "outcome",
            "outcome": "x",
            "title": "Vergeten",
            "text": "Vergeten.",
            "source": "augeo",
            "referrals": ["veilig_thuis"],
            "key_positions": ["aandachtsfunctionaris"],
        }
    )
    assert_refused(write_protocol(protocol_data), kb, "'vergeten'", "unreachable")


def test_instruction_without_next_is_a_dead_end(kb, protocol_data, write_protocol, step_of):
    del step_of(protocol_data, "omschrijving")["next"]
    assert_refused(write_protocol(protocol_data), kb, "'omschrijving'")


def test_yes_no_without_nee(kb, protocol_data, write_protocol, step_of):
    del step_of(protocol_data, "acuut")["next"]["nee"]
    assert_refused(write_protocol(protocol_data), kb, "'acuut'", "'nee'")


def test_yes_no_with_english_keys(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "acuut")["next"] = {"yes": "bel_112", "no": "soort"}
    assert_refused(write_protocol(protocol_data), kb, "'acuut'", "'ja'")


def test_choice_option_without_next(kb, protocol_data, write_protocol, step_of):
    del step_of(protocol_data, "soort")["options"][1]["next"]
    assert_refused(write_protocol(protocol_data), kb, "'soort'", "'anders'")


@pytest.mark.parametrize(("ages", "fragment"), [
    ({"min_age": "18"}, "'min_age'"), ({"max_age": -1}, "'max_age'"), ({"min_age": 18, "max_age": 17}, "above"),
])
def test_option_ages_are_checked(kb, protocol_data, write_protocol, step_of, ages, fragment):
    step_of(protocol_data, "soort")["options"][1].update(ages)
    assert_refused(write_protocol(protocol_data), kb, "'soort'", fragment)


def test_option_ages_load(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "soort")["options"][1].update(min_age=18)
    option = load(write_protocol(protocol_data), kb).steps["soort"].options[1]
    assert (option.min_age, option.max_age) == (18, None)
    assert option.holds_age(18) and option.holds_age(80) and not option.holds_age(17)


def test_number_ranges_with_a_gap(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "dagen")["ranges"][1]["min"] = 10
    assert_refused(write_protocol(protocol_data), kb, "'dagen'", "gap")


def test_number_with_unknown_unit_and_round_loads(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "dagen").update(unknown="melden", unit="days", round="up")
    days = load(write_protocol(protocol_data), kb).steps["dagen"]
    assert (days.unknown, days.unit, days.round_up) == ("melden", "days", True)
    assert days.next_for("onbekend") == "melden" and days.next_for(3) == "melden"


def test_number_unknown_to_a_missing_step(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "dagen")["unknown"] = "nergens"
    assert_refused(write_protocol(protocol_data), kb, "'dagen'", "nergens")


def test_number_unit_and_round_are_checked(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "dagen").update(unit="uren", round="half")
    assert_refused(write_protocol(protocol_data), kb, "'dagen'", "uren", "half")


def test_unknown_only_on_a_number_question(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "acuut")["unknown"] = "bel_112"
    assert_refused(write_protocol(protocol_data), kb, "'acuut'", "'unknown' only belongs to a number question")


def test_the_unknown_branch_is_checked_like_every_path(kb, protocol_data, write_protocol, step_of):
    """A path through "Weet ik niet" must end in an outcome with the required referrals too."""
    protocol_data["steps"].append({"id": "einde_zonder_melding", "kind": "outcome", "outcome": "niets",
                                   "title": "Niets", "text": "Niets te doen.", "source": "augeo",
                                   "key_positions": ["aandachtsfunctionaris"], "actions": ["Niets."]})
    step_of(protocol_data, "dagen")["unknown"] = "einde_zonder_melding"
    assert_refused(write_protocol(protocol_data), kb, "einde_zonder_melding", "veilig_thuis")


def test_cycle(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "omschrijving")["next"] = "soort"
    message = assert_refused(write_protocol(protocol_data), kb, "cycle")
    assert "'soort'" in message or "'omschrijving'" in message


def test_unknown_organisation(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "melden")["referrals"].append("brandweer")
    assert_refused(write_protocol(protocol_data), kb, "'melden'", "brandweer")


def test_missing_source(kb, protocol_data, write_protocol, step_of):
    del step_of(protocol_data, "dagen")["source"]
    assert_refused(write_protocol(protocol_data), kb, "'dagen'", "source")


def test_unknown_source(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "dagen")["source"] = "wikipedia"
    assert_refused(write_protocol(protocol_data), kb, "'dagen'", "wikipedia")


def test_unknown_key_position(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "melden")["key_positions"] = ["directeur"]
    assert_refused(write_protocol(protocol_data), kb, "'melden'", "directeur")


def test_unknown_kind(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "dagen")["kind"] = "slider"
    assert_refused(write_protocol(protocol_data), kb, "'dagen'", "slider")


def test_duplicate_step_id(kb, protocol_data, write_protocol, step_of):
    duplicate = dict(step_of(protocol_data, "melden"))
    protocol_data["steps"].append(duplicate)
    assert_refused(write_protocol(protocol_data), kb, "'melden'", "duplicate")


def test_question_without_help(kb, protocol_data, write_protocol, step_of):
    del step_of(protocol_data, "soort")["help"]
    assert_refused(write_protocol(protocol_data), kb, "'soort'", "help")


def test_unknown_field_is_a_typo(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "melden")["refferals"] = ["politie"]
    assert_refused(write_protocol(protocol_data), kb, "'melden'", "refferals")


def test_outcome_without_code(kb, protocol_data, write_protocol, step_of):
    del step_of(protocol_data, "melden")["outcome"]
    assert_refused(write_protocol(protocol_data), kb, "'melden'", "outcome")


def test_outcome_without_key_position(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "melden")["key_positions"] = []
    assert_refused(write_protocol(protocol_data), kb, "'melden'", "key position")


def test_acute_answer_not_an_answer(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "acuut")["acute_answers"] = ["misschien"]
    assert_refused(write_protocol(protocol_data), kb, "'acuut'", "misschien")


def test_acute_answer_must_lead_to_112(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "bel_112")["text"] = "Bel de politie."
    assert_refused(write_protocol(protocol_data), kb, "'acuut'", "112")


def test_acute_answer_must_refer_to_police(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "bel_112")["referrals"] = []
    assert_refused(write_protocol(protocol_data), kb, "'acuut'", "politie")


def test_required_referral_missing_from_outcome(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "melden")["referrals"] = []
    assert_refused(write_protocol(protocol_data), kb, "'melden'", "veilig_thuis")


def test_id_must_match_file_name(kb, protocol_data, write_protocol, tmp_path):
    path = write_protocol(protocol_data).rename(tmp_path / "protocols" / "ander.yml")
    assert_refused(path, kb, "protocol", "ander")


def test_version_must_be_a_string(kb, protocol_data, write_protocol):
    protocol_data["version"] = 1.0
    assert_refused(write_protocol(protocol_data), kb, "version")


def test_duplicate_yaml_key(kb, protocol_data, write_protocol):
    path = write_protocol(protocol_data)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("title: Test", "title: Test\ntitle: Twee"), encoding="utf-8")
    assert_refused(path, kb, "duplicate key")


def test_invalid_yaml(kb, tmp_path):
    path = tmp_path / "kapot.yml"
    path.write_text("steps: [\n", encoding="utf-8")
    assert_refused(path, kb, "invalid YAML")


def test_unknown_forbidden_advice_id(kb, protocol_data, write_protocol):
    protocol_data["forbidden_advice"] = ["iets_anders"]
    assert_refused(write_protocol(protocol_data), kb, "iets_anders")


def test_all_problems_reported_at_once(kb, protocol_data, write_protocol, step_of):
    step_of(protocol_data, "dagen")["source"] = "wikipedia"
    step_of(protocol_data, "melden")["key_positions"] = ["directeur"]
    assert_refused(write_protocol(protocol_data), kb, "'dagen'", "'melden'")


# --- organisations and sources ---------------------------------------------

ORGANISATION = {
    "id": "voorbeeld",
    "name": "Voorbeeld",
    "description": "Een organisatie.",
    "phone": "0800-1234",
    "website": "https://example.org",
    "source": "seed_letter",
}


def organisations_refused(kb, tmp_path, write_yaml, entries, *fragments):
    path = write_yaml(tmp_path / "organisations.yml", {"organisations": entries})
    with pytest.raises(KnowledgeError) as info:
        load_organisations(path, kb.sources)
    message = str(info.value)
    assert path.name in message, message
    for fragment in fragments:
        assert fragment in message, message


def test_valid_organisation(kb, tmp_path, write_yaml):
    path = write_yaml(tmp_path / "organisations.yml", {"organisations": [ORGANISATION]})
    org = load_organisations(path, kb.sources)["voorbeeld"]
    assert org.phone == "0800-1234" and org.source.key == "seed_letter"
    assert org.verify is False and org.phone_note is None


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"source": None}, "source"),
        ({"source": "wikipedia"}, "wikipedia"),
        ({"phone": "bel maar"}, "phone"),
        ({"telefoon": "0800-1234"}, "telefoon"),
        ({"verify": "ja"}, "verify"),
        ({"name": ""}, "name"),
        ({"round_the_clock": "24/7"}, "round_the_clock"),
        ({"phone": None, "website": "https://voorbeeld.example", "round_the_clock": True}, "round_the_clock"),
    ],
)
def test_broken_organisation(kb, tmp_path, write_yaml, change, fragment):
    entry = {**ORGANISATION, **change}
    entry = {k: v for k, v in entry.items() if v is not None}
    organisations_refused(kb, tmp_path, write_yaml, [entry], "'voorbeeld'", fragment)


def test_duplicate_organisation(kb, tmp_path, write_yaml):
    organisations_refused(kb, tmp_path, write_yaml, [ORGANISATION, ORGANISATION], "'voorbeeld'", "duplicate")


def test_broken_source(tmp_path, write_yaml):
    path = write_yaml(tmp_path / "sources.yml", {"ergens": {"title": "Ergens"}})
    with pytest.raises(KnowledgeError) as info:
        load_sources(path)
    assert "sources.yml" in str(info.value) and "'ergens'" in str(info.value)
    assert "url" in str(info.value)



@pytest.mark.parametrize(("step", "title", "fragment"), [
    ("melden", None, "needs a short 'title'"),
    ("acuut", "Acuut", "'title' on a step that is not an outcome"),
    ("melden", "Melden " * 12, "at most 80 characters"),
])
def test_an_outcome_and_only_an_outcome_has_a_short_title(kb, protocol_data, write_protocol, step_of,
                                                          step, title, fragment):
    step_of(protocol_data, step)["title"] = title
    assert_refused(write_protocol(protocol_data), kb, f"'{step}'", fragment)

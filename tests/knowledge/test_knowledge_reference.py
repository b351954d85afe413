"""Reference texts (reference/meldcode.yml), organisations' ``when`` texts, the
consent gate on recorded answers, and the numbered main path of a protocol."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge import KnowledgeError, load_knowledge, load_reference_file, main_path
from knowledge.loader import PACKAGE_DIR, load_organisations

MELDCODE = PACKAGE_DIR / "reference" / "meldcode.yml"


def meldcode_data() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(MELDCODE.read_text(encoding="utf-8")))


def write(tmp_path: Path, data: Any, name: str = "meldcode.yml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def refused(path: Path, kb, *fragments: str) -> str:
    with pytest.raises(KnowledgeError) as info:
        load_reference_file(path, kb.sources)
    message = str(info.value)
    assert path.name in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


# --------------------------------------------------------------------------- meldcode


def test_meldcode_has_the_five_steps_in_order_each_with_a_source(kb) -> None:
    meldcode = kb.references["meldcode"]
    assert [s.number for s in meldcode.steps] == [1, 2, 3, 4, 5]
    assert all(s.title and s.text and s.source.key in kb.sources for s in meldcode.steps)
    assert meldcode.step(4).source.key == "rijksoverheid_afwegingskader"
    assert meldcode.step(6) is None
    assert "Veilig Thuis" in meldcode.step(2).text


def test_meldcode_has_the_five_afwegingskader_questions(kb) -> None:
    questions = kb.references["meldcode"].questions
    assert [q.number for q in questions] == [1, 2, 3, 4, 5]
    # question 2 names the acute list (trafficking, honour revenge, forced marriage,
    # FGM) from the interventieacademie's afwegingsvraag 2 (issue 12)
    assert all(q.source.key == "rijksoverheid_afwegingskader" for q in questions if q.number != 2)
    assert questions[1].source.key == "interventieacademie"
    # questions 2-5 each name the situation in which Veilig Thuis gets a report
    assert all("melden" in q.text for q in questions[1:])
    terms = [d.term for d in kb.references["meldcode"].definitions]
    assert terms == ["Acute onveiligheid", "Structurele onveiligheid"]


def test_a_step_with_an_unknown_source_is_refused_naming_file_and_item(kb, tmp_path) -> None:
    data = meldcode_data()
    data["steps"][3]["source"] = "wikipedia"
    refused(write(tmp_path, data), kb, "step 4", "unknown source 'wikipedia'")


def test_numbers_must_run_in_order(kb, tmp_path) -> None:
    data = meldcode_data()
    data["steps"][1]["number"] = 3
    refused(write(tmp_path, data), kb, "step 3", "in order")


@pytest.mark.parametrize("field", ["title", "text", "source"])
def test_a_step_without_a_required_field_is_refused(kb, tmp_path, field: str) -> None:
    data = meldcode_data()
    del data["steps"][0][field]
    refused(write(tmp_path, data), kb, "step 1", f"'{field}'")


def test_an_unknown_field_in_an_afwegingskader_question_is_refused(kb, tmp_path) -> None:
    data = meldcode_data()
    data["afwegingskader"]["questions"][1]["antwoord"] = "ja"
    refused(write(tmp_path, data), kb, "afwegingskader question 2", "unknown field 'antwoord'")


def test_a_definition_without_a_source_is_refused(kb, tmp_path) -> None:
    data = meldcode_data()
    del data["definitions"][0]["source"]
    refused(write(tmp_path, data), kb, "definition 'Acute onveiligheid'", "missing 'source'")


def test_the_id_must_match_the_file_name(kb, tmp_path) -> None:
    refused(write(tmp_path, meldcode_data(), "meldkode.yml"), kb, "differs from the file name")


def test_references_load_with_the_knowledge_from_any_root(kb, tmp_path) -> None:
    root = tmp_path / "kb"
    (root / "protocols").mkdir(parents=True)
    for name in ("sources.yml", "organisations.yml", "key_positions.yml", "locations.yml"):
        (root / name).write_text((PACKAGE_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    assert load_knowledge(root).references == {}
    (root / "reference").mkdir()
    write(root / "reference", meldcode_data())
    assert [s.number for s in load_knowledge(root).references["meldcode"].steps] == [1, 2, 3, 4, 5]


# --------------------------------------------------------------------------- organisations


def test_veilig_thuis_says_when_to_bring_it_in(kb) -> None:
    when = kb.organisations["veilig_thuis"].when
    assert when is not None
    assert "seksueel en eergerelateerd geweld" in when
    assert "elke stap" in when and "acute of structurele onveiligheid" in when


def test_every_organisation_has_a_when_text(kb) -> None:
    assert all(org.when for org in kb.organisations.values())


def test_when_must_be_text(kb, tmp_path) -> None:
    data = yaml.safe_load((PACKAGE_DIR / "organisations.yml").read_text(encoding="utf-8"))
    data["organisations"][0]["when"] = ["altijd"]
    path = write(tmp_path, data, "organisations.yml")
    with pytest.raises(KnowledgeError) as info:
        load_organisations(path, kb.sources)
    assert "organisations.yml" in str(info.value) and "organisation 'politie'" in str(info.value)


# --------------------------------------------------------------------------- consent gate


def test_the_lhbti_ground_is_recorded_only_with_consent(kb) -> None:
    step = kb.protocols["lhbti_ondersteuning"].steps["grond_registratie"]
    assert step.recorded_only_if == "toestemming_registratie"


def test_recorded_only_if_must_name_a_yes_no_step(kb, protocol_data, write_protocol, step_of) -> None:
    from knowledge import load_protocol_file

    step_of(protocol_data, "soort")["recorded_only_if"] = "dagen"
    with pytest.raises(KnowledgeError, match="recorded_only_if"):
        load_protocol_file(write_protocol(protocol_data), kb.organisations, kb.sources)


def test_a_gated_step_reachable_without_consent_is_refused(kb, protocol_data, write_protocol, step_of) -> None:
    from knowledge import load_protocol_file

    # "soort" follows "acuut" on both answers, so it is reached without a "ja".
    step_of(protocol_data, "soort")["recorded_only_if"] = "acuut"
    with pytest.raises(KnowledgeError, match="reachable without consent"):
        load_protocol_file(write_protocol(protocol_data), kb.organisations, kb.sources)


# --------------------------------------------------------------------------- main path


def test_main_path_of_egg_follows_the_meldcode_order(kb) -> None:
    ids = [s.id for s in main_path(kb.protocols["eergerelateerd_geweld"])]
    assert ids[:4] == ["acuut_gevaar", "vorm_dreiging", "deskundige_raadplegen", "geen_contact_familie"]
    assert ids[-5:] == ["afweging_vermoeden", "afweging_onveilig", "afweging_hulp", "afweging_aanvaard",
                        "afweging_duurzaam"]
    assert "bel_112" not in ids and "knooppunt_huwelijksdwang" not in ids


def test_main_path_never_takes_a_side_step_and_has_no_outcome(kb) -> None:
    for protocol in kb.protocols.values():
        path = main_path(protocol)
        assert path[0].id == protocol.start
        assert all(step.kind != "outcome" for step in path)
        for before, after in itertools.pairwise(path):
            targets = [r.next for r in before.ranges] + list(before.next.values()) + [before.unknown]
            assert after.id in targets, (protocol.id, before.id, after.id)


def test_main_path_stops_at_a_neutral_choice(kb) -> None:
    assert main_path(kb.protocols["ongewenste_zwangerschap"])[-1].id == "wens"

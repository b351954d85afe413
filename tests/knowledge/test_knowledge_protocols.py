"""Content checks per protocol: what each protocol must say on every path.

The generic safety invariants (graph, required referrals, acute -> 112,
no family contact, [check] facts only on verify steps) are in
test_knowledge_invariants.py and run over every protocol file; here are the
protocol-specific promises of the issue "All four protocols".
"""

from __future__ import annotations

import re

import pytest

from knowledge import (
    KnowledgeError,
    Protocol,
    iter_paths,
    load_protocol_file,
    path_key_positions,
    path_referrals,
)
from tests.knowledge.protocol_copies import copy_with


def paths_of(protocol: Protocol):
    paths = list(iter_paths(protocol))
    assert paths
    return paths


def ids(path) -> list[str]:
    return [item.step.id for item in path]


def answers(path) -> dict[str, object]:
    return {item.step.id: item.answer for item in path}


def path_text(path) -> str:
    return "\n".join(line for item in path for line in (item.step.text, *item.step.actions))


def paths_through(protocol: Protocol, step_id: str, answer=None):
    """Paths that pass ``step_id`` (with ``answer``, when given)."""
    found = [p for p in paths_of(protocol) if step_id in answers(p)]
    if answer is not None:
        found = [p for p in found if answers(p)[step_id] == answer]
    assert found, f"no path through {step_id}={answer}"
    return found


# --------------------------------------------------------------------------- seksueel geweld


@pytest.fixture(scope="module")
def sg(kb) -> Protocol:
    return kb.protocols["seksueel_geweld"]


def test_sg_metadata(sg):
    assert sg.version == "1.2.1" and sg.intent == "melding_seksueel_geweld"
    assert sg.required_referrals == ("veilig_thuis",)


def test_sg_acute_first_leads_to_112(sg):
    first = sg.first_step
    assert first.acute_answers == {"ja"} and re.search(r"zojuist|net", first.text)
    call = sg.steps[first.next_for("ja")]
    assert call.text.startswith("Bel nu 112") and call.referrals == ("politie",)


def test_sg_time_since_assault_decides_the_csg_advice(sg):
    days = next(s for s in sg.steps.values() if s.kind == "number")
    assert days.id == "dagen_geleden"
    acute_care = {days.next_for(n) for n in (0, 3, 7)}
    later = {days.next_for(n) for n in (8, 30, 400)}
    assert len(acute_care) == 1 and len(later) == 1 and acute_care != later
    assert days.next_for(-1) is None
    # Not known when it happened: the shortest window applies (fail safe).
    assert days.unit == "days" and not days.round_up
    assert {days.next_for("onbekend")} == acute_care
    quick = sg.steps[acute_care.pop()]
    assert "centrum_seksueel_geweld" in quick.referrals and "0800-0188" in quick.text
    for word in ("medische zorg", "hiv", "zwangerschap", "forensisch", "wassen", "kleren"):
        assert word in quick.text, word
    advice = sg.steps[later.pop()]
    assert {"centrum_seksueel_geweld", "gza"} <= set(advice.referrals)


def test_sg_every_path_veilig_thuis_csg_and_aangifte_as_witness_only(sg):
    for path in paths_of(sg):
        referred = path_referrals(path)
        assert {"veilig_thuis", "centrum_seksueel_geweld", "politie", "slachtofferhulp"} <= set(referred)
        text = path_text(path)
        assert "0800-2000" in text, ids(path)
        assert re.search(r"alleen als getuige aangifte doen, nooit namens het slachtoffer", text), ids(path)
        assert re.search(r"Slachtofferhulp.*toestemming", text), ids(path)
        positions = path_key_positions(path)
        assert {"aandachtsfunctionaris", "contactpersoon_veiligheid"} <= set(positions), ids(path)


def test_sg_suspect_on_location_is_separated_with_police_and_veilig_thuis(sg):
    for path in paths_through(sg, "wie_dader", "medebewoner"):
        separate = next(item.step for item in path if item.step.id == "scheiden")
        assert {"politie", "veilig_thuis"} <= set(separate.referrals)
        assert "overgeplaatst" in separate.text


def test_sg_safe_place_is_arranged_with_police_and_veilig_thuis(sg):
    for path in paths_through(sg, "veilige_plek", "ja"):
        end = path[-1].step
        assert {"vrouwenopvang", "politie", "veilig_thuis"} <= set(end.referrals)


def test_sg_staff_suspect_and_minor_victim_are_urgent(sg):
    for path in paths_through(sg, "wie_dader", "medewerker"):
        assert "medewerker_dader" in ids(path)
        assert "extra spoed" in sg.steps["medewerker_dader"].text
    for minor in ("kind_met_ouders", "amv"):
        for path in paths_through(sg, "wie_slachtoffer", minor):
            urgent = sg.steps[sg.steps["wie_slachtoffer"].next_for(minor)]
            assert urgent.id in ids(path)
            assert "vandaag" in urgent.text and "veilig_thuis" in urgent.referrals


# --------------------------------------------------------------------------- ongewenste zwangerschap


@pytest.fixture(scope="module")
def oz(kb) -> Protocol:
    return kb.protocols["ongewenste_zwangerschap"]


def test_oz_metadata(oz):
    assert oz.version == "1.3.0" and oz.intent == "melding_ongewenste_zwangerschap"
    # the neutral referral is a protocol-level invariant, so the loader enforces it too
    assert {"fiom", "siriz", "gza"} <= set(oz.required_referrals)


def test_oz_neutral_referral_every_outcome_fiom_and_siriz(oz):
    """Neutral: never only one of Fiom and Siriz, whatever her wish."""
    outcomes = [s for s in oz.steps.values() if s.kind == "outcome"]
    assert outcomes
    for step in outcomes:
        assert {"fiom", "siriz", "gza"} <= set(step.referrals), step.id
    for path in paths_of(oz):
        end = path[-1].step
        assert {"fiom", "siriz", "gza"} <= set(end.referrals), ids(path)
        text = "\n".join(end.actions)
        assert "Fiom" in text and "Siriz" in text, end.id


def test_oz_every_wish_has_its_own_outcome(oz):
    wish = oz.steps["wens"]
    assert {o.value for o in wish.options} == {"uitdragen", "twijfel", "afbreken", "weet_niet"}
    ends = set()
    for option in wish.options:
        for path in paths_through(oz, "wens", option.value):
            ends.add((option.value, path[-1].step.outcome))
    assert len({outcome for _, outcome in ends}) == 4, ends
    assert "keuzehulp" in oz.steps[wish.next_for("twijfel")].actions[0]


def test_oz_removing_siriz_from_an_outcome_is_refused(kb, tmp_path):
    def mutate(data):
        step = next(s for s in data["steps"] if s["id"] == "uitkomst_afbreken")
        step["referrals"].remove("siriz")

    path = copy_with(tmp_path, "ongewenste_zwangerschap", mutate)
    with pytest.raises(KnowledgeError, match=r"uitkomst_afbreken.*siriz"):
        load_protocol_file(path, kb.organisations, kb.sources)


def test_oz_weeks_known_or_unknown(oz):
    # Asked as the number itself, with "Weet ik niet" for an unknown duration (issue 12).
    weeks = oz.steps["aantal_weken"]
    # after the conversation guidance and its safeguards (phone, interpreter), one step
    conversation = oz.steps["neutraal_gesprek"]
    assert conversation.next_for(None) == "aantal_weken"
    assert all(word in conversation.text for word in ("telefoon", "voicemail", "tolk"))
    assert weeks.id == "aantal_weken" and weeks.kind == "number" and weeks.unit == "weeks"
    assert weeks.round_up  # nearer the ~22-week limit is the safe side
    unknown = oz.steps[weeks.next_for("onbekend")]
    assert unknown.id == "duur_onbekend"
    assert unknown.verify and "gza" in unknown.referrals
    for n in (0, 6, 20, 21, 24, 25, 40):
        target = oz.steps[weeks.next_for(n)]
        assert target.verify and "gza" in target.referrals, n
    assert weeks.next_for(-2) is None


def test_oz_legal_facts_only_marked_verify(oz):
    legal = [
        step
        for step in oz.steps.values()
        if re.search(r"24 weken|bedenktijd", f"{step.text} {' '.join(step.actions)}")
    ]
    assert legal
    for step in legal:
        assert step.verify and step.text.startswith("Verifiëren met GZA"), step.id
    assert "bedenktijd" in oz.steps["wet_afbreking"].text
    # the GZA number is [check]: it is given by the organisation list (marked verify), not in step texts
    for step in oz.steps.values():
        assert "088-1122112" not in f"{step.text} {step.help} {' '.join(step.actions)}", step.id


def test_oz_aandachtsfunctionaris_infosheet_and_contraception(oz):
    for path in paths_of(oz):
        text = path_text(path)
        assert re.search(r"anticonceptie.*(zelfzorg).*GZA", text), ids(path)
        if answers(path)["morning_afterpil"] == "nee":  # a pregnancy: the infosheet
            assert "aandachtsfunctionaris_zwangere" in path_key_positions(path)
            assert "Informatie voor zwangeren" in text, ids(path)


def test_oz_trafficking_signals(oz):
    signals = oz.steps["signalen_mensenhandel"]
    assert signals.kind == "yes_no"
    for word in ("papieren", "telefoon", "gehaald", "bang", "verdwijnen"):
        assert word in signals.text, word
    for path in paths_through(oz, "signalen_mensenhandel", "ja"):
        assert {"politie", "comensha"} <= set(path_referrals(path))
        assert "contactpersoon_mensenhandel" in path_key_positions(path)
        assert "0900-8844" in path_text(path)
    for path in paths_through(oz, "signalen_mensenhandel", "nee"):
        assert "comensha" not in path_referrals(path)


# --------------------------------------------------------------------------- LHBTI and converts


@pytest.fixture(scope="module")
def lhbti(kb) -> Protocol:
    return kb.protocols["lhbti_ondersteuning"]


def test_lhbti_metadata(lhbti):
    assert lhbti.version == "1.2.0" and lhbti.intent == "melding_lhbti"
    assert re.search(r"bekeerling", lhbti.summary)


def test_lhbti_consent_step(lhbti):
    """The action server strips the answers by this step id: keep it stable."""
    consent = lhbti.steps["toestemming_registratie"]
    assert consent.kind == "yes_no"
    assert consent.text == (
        "Geeft de bewoner toestemming om de seksuele oriëntatie / geloofsovertuiging vast te leggen?"
    )
    assert "alleen vastgelegd dat er steun is geboden" in consent.help
    for path in paths_of(lhbti):
        assert "toestemming_registratie" in ids(path)


def test_lhbti_ground_asked_only_after_consent_and_changes_nothing(lhbti):
    ground = lhbti.steps["grond_registratie"]
    assert {lhbti.steps["toestemming_registratie"].next_for("ja")} == {ground.id}
    for path in paths_through(lhbti, "grond_registratie"):
        assert answers(path)["toestemming_registratie"] == "ja"
    # no route depends on the special-category answer
    assert len(set(ground.next.values())) == 1
    # and nothing can be typed into the record
    assert all(step.kind != "text" for step in lhbti.steps.values())


def test_lhbti_who_threatens(lhbti):
    who = lhbti.steps["wie_dreigt"]
    values = {o.value for o in who.options}
    assert {"medebewoners", "familie", "onbekend", "personeel"} <= values
    for value in values - {"geen_dreiging"}:
        for path in paths_through(lhbti, "wie_dreigt", value):
            assert {"politie", "roze_in_blauw"} <= set(path_referrals(path)), ids(path)


def test_lhbti_family_threat_follows_egg_advice(lhbti):
    for path in paths_through(lhbti, "wie_dreigt", "familie"):
        assert "veilig_thuis" in path_referrals(path)
        assert any(
            item.step.kind == "instruction" and "Neem geen contact op met de familie" in item.step.text
            for item in path
        ), ids(path)


def test_lhbti_support_on_every_path(lhbti):
    for path in paths_of(lhbti):
        assert "lhbti_contactpersoon" in path_key_positions(path)
        assert {"coc", "lgbt_asylum_support"} <= set(path_referrals(path))
        assert "sociale kaart" in path_text(path)


def test_lhbti_moving_only_if_the_resident_wants(lhbti):
    move = lhbti.steps["andere_woonplek"]
    assert move.kind == "yes_no" and "wil" in move.text.lower()
    assert lhbti.steps[move.next_for("ja")].outcome != lhbti.steps[move.next_for("nee")].outcome


def test_each_outcome_has_its_own_title(kb):
    """The pages list decisions by outcome title: two outcomes of one protocol that
    advise differently must not look alike there."""
    for guide in [*kb.protocols.values(), kb.general_path]:
        outcomes = [step for step in guide.steps.values() if step.kind == "outcome"]
        titles = [step.title for step in outcomes]
        assert all(titles) and len(set(titles)) == len(titles), (guide.id, titles)
        for step in outcomes:
            assert kb.outcome_title(guide.id, step.outcome) == step.title


def test_a_privacy_run_filed_under_its_category_gets_no_outcome_title(kb):
    """Filed under the neutral category (no consent), an LHBTI run keeps its bare code:
    a title such as "Steun en een andere woonplek bespreken" is looked up only in what
    the record is filed under, never in the protocol it came from."""
    lhbti = kb.protocols["lhbti_ondersteuning"]
    category = lhbti.privacy.category
    for step in lhbti.steps.values():
        if step.kind == "outcome":
            assert kb.outcome_title(lhbti.id, step.outcome) == step.title
            assert kb.outcome_title(category, step.outcome) is None
    assert kb.outcome_title(None, "steun_op_locatie") is None

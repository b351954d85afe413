"""Issue 12 part 1: the corrections of the second review of the knowledge base
(../shared/DOMAIN.md, "Corrections to the facts above"). Each test fails on the
knowledge as it was before the correction."""

from __future__ import annotations

import re

import pytest

from knowledge import Knowledge, load_knowledge
from knowledge.norms import load_norms


@pytest.fixture(scope="module")
def kb() -> Knowledge:
    return load_knowledge()


def step_texts(step) -> str:
    return " ".join([step.text, step.help, *step.actions])


def all_texts(kb: Knowledge) -> list[tuple[str, str]]:
    """(where, text) for every text the assistant can show."""
    found = []
    for org in kb.organisations.values():
        for text in (org.description, org.when or "", org.phone_note or ""):
            found.append((f"organisation {org.id}", text))
    for protocol in kb.protocols.values():
        found.append((f"{protocol.id} summary", protocol.summary))
        for step in protocol.steps.values():
            found.append((f"{protocol.id}.{step.id}", step_texts(step)))
    for ref in kb.references.values():
        for item in (*ref.steps, *ref.questions):
            found.append((f"{ref.id} {item.number}", f"{item.title} {item.text}"))
        for definition in ref.definitions:
            found.append((f"{ref.id} {definition.term}", definition.text))
    return found


def before(text: str, first: str, then: str) -> bool:
    a, b = text.find(first), text.find(then)
    return a != -1 and b != -1 and a < b


# --------------------------------------------------------------------------- 1 seksueel geweld


def test_csg_states_72_hours_before_7_days_and_without_police(kb):
    csg = kb.organisations["centrum_seksueel_geweld"]
    for text in (csg.description, csg.when or ""):
        assert before(text, "72 uur", "7 dagen"), text
        assert "120 uur" in text and "5 dagen" in text, text
    assert "politie" in csg.description and "politie" in (csg.when or "")


def test_sg_days_question_and_acute_care_state_72_hours_first(kb):
    sg = kb.protocols["seksueel_geweld"]
    days = sg.steps["dagen_geleden"]
    assert before(days.help, "72 uur", "7 dagen"), days.help
    quick = sg.steps[days.next_for(0)]
    assert before(quick.text, "72 uur", "7 dagen"), quick.text
    for fact in ("levonorgestrel", "120 uur", "ulipristal", "koperspiraal", "5 dagen"):
        assert fact in quick.text, fact
    # the CSG can be used without going to the police
    assert re.search(r"zonder\s+naar de politie", quick.text)
    assert re.search(r"zonder\s+naar de politie", sg.steps[days.next_for(30)].text)


def test_sg_victim_is_told_coa_reports_to_the_police_without_aangifte(kb):
    sg = kb.protocols["seksueel_geweld"]
    ask = sg.steps["aangifte"]
    assert "strafbaar feit bij de" in ask.help and "geen aangifte doet" in ask.help
    without = sg.steps["melding_veilig_thuis_zonder_aangifte"]
    assert any("ook zonder aangifte" in line for line in without.actions)


# --------------------------------------------------------------------------- 2 ongewenste zwangerschap


def test_oz_weeks_bands_use_the_22_week_practice_limit(kb):
    oz = kb.protocols["ongewenste_zwangerschap"]
    weeks = oz.steps["aantal_weken"]
    bounds = {(r.min, r.max) for r in weeks.ranges}
    assert bounds == {(0, 19), (20, 22), (23, None)}, bounds
    assert weeks.next_for(19) != weeks.next_for(20) != weeks.next_for(23)
    for n in (10, 21, 23):
        band = oz.steps[weeks.next_for(n)]
        assert "22 weken" in band.text and band.verify, band.id
        assert band.text.startswith("Verifiëren met GZA"), band.id
        assert band.source.key == "rijksoverheid_abortus_weken"
    assert "dringend" in oz.steps[weeks.next_for(21)].text
    # every step that names a week limit is [check]
    for step in oz.steps.values():
        if re.search(r"\b2[024] weken", step_texts(step)):
            assert step.verify, step.id


def test_oz_asks_her_age_under_16_goes_to_veilig_thuis(kb):
    oz = kb.protocols["ongewenste_zwangerschap"]
    age = oz.steps["leeftijd"]
    assert age.kind == "number" and "oud" in age.text
    # under 16: asked where she lives (parents or amv); every answer goes to the meldcode
    young = oz.steps[age.next_for(15)]
    assert young.kind == "choice" and "jonger dan 16" in young.text
    assert {o.value for o in young.options} == {"kind_met_ouders", "amv"}
    for option in young.options:
        advice = oz.steps[young.next_for(option.value)]
        assert "veilig_thuis" in advice.referrals and "meldcode" in advice.text, advice.id
        assert "seksueel misbruik" in advice.text, advice.id
    assert age.next_for(16) != young.id
    # asked on every path, before her wish
    assert oz.steps["signalen_mensenhandel"].next_for("nee") == "leeftijd"
    assert oz.steps["mensenhandel_melden"].next_for("") == "leeftijd"


def test_oz_asks_about_pressure_and_hands_it_over(kb):
    oz = kb.protocols["ongewenste_zwangerschap"]
    pressure = oz.steps["druk_omgeving"]
    assert pressure.kind == "yes_no"
    assert "partner" in pressure.text and "familie" in pressure.text
    assert "eergerelateerd geweld" in pressure.help
    handover = oz.steps[pressure.next_for("ja")]
    assert "veilig_thuis" in handover.referrals
    assert "Eergerelateerd geweld" in handover.text
    assert pressure.next_for("nee") == "wens" and handover.next_for("") == "wens"


# --------------------------------------------------------------------------- 3 acute disclosure


def test_disclosure_counts_as_acute_only_for_children_and_care_dependent_adults(kb):
    meldcode = kb.references["meldcode"]
    acute = next(d for d in meldcode.definitions if d.term == "Acute onveiligheid")
    egg_help = kb.protocols["eergerelateerd_geweld"].steps["afweging_onveilig"].help
    for text in (acute.text, egg_help):
        assert "Vertelt het slachtoffer zelf" not in text
        assert "kind" in text and "zorgafhankelijke volwassene" in text, text
    q2 = next(q for q in meldcode.questions if q.number == 2)
    for text in (q2.text, egg_help):
        for form in ("mensenhandel", "eerwraak", "huwelijksdwang", "genitale verminking"):
            assert form in text.lower(), (form, text)


# --------------------------------------------------------------------------- 4 facts


def test_gza_office_hours_are_not_stated(kb):
    for where, text in all_texts(kb):
        assert not re.search(r"08[:.]30|17[:.]00|op werkdagen", text), where


def test_knooppunt_is_contacted_directly_by_professionals(kb):
    knooppunt = kb.organisations["landelijk_knooppunt_huwelijksdwang"]
    assert "rechtstreeks" in (knooppunt.when or "") and "rechtstreeks" in knooppunt.description
    assert knooppunt.source.key == "huwelijksdwang_achterlating"
    step = kb.protocols["eergerelateerd_geweld"].steps["knooppunt_huwelijksdwang"]
    assert "rechtstreeks" in step.text and "loopt via Veilig Thuis" not in step.text


def test_siriz_is_never_called_neutral_and_fiom_is(kb):
    for where, text in all_texts(kb):
        for sentence in re.split(r"(?<=[.!?;:])\s+", text):
            if "Siriz" in sentence or "siriz" in sentence:
                assert not re.search(r"neutra", sentence, re.IGNORECASE), (where, sentence)
    fiom = kb.organisations["fiom"]
    assert "neutra" in fiom.description.lower()
    assert "neutra" not in kb.organisations["siriz"].description.lower()


def test_moving_a_perpetrator_is_coas_measure_with_the_police(kb):
    for protocol in kb.protocols.values():
        for step in protocol.steps.values():
            text = step_texts(step)
            assert "laten overplaatsen" not in text, (protocol.id, step.id)
            assert "de politie kan de dader overplaatsen" not in text, (protocol.id, step.id)


def test_norms_time_limits_are_labelled_as_this_products_choice(kb):
    norms = load_norms(protocols=set(kb.protocols), organisations=set(kb.organisations))
    for norm_id in ("veilig_thuis_binnen_24_uur", "review_binnen_5_werkdagen"):
        description = norms[norm_id].description
        assert "keuze van dit product" in description and "door het COA vast te stellen" in description
        assert "niet in de Kamerbrief" in description


def test_gender_identity_is_not_called_a_special_category(kb):
    for where, text in all_texts(kb):
        for sentence in re.split(r"(?<=[.!?;])\s+", text):
            if "bijzondere persoonsgegevens" in sentence:
                assert "genderidentiteit" not in sentence, (where, sentence)


# --------------------------------------------------------------------------- 5 sources


PAGES = {
    "rijksoverheid_abortus_weken": "rijksoverheid.nl/",
    "huwelijksdwang_achterlating": "huwelijksdwangenachterlating.nl",
    "siriz": "siriz.nl/faq",
    "sense_info": "sense.info",
    "fier": "fier.nl",
    "centrum_seksueel_geweld": "centrumseksueelgeweld.nl",
    "interventieacademie": "interventieacademie.nl",
}


def test_the_pages_domain_md_names_are_sources(kb):
    for key, url_part in PAGES.items():
        assert url_part in kb.sources[key].url, key
    assert "tot-hoeveel-weken" in kb.sources["rijksoverheid_abortus_weken"].url


def test_no_csg_or_slachtofferhulp_fact_cites_the_movisie_egg_page(kb):
    for org_id in ("centrum_seksueel_geweld", "slachtofferhulp"):
        assert kb.organisations[org_id].source.key != "movisie", org_id
    for protocol in kb.protocols.values():
        for step in protocol.steps.values():
            text = step_texts(step)
            if re.search(r"Centrum Seksueel Geweld|CSG|Slachtofferhulp|0800-0188|0900-0101", text):
                assert step.source.key != "movisie", (protocol.id, step.id)
    for step_id in ("dagen_geleden", "csg_acute_hulp", "csg_advies"):
        assert kb.protocols["seksueel_geweld"].steps[step_id].source.key != "movisie", step_id

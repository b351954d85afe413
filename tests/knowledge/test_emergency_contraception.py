"""Emergency contraception and the hours after an assault (issue 13 part 4).

A request for the morning-after pill is no pregnancy of so many weeks: the pregnancy
protocol asks it first (after acute danger) and gives the windows in hours (72 h
levonorgestrel, 120 h ulipristal, a copper IUD up to 5 days; sense.info, CJG Rijnmond),
GZA or the pharmacy, and when the sex was not consensual hands over to seksueel_geweld
with the Centrum Seksueel Geweld and Veilig Thuis. In seksueel_geweld, and wherever the
windows after an assault are named, the 72-hour window for HIV prevention and emergency
contraception is stated before the 7-day window, on every path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from knowledge import Protocol, iter_paths, load_protocol_file, path_referrals
from tests.knowledge.protocol_copies import copy_with, raw_step

OZ = "ongewenste_zwangerschap"
SG = "seksueel_geweld"
HOURS_72 = re.compile(r"\b72 uur")
DAYS_7 = re.compile(r"\b7 dagen")


def ids(path) -> list[str]:
    return [item.step.id for item in path]


def visible(path) -> str:
    """What the counsellor reads along the path, in order: questions, instructions, advice."""
    return "\n".join(line for item in path for line in (item.step.text, *item.step.actions))


def answered(path) -> dict[str, object]:
    return {item.step.id: item.answer for item in path}


def ec_paths(oz: Protocol) -> list:
    paths = [p for p in iter_paths(oz) if answered(p).get("morning_afterpil") == "ja"]
    assert paths
    return paths


def window_order_problems(protocol: Protocol, every_path: bool) -> list[str]:
    """Paths that name the 7-day window before (or without) the 72-hour window; with
    ``every_path`` also paths that name neither."""
    problems = []
    for path in iter_paths(protocol):
        text = visible(path)
        hours, days = HOURS_72.search(text), DAYS_7.search(text)
        seven_first = days and (not hours or hours.start() > days.start())
        if seven_first or (every_path and not (hours and days)):
            problems.append(" -> ".join(ids(path)))
    return problems


def test_the_morning_after_pill_is_asked_right_after_acute_danger(kb) -> None:
    oz = kb.protocols[OZ]
    question = oz.steps["morning_afterpil"]
    assert question.kind == "yes_no" and "morning-afterpil" in question.text
    assert "onbeschermde seks" in question.text and "afgelopen dagen" in question.text
    assert oz.steps["acuut_gevaar"].next_for("nee") == question.id
    assert oz.steps["bel_112"].next_for(None) == question.id
    for path in iter_paths(oz):
        questions = [item.step.id for item in path if item.step.is_question]
        assert questions[:2] == ["acuut_gevaar", "morning_afterpil"], ids(path)


def test_emergency_contraception_is_never_asked_about_weeks_or_her_wish(kb) -> None:
    for path in ec_paths(kb.protocols[OZ]):
        assert not {"aantal_weken", "wens", "neutraal_gesprek"} & set(ids(path)), ids(path)
    for path in iter_paths(kb.protocols[OZ]):
        if answered(path)["morning_afterpil"] == "nee":
            assert "aantal_weken" in ids(path) and "noodanticonceptie" not in ids(path), ids(path)


def test_the_windows_gza_and_the_pharmacy_on_every_emergency_path(kb) -> None:
    oz = kb.protocols[OZ]
    for path in ec_paths(oz):
        text = visible(path)
        assert re.search(r"72 uur[^.]*levonorgestrel", text), ids(path)
        assert re.search(r"120 uur[^.]*ulipristal", text), ids(path)
        assert re.search(r"koperspiraal[^.]*5 dagen", text), ids(path)
        assert "GZA" in text and "apotheek" in text, ids(path)
        assert "gza" in path_referrals(path), ids(path)
        assert "Elk uur telt" in text, ids(path)


def test_the_windows_cite_the_sources_domain_md_names(kb) -> None:
    oz = kb.protocols[OZ]
    cited = {oz.steps[s].source.key for s in ("morning_afterpil", "noodanticonceptie", "uitkomst_noodanticonceptie")}
    assert cited == {"sense_info_noodanticonceptie", "cjg_rijnmond"}
    assert "sense.info" in kb.sources["sense_info_noodanticonceptie"].url
    assert "cjgrijnmond" in kb.sources["cjg_rijnmond"].url


def test_sex_that_was_not_consensual_hands_over_to_sexual_violence(kb) -> None:
    oz = kb.protocols[OZ]
    assert kb.protocols[SG]  # the protocol handed over to exists
    for path in ec_paths(oz):
        end = path[-1].step
        handed_over = [item.step.hand_over for item in path if item.step.hand_over]
        if answered(path)["seks_vrijwillig"] == "nee":
            assert handed_over == [SG], ids(path)
            assert {"centrum_seksueel_geweld", "veilig_thuis"} <= set(end.referrals), ids(path)
            text = visible(path)
            assert "0800-0188" in text and "0800-2000" in text and "zonder naar de politie" in text, ids(path)
            assert re.search(r"hiv-preventie[^.]*72 uur", text), ids(path)
        else:
            assert handed_over == [] and "centrum_seksueel_geweld" not in path_referrals(path), ids(path)
        # if she turns out to be pregnant after all, the neutral referral holds
        assert {"gza", "fiom", "siriz"} <= set(end.referrals), ids(path)
    help_text = oz.steps["seks_vrijwillig"].help
    assert "niet zeker" in help_text and "nee" in help_text  # in doubt: the safe side


def test_the_72_hour_window_comes_before_the_7_day_window_on_every_path(kb) -> None:
    assert window_order_problems(kb.protocols[SG], every_path=True) == []
    assert window_order_problems(kb.protocols[OZ], every_path=False) == []
    sg = kb.protocols[SG]
    days = sg.steps["dagen_geleden"]
    assert HOURS_72.search(days.help).start() < DAYS_7.search(days.help).start()


def test_a_7_day_window_stated_first_is_found(kb, tmp_path: Path) -> None:
    """The order check fails when the wording puts the 7 days first."""
    def mutate(data: dict) -> None:
        step = raw_step(data, "csg_acute_hulp")
        step["text"] = "Binnen 7 dagen kan het CSG helpen. " + step["text"]

    mutated = load_protocol_file(copy_with(tmp_path, SG, mutate), kb.organisations, kb.sources,
                                 check_invariants=False)
    problems = window_order_problems(mutated, every_path=True)
    assert problems and all("csg_acute_hulp" in p for p in problems)


@pytest.mark.parametrize("step_id", ["csg_acute_hulp", "csg_advies"])
def test_both_time_answers_of_sexual_violence_name_both_windows(kb, step_id: str) -> None:
    text = kb.protocols[SG].steps[step_id].text
    assert HOURS_72.search(text).start() < DAYS_7.search(text).start()
    assert "hiv-preventie" in text and "morning-afterpil" in text

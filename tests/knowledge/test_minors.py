"""Minors across every protocol (issue 13 part 3): where the victim may be a minor the
protocol asks; an unaccompanied minor (amv) brings in Nidos, the guardian, on every
path from that answer to its outcome; the parents of a child are informed unless they
may be the suspected perpetrators (then Veilig Thuis decides), and never by the
counsellor where the family is usually the danger (honour-based violence, FGM) or where
sex or a pregnancy can trigger it (sexual violence, pregnancy); a pregnancy under 16 is
a signal of sexual abuse: Veilig Thuis, and the sexual-violence protocol after it.

The path checks are written out here, independently of knowledge.invariants; that
module is then shown to refuse mutated copies of the real files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from knowledge import KnowledgeError, Protocol, invariants, load_protocol_file, path_referrals
from tests.knowledge.protocol_copies import copy_with
from tests.knowledge.test_knowledge_new_protocols import ids, paths_of

#: Every protocol of issue 13's field (ids are contracts, DESIGN.md).
ALL_PROTOCOLS = ["eergerelateerd_geweld", "huiselijk_geweld", "lhbti_ondersteuning", "meisjesbesnijdenis",
                 "mensenhandel", "ongewenste_zwangerschap", "seksueel_geweld", "suicidaliteit"]
#: Here the counsellor never informs the parents: Veilig Thuis decides.
NEVER_THE_PARENTS = ["eergerelateerd_geweld", "meisjesbesnijdenis", "seksueel_geweld", "ongewenste_zwangerschap"]
#: Here the parents are informed unless they may be the perpetrators: protocol -> that question.
PARENTS_UNLESS_SUSPECTED = {"huiselijk_geweld": "ouders_dader", "mensenhandel": "ouders_dader",
                            "suicidaliteit": "geweld_thuis", "lhbti_ondersteuning": "ouders_dreigen"}
#: The answers that say the minor lives with parents (FGM: "in a family").
WITH_PARENTS = {"kind_met_ouders", "in_gezin"}
NOT_THE_PARENTS = re.compile(r"\b(informeer|betrekt u) de ouders (niet|nooit)\b", re.IGNORECASE)
PARENTS_INFORMED = re.compile(r"geïnformeerd|informeert u hen", re.IGNORECASE)
NOT_THE_FAMILY = re.compile(r"geen contact op met de familie[^.]*informeer hen niet", re.IGNORECASE)


def asks_about_minors(step) -> bool:
    """A choice with the amv answer, or her age in years."""
    return (step.kind == "choice" and any(o.value == "amv" for o in step.options)) or (
        step.kind == "number" and step.unit == "years")


def after(path, answers: set[str]) -> list | None:
    """The rest of ``path`` after the first choice answered with one of ``answers``."""
    for index, item in enumerate(path):
        if item.step.kind == "choice" and item.answer in answers:
            return list(path[index + 1:])
    return None


def visible(items) -> str:
    return "\n".join(line for item in items for line in (item.step.text, *item.step.actions))


@pytest.fixture(params=ALL_PROTOCOLS)
def protocol(request, kb) -> Protocol:
    return kb.protocols[request.param]


def test_every_protocol_asks_whether_the_victim_is_a_minor(protocol) -> None:
    for path in paths_of(protocol):
        if protocol.id == "meisjesbesnijdenis" and dict((i.step.id, i.answer) for i in path).get(
                "meisjes_risico") == "nee":
            continue  # an adult woman cut as a child, no girl at risk: nobody to ask about
        assert any(asks_about_minors(item.step) for item in path), ids(path)


def test_every_outcome_reached_from_an_amv_answer_names_nidos(protocol) -> None:
    amv_paths = [p for p in paths_of(protocol) if after(p, {"amv"}) is not None]
    assert amv_paths, protocol.id
    for path in amv_paths:
        rest = after(path, {"amv"})
        assert "nidos" in path_referrals(rest), ids(path)  # the recorded decision names the guardian
        assert "Nidos" in visible(rest), ids(path)
        assert rest[-1].step.kind == "outcome" and rest[-1].step.key_positions, ids(path)


@pytest.mark.parametrize("protocol_id", NEVER_THE_PARENTS)
def test_where_the_family_may_be_the_danger_the_parents_are_never_informed(kb, protocol_id: str) -> None:
    protocol = kb.protocols[protocol_id]
    child_paths = [p for p in paths_of(protocol) if after(p, WITH_PARENTS) is not None]
    assert child_paths, protocol_id
    for path in child_paths:
        rest = after(path, WITH_PARENTS)
        assert NOT_THE_PARENTS.search(visible(rest)), ids(path)
        assert "veilig_thuis" in path_referrals(rest), ids(path)
        assert "Veilig Thuis" in visible(rest), ids(path)
        assert not PARENTS_INFORMED.search(visible(path)), ids(path)


@pytest.mark.parametrize("protocol_id", sorted(PARENTS_UNLESS_SUSPECTED))
def test_elsewhere_the_parents_are_informed_unless_they_may_be_the_perpetrators(kb, protocol_id: str) -> None:
    protocol = kb.protocols[protocol_id]
    question = PARENTS_UNLESS_SUSPECTED[protocol_id]
    for path in paths_of(protocol):
        rest = after(path, WITH_PARENTS)
        if rest is None:
            continue
        answered = {item.step.id: item.answer for item in rest}
        if question not in answered:
            # honour motives: handed over to honour-based violence, whose rules hold (never the family)
            assert rest[-1].step.hand_over == "eergerelateerd_geweld", ids(path)
            assert NOT_THE_FAMILY.search(visible(rest)) and not PARENTS_INFORMED.search(visible(rest)), ids(path)
            continue
        if answered[question] == "ja":
            assert NOT_THE_PARENTS.search(visible(rest)) and "Veilig Thuis beslist" in visible(rest), ids(path)
            assert "veilig_thuis" in path_referrals(rest), ids(path)
        else:
            assert PARENTS_INFORMED.search(visible(rest)), ids(path)


def test_a_pregnancy_under_16_is_a_signal_of_sexual_abuse(kb) -> None:
    oz = kb.protocols["ongewenste_zwangerschap"]
    under_16 = []
    for path in paths_of(oz):
        answered = {item.step.id: item.answer for item in path}
        age = answered.get("leeftijd")
        young = (isinstance(age, int) and age < 16) or (
            age == "onbekend" and answered.get("leeftijd_onbekend") in ("kind_met_ouders", "amv"))
        signal = [item.step for item in path if "seksueel misbruik" in item.step.text
                  and "veilig_thuis" in item.step.referrals]
        handed_over = [item.step.hand_over for item in path if item.step.hand_over]
        if young:
            under_16.append(path)
            assert signal, ids(path)
            assert "seksueel_geweld" in handed_over, ids(path)
        elif isinstance(age, int):
            assert not signal and "seksueel_geweld" not in handed_over, ids(path)
    assert under_16
    assert "seksueel_geweld" in kb.protocols


# --------------------------------------------------------------------------- the loader refuses


def load(path: Path, kb, **kwargs) -> Protocol:
    return load_protocol_file(path, kb.organisations, kb.sources, **kwargs)


@pytest.mark.parametrize("protocol_id", ALL_PROTOCOLS)
def test_an_amv_path_without_nidos_is_refused_in_every_protocol(kb, tmp_path: Path, protocol_id: str) -> None:
    def mutate(data: dict) -> None:
        for step in data["steps"]:
            if "nidos" in step.get("referrals", []):
                step["referrals"].remove("nidos")

    path = copy_with(tmp_path, protocol_id, mutate)
    problems = invariants.check_minors(load(path, kb, check_invariants=False))
    assert problems and all("amv path without 'nidos'" in p for p in problems)
    with pytest.raises(KnowledgeError, match="amv path without 'nidos'"):
        load(path, kb)


def test_nidos_named_before_the_amv_answer_does_not_count(kb, tmp_path: Path) -> None:
    """The guardian must be brought in because of the answer, on the way to the outcome."""
    def mutate(data: dict) -> None:
        for step in data["steps"]:
            if step["id"] == "gza_vandaag":
                step["referrals"].append("nidos")
            if step["id"] == "nidos_betrekken":
                step["referrals"].remove("nidos")

    path = copy_with(tmp_path, "suicidaliteit", mutate)
    with pytest.raises(KnowledgeError, match="amv path without 'nidos'"):
        load(path, kb)

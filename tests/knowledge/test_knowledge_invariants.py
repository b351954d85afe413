"""Safety invariants over EVERY path of EVERY protocol in knowledge/protocols.

The checks here are written out independently of knowledge.invariants (so a
bug there cannot silence them), and knowledge.invariants itself is tested to
detect violations in mutated copies of the real protocols.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from knowledge import KnowledgeError, Protocol, invariants, iter_paths, load_protocol_file, path_referrals
from knowledge.loader import NLU_SUFFIX, PACKAGE_DIR
from tests.knowledge.protocol_copies import copy_with, raw_step

PROTOCOL_FILES = sorted(p for p in (PACKAGE_DIR / "protocols").glob("*.yml") if not p.name.endswith(NLU_SUFFIX))
PROTOCOL_IDS = [path.stem for path in PROTOCOL_FILES]

#: Written here, not read from the files: deleting a file's required_referrals
#: field must not silence these checks.
ALWAYS_VEILIG_THUIS = {"eergerelateerd_geweld", "seksueel_geweld"}
FAMILY_SENSITIVE = {"eergerelateerd_geweld"}

FAMILY = re.compile(r"famil|\bouders?\b|broer|vader|moeder|\bzus|\boom\b", re.IGNORECASE)
NEGATION = re.compile(r"\b(niet|geen|nooit)\b", re.IGNORECASE)


def load_unchecked(path: Path, kb) -> Protocol:
    """Load without the loader's invariant checks, so these tests judge."""
    return load_protocol_file(path, kb.organisations, kb.sources, check_invariants=False)


@pytest.fixture(params=PROTOCOL_FILES, ids=PROTOCOL_IDS)
def protocol(request, kb) -> Protocol:
    return load_unchecked(request.param, kb)


def all_paths(protocol: Protocol):
    paths = list(iter_paths(protocol))
    assert paths, f"{protocol.id}: no path from the start to an outcome"
    return paths


#: Protocol ids fixed by the design contract, with the Rasa intent that starts each.
CONTRACT_PROTOCOLS = {
    "eergerelateerd_geweld": "melding_eergerelateerd_geweld",
    "seksueel_geweld": "melding_seksueel_geweld",
    "ongewenste_zwangerschap": "melding_ongewenste_zwangerschap",
    "lhbti_ondersteuning": "melding_lhbti",
}

#: Numbers marked [check] in DOMAIN.md and legal facts that must be verified
#: with GZA: a step that says them must be marked ``verify: true``.
MUST_VERIFY = re.compile(r"088-9648550|088-1122112|\b24 weken\b|bedenktijd", re.IGNORECASE)

CONTACT = re.compile(
    r"contact|\bbel\b|\bbellen\b|informeer|inlicht|vertel|spreek|gesprek|praat|overleg|benader|bezoek|vraag",
    re.IGNORECASE,
)
MEDIATE = re.compile(r"bemiddel|verzoen", re.IGNORECASE)


def test_all_contract_protocols_exist(kb):
    assert set(CONTRACT_PROTOCOLS) <= set(PROTOCOL_IDS)
    for protocol_id, intent in CONTRACT_PROTOCOLS.items():
        protocol = kb.protocols[protocol_id]
        assert kb.protocol_for_intent(intent) is protocol
        assert re.fullmatch(r"\d+\.\d+\.\d+", protocol.version), protocol_id


def test_loader_accepts_every_protocol(kb):
    assert set(kb.protocols) == set(PROTOCOL_IDS)


def test_every_step_reachable_and_no_cycles(protocol):
    state: dict[str, str] = {}

    def visit(step_id: str) -> None:
        state[step_id] = "open"
        step = protocol.steps[step_id]
        targets = [r.next for r in step.ranges] + list(step.next.values()) + ([step.unknown] if step.unknown else [])
        for target in targets:
            assert target in protocol.steps, f"{step_id} -> unknown {target}"
            assert state.get(target) != "open", f"cycle through {step_id} -> {target}"
            if target not in state:
                visit(target)
        state[step_id] = "done"

    visit(protocol.start)
    assert set(state) == set(protocol.steps), f"unreachable: {set(protocol.steps) - set(state)}"


def test_every_path_ends_at_an_outcome(protocol):
    for path in all_paths(protocol):
        end = path[-1].step
        assert end.kind == "outcome", [p.step.id for p in path]
        assert end.outcome, end.id
        assert end.key_positions, f"{end.id} names no key position"
        assert all(item.step.kind != "outcome" for item in path[:-1])


def test_non_outcome_steps_always_have_a_way_on(protocol):
    for step in protocol.steps.values():
        if step.kind != "outcome":
            assert step.next or step.ranges, f"{step.id} is a dead end"


def test_every_path_has_the_required_referrals(protocol):
    wanted = set(protocol.required_referrals)
    if protocol.id in ALWAYS_VEILIG_THUIS:
        wanted.add("veilig_thuis")
    for path in all_paths(protocol):
        referred = set(path_referrals(path))
        missing = wanted - referred
        assert not missing, f"{[p.step.id for p in path]} misses {missing}"
        assert wanted <= set(path[-1].step.referrals), f"outcome {path[-1].step.id}"


@pytest.mark.parametrize("protocol_id", sorted(ALWAYS_VEILIG_THUIS))
def test_veilig_thuis_on_every_path(kb, protocol_id):
    # no skip: both protocols are part of the contract and must exist
    assert protocol_id in kb.protocols, f"{protocol_id} is missing"
    for path in all_paths(kb.protocols[protocol_id]):
        assert "veilig_thuis" in path_referrals(path), [p.step.id for p in path]
        assert "veilig_thuis" in path[-1].step.referrals


def test_no_forbidden_advice_on_any_path(protocol):
    for path in all_paths(protocol):
        for item in path:
            lines = [item.step.text, item.step.help, *item.step.actions]
            for advice in protocol.forbidden_advice:
                assert advice not in item.step.actions, f"{item.step.id}: {advice}"
                assert all(advice not in line for line in lines), f"{item.step.id}: {advice}"


@pytest.mark.parametrize("protocol_id", sorted(FAMILY_SENSITIVE))
def test_egg_never_advises_contact_with_the_family(protocol_id, kb):
    protocol = load_unchecked(PACKAGE_DIR / "protocols" / f"{protocol_id}.yml", kb)
    assert {"contact_familie", "bemiddeling_familie"} <= set(protocol.forbidden_advice)
    for path in all_paths(protocol):
        for item in path:
            step = item.step
            lines = [step.text, step.help, *step.actions]
            lines += [o.label for o in step.options] + [s for o in step.options for s in o.synonyms]
            for line in lines:
                for sentence in re.split(r"(?<=[.!?;])\s+|\n+", line):
                    if FAMILY.search(sentence) or re.search(r"bemiddel", sentence, re.I):
                        assert NEGATION.search(sentence), f"{step.id}: {sentence!r}"


def test_egg_has_an_explicit_no_family_contact_instruction(kb):
    protocol = kb.protocols["eergerelateerd_geweld"]
    for path in all_paths(protocol):
        assert any(
            item.step.kind == "instruction"
            and FAMILY.search(item.step.text)
            and NEGATION.search(item.step.text)
            for item in path
        ), [p.step.id for p in path]


def family_contact_violations(protocol: Protocol) -> list[str]:
    """Sentences, in any protocol, that mention the family together with contact
    or mediation without a negation: such advice is never given (EGG advice)."""
    found = []
    for step in protocol.steps.values():
        lines = [step.text, step.help, *step.actions]
        for line in lines:
            for sentence in re.split(r"(?<=[.!?;:])\s+|\n+", line):
                advice = FAMILY.search(sentence) and (CONTACT.search(sentence) or MEDIATE.search(sentence))
                if advice and not NEGATION.search(sentence):
                    found.append(f"{step.id}: {sentence!r}")
    return found


def test_no_protocol_advises_contact_with_the_family(protocol):
    assert family_contact_violations(protocol) == []


def test_family_contact_advice_is_detected_in_any_protocol(kb):
    protocol = kb.protocols["lhbti_ondersteuning"]
    step = protocol.steps["uitkomst_steun"]
    for advice in (
        "Bel de familie om te vertellen wat er speelt.",
        "Bemiddel tussen de bewoner en zijn ouders.",
    ):
        changed = dataclasses.replace(step, actions=(*step.actions, advice))
        broken = dataclasses.replace(protocol, steps={**protocol.steps, step.id: changed})
        assert family_contact_violations(broken), advice


def test_unverified_facts_only_on_verify_steps(protocol):
    """[check] numbers and the legal week limit / reflection period are never
    shown as fact: only on steps marked verify, whose text says so."""
    for step in protocol.steps.values():
        lines = [step.text, step.help, *step.actions]
        lines += [o.label for o in step.options] + [s for o in step.options for s in o.synonyms]
        if any(MUST_VERIFY.search(line) for line in lines):
            assert step.verify, f"{step.id} states a [check] fact without verify: true"
            assert re.search(r"verifi[eë]ren", step.text, re.IGNORECASE), step.id


def test_first_question_is_acute_danger(protocol):
    first = protocol.first_step
    assert first.kind == "yes_no" and first.acute_answers == {"ja"}, protocol.id
    target = protocol.steps[first.next_for("ja")]
    assert target.kind == "instruction" and target.text.startswith("Bel nu 112"), target.id
    assert target.referrals[0] == "politie"


def test_every_outcome_has_actions_and_referrals(protocol):
    for step in protocol.steps.values():
        if step.kind == "outcome":
            assert step.actions, f"{step.id} has no actions"
            assert step.referrals, f"{step.id} refers to no organisation"


def test_acute_answers_lead_to_112_first(protocol):
    for step in protocol.steps.values():
        for answer in step.acute_answers:
            target = protocol.steps[step.next_for(answer)]
            assert target.kind == "instruction", f"{step.id}/{answer} -> {target.id}"
            assert "112" in target.text, f"{step.id}/{answer} -> {target.id}"
            assert "politie" in target.referrals, f"{step.id}/{answer} -> {target.id}"


def test_egg_starts_by_asking_about_acute_danger(kb):
    protocol = kb.protocols["eergerelateerd_geweld"]
    first = protocol.first_step
    assert first.kind == "yes_no" and first.acute_answers == {"ja"}


def test_paths_are_short_enough(protocol):
    for path in all_paths(protocol):
        assert len(path) - 1 <= 15, [p.step.id for p in path]


def test_every_step_cites_a_source_and_questions_have_help(protocol, kb):
    for step in protocol.steps.values():
        assert step.source.key in kb.sources and step.source.url
        if step.is_question:
            assert step.help.strip(), step.id


def test_invariants_module_finds_nothing(protocol):
    assert invariants.check_protocol(protocol) == []


# --- the checks must detect violations ---------------------------------------


def egg_copy(tmp_path: Path, mutate) -> Path:
    return copy_with(tmp_path, "eergerelateerd_geweld", mutate)


def test_copy_of_egg_loads_unchanged(kb, tmp_path):
    path = egg_copy(tmp_path, lambda data: None)
    protocol = load_protocol_file(path, kb.organisations, kb.sources)
    assert invariants.check_protocol(protocol) == []


def test_removing_veilig_thuis_from_an_outcome_is_detected(kb, tmp_path):
    def mutate(data):
        raw_step(data, "melding_veilig_thuis")["referrals"].remove("veilig_thuis")

    path = egg_copy(tmp_path, mutate)
    problems = invariants.check_paths(load_unchecked(path, kb))
    assert problems and all("'melding_veilig_thuis'" in p for p in problems)
    with pytest.raises(KnowledgeError, match="melding_veilig_thuis"):
        load_protocol_file(path, kb.organisations, kb.sources)


def test_removing_veilig_thuis_everywhere_and_the_field_is_detected(kb, tmp_path):
    def mutate(data):
        data.pop("required_referrals")
        for step in data["steps"]:
            if "veilig_thuis" in step.get("referrals", []):
                step["referrals"].remove("veilig_thuis")

    path = egg_copy(tmp_path, mutate)
    problems = invariants.check_paths(load_unchecked(path, kb))
    assert any("path without 'veilig_thuis'" in p for p in problems)
    with pytest.raises(KnowledgeError, match="veilig_thuis"):
        load_protocol_file(path, kb.organisations, kb.sources)


@pytest.mark.parametrize(
    "advice",
    [
        "Neem contact op met de familie om de zorgen te bespreken.",
        "Bemiddel tussen het slachtoffer en haar broer.",
        "Vraag de vader om langs te komen.",
        "contact_familie",
    ],
)
def test_family_advice_is_detected(kb, tmp_path, advice):
    def mutate(data):
        raw_step(data, "melding_veilig_thuis")["actions"].append(advice)

    path = egg_copy(tmp_path, mutate)
    problems = invariants.check_forbidden_advice(load_unchecked(path, kb))
    assert problems and all("'melding_veilig_thuis'" in p for p in problems)
    with pytest.raises(KnowledgeError, match="melding_veilig_thuis"):
        load_protocol_file(path, kb.organisations, kb.sources)


def test_negated_family_advice_is_allowed(kb):
    protocol = kb.protocols["eergerelateerd_geweld"]
    step = protocol.steps["melding_veilig_thuis"]
    changed = dataclasses.replace(step, actions=(*step.actions, "Neem nooit contact op met de familie."))
    steps = {**protocol.steps, step.id: changed}
    assert invariants.check_forbidden_advice(dataclasses.replace(protocol, steps=steps)) == []


def test_acute_answer_not_leading_to_112_is_detected(kb, tmp_path):
    def mutate(data):
        raw_step(data, "acuut_gevaar")["next"]["ja"] = "vorm_dreiging"
        data["steps"] = [s for s in data["steps"] if s["id"] != "bel_112"]

    path = egg_copy(tmp_path, mutate)
    problems = invariants.check_acute(load_unchecked(path, kb))
    assert problems and "'acuut_gevaar'" in problems[0]
    with pytest.raises(KnowledgeError, match="acuut_gevaar"):
        load_protocol_file(path, kb.organisations, kb.sources)


def test_112_step_without_police_is_detected(kb):
    protocol = kb.protocols["eergerelateerd_geweld"]
    step = dataclasses.replace(protocol.steps["bel_112"], referrals=())
    broken = dataclasses.replace(protocol, steps={**protocol.steps, "bel_112": step})
    assert any("politie" in p for p in invariants.check_acute(broken))


def test_cycle_and_unreachable_are_detected(kb):
    protocol = kb.protocols["eergerelateerd_geweld"]
    looping = dataclasses.replace(protocol.steps["geen_contact_familie"], next={"*": "vorm_dreiging"})
    broken = dataclasses.replace(protocol, steps={**protocol.steps, looping.id: looping})
    problems = invariants.check_graph(broken)
    assert any("cycle" in p for p in problems)
    assert any("unreachable" in p and "'gesprek_veilig'" in p for p in problems)


def test_too_long_path_is_detected(kb, monkeypatch):
    monkeypatch.setattr(invariants, "MAX_PATH_STEPS", 5)
    assert any("max 5" in p for p in invariants.check_paths(kb.protocols["eergerelateerd_geweld"]))


def test_questions_left_is_the_fewest_and_most_questions_of_every_path_on(kb) -> None:
    """What "hoe lang duurt dit nog?" is answered with, checked against every path."""
    from knowledge import questions_left

    for protocol in [*kb.protocols.values(), kb.general_path]:
        seen: dict[str, list[int]] = {}
        for path in iter_paths(protocol):
            for index, item in enumerate(path):
                ahead = sum(1 for later in path[index:] if later.step.is_question)
                seen.setdefault(item.step.id, []).append(ahead)
        for step_id, counts in seen.items():
            assert questions_left(protocol, step_id) == (min(counts), max(counts)), (protocol.id, step_id)

"""The honour-related safeguards hold wherever rape, sex or a pregnancy outside marriage
can trigger honour-based violence (issue 12 part 2): eergerelateerd_geweld,
seksueel_geweld and ongewenste_zwangerschap. Over every path: no line informs the
family; her phone (no calls, texts or voicemail; a safe way to reach her); a
professional interpreter (never family, a fellow resident or her community); and on
a path that reports to Veilig Thuis, tell her beforehand unless that endangers her.

The path checks are written out here, independently of knowledge.invariants; that
module is then shown to refuse mutated copies of the real files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from knowledge import KnowledgeError, Protocol, Step, invariants, iter_paths, load_protocol_file, path_referrals
from tests.knowledge.protocol_copies import copy_with, raw_step

SAFEGUARDED = ["eergerelateerd_geweld", "seksueel_geweld", "ongewenste_zwangerschap"]

def all_of(*words: str) -> re.Pattern[str]:
    """Every word somewhere in the line, in any order."""
    return re.compile("".join(f"(?=.*{word})" for word in words), re.IGNORECASE | re.DOTALL)


PHONE = all_of("telefoon", r"\bbel\b", r"\bsms", "voicemail", "veilig")
INTERPRETER = all_of(r"\btolk", "famil", "medebewoner", "gemeenschap")
TELL = all_of(r"\bvertel", "Veilig Thuis", "toestemming", r"\btenzij\b")
INFORM_FAMILY = re.compile(r"(informeer|inlicht|vertel|bel|contact|bemiddel)[^.;]*\b(famil|ouders|vader|moeder|broer)",
                           re.IGNORECASE)
NEGATION = re.compile(r"\b(niet|geen|nooit)\b", re.IGNORECASE)


def lines_of(step: Step) -> list[str]:
    return [line for line in (step.text, step.help, *step.actions) if line]


def load(path: Path, kb) -> Protocol:
    return load_protocol_file(path, kb.organisations, kb.sources, check_invariants=False)


def steps_saying(protocol: Protocol, pattern: re.Pattern[str]) -> frozenset[str]:
    """The steps with a line that matches: searched once per step, not once per path
    through it (a thousand paths, and the look-ahead patterns scan a line many times)."""
    return frozenset(step.id for step in protocol.steps.values()
                     if any(pattern.search(line) for line in lines_of(step)))


@pytest.mark.parametrize("protocol_id", SAFEGUARDED)
def test_every_path_says_the_safeguards(kb, protocol_id: str) -> None:
    protocol = kb.protocols[protocol_id]
    phone, interpreter, tell = (steps_saying(protocol, pattern) for pattern in (PHONE, INTERPRETER, TELL))
    paths = list(iter_paths(protocol))
    assert paths
    for path in paths:
        steps = {item.step.id for item in path}
        trail = " -> ".join(item.step.id for item in path)
        assert steps & phone, f"phone safeguard missing on {trail}"
        assert steps & interpreter, f"interpreter safeguard missing on {trail}"
        if "veilig_thuis" in path_referrals(path):
            assert steps & tell, f"'tell her about the report' missing on {trail}"


@pytest.mark.parametrize("protocol_id", SAFEGUARDED)
def test_no_line_informs_the_family(kb, protocol_id: str) -> None:
    protocol = kb.protocols[protocol_id]
    for step in protocol.steps.values():
        for line in (step.text, step.help, *step.actions):
            for sentence in re.split(r"(?<=[.!?;:])\s+", line or ""):
                if INFORM_FAMILY.search(sentence):
                    assert NEGATION.search(sentence), f"{protocol_id}/{step.id}: {sentence!r}"


@pytest.mark.parametrize(
    ("protocol_id", "step_id", "removed", "safeguard"),
    [
        ("seksueel_geweld", "veilig_contact", "voicemail", "telefoon"),
        ("seksueel_geweld", "veilig_contact", "medebewoner", "tolk"),
        ("ongewenste_zwangerschap", "neutraal_gesprek", "voicemail", "telefoon"),
        ("eergerelateerd_geweld", "gesprek_voeren", "gemeenschap", "tolk"),
        ("seksueel_geweld", "melding_vertellen", "tenzij", "melding_vertellen"),
        ("eergerelateerd_geweld", "geen_contact_familie", "tenzij", "melding_vertellen"),
    ],
)
def test_a_missing_safeguard_is_refused(kb, tmp_path: Path, protocol_id: str, step_id: str, removed: str,
                                        safeguard: str) -> None:
    def mutate(data: dict) -> None:
        step = raw_step(data, step_id)
        step["text"] = step["text"].replace(removed, "...")
        step["help"] = step["help"].replace(removed, "...")

    path = copy_with(tmp_path, protocol_id, mutate)
    problems = invariants.check_safeguards(load(path, kb))
    assert problems and all(f"'{safeguard}'" in p for p in problems)
    with pytest.raises(KnowledgeError, match=safeguard):
        load_protocol_file(path, kb.organisations, kb.sources)


def test_the_pregnancy_tell_safeguard_is_needed_only_where_veilig_thuis_is(kb, tmp_path: Path) -> None:
    """Taking the sentence out of the under-16 step breaks only the paths through it."""
    def mutate(data: dict) -> None:
        step = raw_step(data, "jonger_dan_16")
        step["help"] = step["help"].replace("tenzij", "...")

    problems = invariants.check_safeguards(load(copy_with(tmp_path, "ongewenste_zwangerschap", mutate), kb))
    assert len(problems) == 1 and "jonger_dan_16" in problems[0] and "'melding_vertellen'" in problems[0]


@pytest.mark.parametrize("protocol_id", ["seksueel_geweld", "ongewenste_zwangerschap"])
def test_advice_to_inform_the_family_is_refused(kb, tmp_path: Path, protocol_id: str) -> None:
    def mutate(data: dict) -> None:
        outcome = next(s for s in data["steps"] if s["kind"] == "outcome")
        outcome.setdefault("actions", []).append("Informeer de familie over wat er is gebeurd.")

    path = copy_with(tmp_path, protocol_id, mutate)
    problems = invariants.check_forbidden_advice(load(path, kb))
    assert problems and all("contact_familie" in p for p in problems)
    with pytest.raises(KnowledgeError, match="contact_familie"):
        load_protocol_file(path, kb.organisations, kb.sources)

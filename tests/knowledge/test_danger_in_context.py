"""A protocol's own signs of danger now (``danger_phrases``) and its own 112 advice
(``acute_step``): suicidality says "een plan" is danger, and that 112 means an
ambulance and staying with the resident. The loader refuses an ``acute_step`` that is
no 112 instruction or that a non-acute answer leads to (the assistant leaves it out of
the instructions shown after an acute answer)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from knowledge import KnowledgeError, load_knowledge, load_protocol_file
from tests.knowledge.protocol_copies import copy_with, raw_step

SUI = "suicidaliteit"


def test_suicidality_names_its_signs_of_danger_and_its_own_112_step() -> None:
    protocol = load_knowledge().protocols[SUI]
    assert {"een plan", "afscheidsbrief", "pillen verzameld", "touw"} <= set(protocol.danger_phrases)
    step = protocol.steps[protocol.acute_step]
    assert step.kind == "instruction" and "112" in step.text and "ambulance" in step.text
    assert protocol.steps[protocol.start].next["ja"] == protocol.acute_step


def test_fgm_says_medical_help_when_danger_is_now() -> None:
    protocol = load_knowledge().protocols["meisjesbesnijdenis"]
    assert "medische hulp" in protocol.steps[protocol.acute_step].text
    assert {"bloedt", "koorts"} <= set(protocol.danger_phrases)
    assert not any("pijn" in phrase for phrase in protocol.danger_phrases)  # old cuttings hurt too


def _set(field: str, value: object) -> Callable[[dict], None]:
    return lambda data: data.__setitem__(field, value)


def _lead_no_to_112(data: dict) -> None:
    raw_step(data, "acuut_gevaar")["next"]["nee"] = "bel_112"


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [(_set("acute_step", "wie_bewoner"), "must name an instruction step that says 112"),
     (_set("acute_step", "bel_113"), "must name an instruction step that says 112"),
     (_set("acute_step", "onbekend"), "must name an instruction step that says 112"),
     (_lead_no_to_112, "that is not acute"),
     (_set("danger_phrases", "een plan"), "danger_phrases")],
)
def test_the_loader_refuses_a_wrong_acute_step_or_phrases(tmp_path: Path, mutate: Callable[[dict], None],
                                                        problem: str) -> None:
    knowledge = load_knowledge()
    with pytest.raises(KnowledgeError, match=problem):
        load_protocol_file(copy_with(tmp_path, SUI, mutate), knowledge.organisations, knowledge.sources,
                           check_invariants=False)

"""Everything a step says reaches the counsellor: the reason behind an instruction,
the [check] note, and a next step when nobody holds a key position."""

from __future__ import annotations

import pytest

from actions import presenter
from knowledge import Knowledge, load_knowledge

KNOWLEDGE = load_knowledge()
ADVICE_STEPS = [
    pytest.param(step, id=f"{protocol.id}.{step.id}")
    for protocol in KNOWLEDGE.protocols.values()
    for step in protocol.steps.values()
    if not step.is_question and step.help
]


def test_there_are_instructions_with_a_reason() -> None:
    assert len(ADVICE_STEPS) >= 20


@pytest.mark.parametrize("step", ADVICE_STEPS)
def test_the_reason_of_an_instruction_is_shown_with_it(step) -> None:
    (message,) = presenter.instruction_messages([step])
    assert message["text"].startswith(step.text + "\n")
    assert f"\nWaarom: {step.help}\n" in message["text"]
    assert message["text"].endswith(f"Bron: {step.source.title}")


def test_a_questions_help_is_kept_for_the_not_understood_reply(knowledge: Knowledge) -> None:
    step = knowledge.protocols["eergerelateerd_geweld"].steps[knowledge.protocols["eergerelateerd_geweld"].start]
    assert step.is_question and step.help
    (message,) = presenter.question(step)
    assert "Waarom:" not in message["text"]
    assert step.help in presenter.not_understood(step)["text"]


def test_a_step_to_verify_says_so_after_its_reason() -> None:
    verified = [p.values[0] for p in ADVICE_STEPS if p.values[0].verify]
    assert verified, "the knowledge has [check] instructions"
    for step in verified:
        (message,) = presenter.instruction_messages([step])
        assert "(Let op: dit moet nog geverifieerd worden.)" in message["text"]


def test_a_key_position_without_holder_gets_a_next_step() -> None:
    (line,) = presenter.key_position_lines(["aandachtsfunctionaris"], [])
    assert line == ("- aandachtsfunctionaris huiselijk geweld en kindermishandeling "
                    "(geen naam bekend op deze locatie; vraag de locatiemanager wie waarneemt)")


def test_the_out_of_hours_line_names_the_24_7_organisations_from_the_knowledge(knowledge: Knowledge) -> None:
    note = presenter.unreachable_note(knowledge)
    for org_id in ("veilig_thuis", "centrum_seksueel_geweld"):
        org = knowledge.organisations[org_id]
        assert f"{org.name} ({org.phone})" in note
    assert "112" in note and "Wacht dan niet" in note

"""Everything a step says reaches the counsellor: the reason behind an instruction,
the [check] note, and a next step when nobody holds a key position."""

from __future__ import annotations

import pytest

from actions import presenter
from actions.engine import Decision
from knowledge import Knowledge, iter_paths, load_knowledge, path_key_positions, path_referrals

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


def test_the_out_of_hours_line_names_the_24_7_organisations_the_advice_refers_to(knowledge: Knowledge) -> None:
    # After self-harm: 113 and GZA's urgent line, not the sexual-violence centre.
    note = presenter.unreachable_note(knowledge, ["politie", "zelfmoordpreventie_113", "gza"])
    assert note == ("Is niemand bereikbaar (buiten kantoortijd, verlof)? Wacht dan niet: "
                    "113 Zelfmoordpreventie (113), Gezondheidszorg Asielzoekers (GZA) (088-1122112, "
                    "nummer verifiëren) en bij direct gevaar 112 zijn dag en nacht bereikbaar.")
    note = presenter.unreachable_note(knowledge, ["politie", "veilig_thuis", "lec_egg", "veilig_thuis"])
    assert note == ("Is niemand bereikbaar (buiten kantoortijd, verlof)? Wacht dan niet: "
                    "Veilig Thuis (0800-2000) en bij direct gevaar 112 zijn dag en nacht bereikbaar.")


def test_without_a_24_7_referral_the_counsellor_calls_the_organisations_named(knowledge: Knowledge) -> None:
    note = presenter.unreachable_note(knowledge, ["politie", "comensha", "arbeidsinspectie"])
    assert note == ("Is niemand bereikbaar (buiten kantoortijd, verlof)? Wacht dan niet: neem zelf contact "
                    "op met de organisaties hierboven, en bel bij direct gevaar 112.")


@pytest.mark.parametrize("protocol_id", sorted(KNOWLEDGE.protocols))
def test_every_path_names_only_its_own_24_7_organisations(protocol_id: str) -> None:
    protocol = KNOWLEDGE.protocols[protocol_id]
    for path in iter_paths(protocol):
        outcome = path[-1].step
        referrals = path_referrals(path)
        decision = Decision(protocol=protocol.id, protocol_version=protocol.version, acute=False,
                            referrals=referrals, steps=[], outcome=outcome.outcome or outcome.id,
                            actions=list(outcome.actions), key_positions=path_key_positions(path),
                            outcome_step=outcome)
        people = presenter.outcome(decision, KNOWLEDGE, location_name="Ter Apel", holders=[])[-1]["text"]
        for org in KNOWLEDGE.organisations.values():
            if org.round_the_clock:
                assert (f"{org.name} ({org.phone}" in people) == (org.id in referrals), (outcome.id, org.id)

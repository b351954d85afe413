"""Typed answers that carry information (issue 12 part 4), on the real protocol steps.

A table of answers as a counsellor types them, written for this test and apart
from the NLU training data (checked below): each row is the question's step, the
typed text and the answer value the engine must take from it, or ``NOT`` for
text that is genuinely unclear (asked again). Only the text counts: no intent,
no button payload. Then every protocol is walked along every path by typing
alone, without a single "not understood".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from actions.engine import ProtocolEngine, ProtocolState, UserInput
from actions.presenter import buttons_for, not_understood, unsure
from actions.understanding import normalise_text, says_only_an_amount
from knowledge import Knowledge, Step, iter_paths

EGG, SG, OZ, LHBTI = "eergerelateerd_geweld", "seksueel_geweld", "ongewenste_zwangerschap", "lhbti_ondersteuning"
#: Genuinely unclear: not understood, the question is asked again.
NOT = None

# (protocol, step, typed text, expected answer)
TABLE: list[tuple[str, str, str, object]] = [
    # --- yes / no -------------------------------------------------------------------
    (EGG, "acuut_gevaar", "nee hoor", "nee"),
    (EGG, "acuut_gevaar", "Nee, ze is nu op haar kamer bij een collega", "nee"),
    (EGG, "acuut_gevaar", "ja!", "ja"),
    (EGG, "acuut_gevaar", "op het moment niet", "nee"),
    (EGG, "acuut_gevaar", "momenteel niet", "nee"),
    (EGG, "acuut_gevaar", "nu even niet", "nee"),
    (EGG, "acuut_gevaar", "op dit moment wel", "ja"),
    (EGG, "gesprek_veilig", "klopt", "ja"),
    (EGG, "gesprek_veilig", "jazeker, in een aparte ruimte", "ja"),
    (EGG, "gesprek_veilig", "volgens mij wel", "ja"),
    (EGG, "gesprek_veilig", "volgens mij niet", "nee"),
    (EGG, "afweging_vermoeden", "ik geloof het wel", "ja"),
    (EGG, "afweging_vermoeden", "klopt niet", "nee"),
    (EGG, "afweging_onveilig", "Zeker niet.", "nee"),
    (EGG, "afweging_onveilig", "inderdaad", "ja"),
    (EGG, "veilige_opvang", "jawel, de vrouwenopvang heeft plek", "ja"),
    (EGG, "afweging_hulp", "nope", "nee"),
    (OZ, "morning_afterpil", "ja, het condoom is gisteren gescheurd", "ja"),
    (OZ, "morning_afterpil", "neen", "nee"),
    (SG, "veilige_plek", "ja, gisteren al geregeld", "ja"),
    (SG, "aangifte", "nee, dat wil ze (nog) niet", "nee"),
    (OZ, "signalen_mensenhandel", "nee, ik heb niks gemerkt", "nee"),
    (OZ, "druk_omgeving", "ja, haar vriend dwingt haar", "ja"),
    (LHBTI, "toestemming_registratie", "ja dat mag", "ja"),
    (LHBTI, "andere_woonplek", "Ja graag", "ja"),
    # yes/no, genuinely unclear or not known: asked again (the help says what to do in doubt)
    (EGG, "acuut_gevaar", "misschien", NOT),
    (EGG, "acuut_gevaar", "ja nee", NOT),
    (EGG, "gesprek_veilig", "weet ik niet", NOT),
    (OZ, "morning_afterpil", "geen idee", NOT),
    (OZ, "druk_omgeving", "niet zeker", NOT),
    (EGG, "afweging_hulp", "lastig te zeggen", NOT),
    # --- choice -----------------------------------------------------------------------
    # a denied name is not the option: "zonder ouders" picked "kind met ouders" (the
    # path that informs the parents) where "ouders" was a synonym
    (OZ, "jonger_dan_16_wie", "zonder ouders", "amv"),
    (OZ, "minderjarig_wie", "ze heeft geen ouders in nederland", "amv"),
    (OZ, "minderjarig_wie", "ze woont hier niet met haar ouders", NOT),
    (OZ, "jonger_dan_16_wie", "zonder oudrs", NOT),
    (OZ, "minderjarig_wie", "ze is 15 en woont bij haar ouders", "kind_met_ouders"),
    (SG, "wie_slachtoffer", "hij is hier zonder ouders", "amv"),
    (SG, "wie_slachtoffer", "een meisje dat met haar ouders hier woont", "kind_met_ouders"),
    (EGG, "wie_slachtoffer", "ze is alleen in nederland", "amv"),
    (LHBTI, "wie_bewoner", "geen ouders hier, hij is 16", "amv"),
    # an age answers "wie is het slachtoffer?" when it fits one option's ages (min_age, max_age)
    (EGG, "wie_slachtoffer", "een vrouw van 30", "volwassene"),
    (SG, "wie_slachtoffer", "ze is 19 jaar", "volwassene"),
    (LHBTI, "wie_bewoner", "achttien", "volwassene"),
    (SG, "wie_slachtoffer", "hij is 16", NOT),          # a child with parents, or an amv?
    (SG, "wie_slachtoffer", "2", "kind_met_ouders"),   # a number of a button stays the button
    (EGG, "vorm_dreiging", "ze moet trouwen met een neef", "huwelijksdwang"),
    (EGG, "vorm_dreiging", "bedreigd", "bedreiging"),
    (EGG, "vorm_dreiging", "de derde", "achterlating"),
    (EGG, "vorm_dreiging", "verstotng", "verstoting"),
    (EGG, "vorm_dreiging", "weet ik niet", "anders"),
    (SG, "wie_dader", "een medebewoner", "medebewoner"),
    (SG, "wie_dader", "iemand van de beveiliging", "medewerker"),
    (SG, "wie_dader", "geen idee", "onbekend"),
    (SG, "wie_dader", "weet ik niet", "onbekend"),
    (SG, "wie_dader", "een bezoeker van buiten", "buiten_locatie"),
    (SG, "wie_dader", "iemand onderweg, niet van hier", "buiten_locatie"),
    (SG, "wie_dader", "een vreemde man in de stad", "buiten_locatie"),
    (SG, "wie_dader", "iemand die niet op de locatie woont of werkt", "buiten_locatie"),
    (SG, "wie_slachtoffer", "een volwassen vrouw", "volwassene"),
    (SG, "wie_slachtoffer", "een amv'er", "amv"),
    (SG, "wie_slachtoffer", "een meisje dat met haar ouders hier woont", "kind_met_ouders"),
    (OZ, "wens", "ze twijfelt nog", "twijfel"),
    (OZ, "wens", "ze wil het kind houden", "uitdragen"),
    (OZ, "wens", "abortus", "afbreken"),
    (OZ, "wens", "weet ik niet", "weet_niet"),
    (OZ, "wens", "ik twijfel", "twijfel"),
    (LHBTI, "wie_dreigt", "kamergenoten", "medebewoners"),
    (LHBTI, "wie_dreigt", "geen idee", "onbekend"),
    (LHBTI, "wie_dreigt", "niemand, alleen steun", "geen_dreiging"),
    (LHBTI, "wie_dreigt", "zijn broer", "familie"),
    (EGG, "vorm_dreiging", "tja", NOT),
    (SG, "wie_dader", "de zevende", NOT),
    # --- number: days since the assault (unit days, lowest = safe side) ----------------
    (SG, "dagen_geleden", "twee dagen geleden", 2),
    (SG, "dagen_geleden", "gisteren", 1),
    (SG, "dagen_geleden", "gisteravond laat", 1),
    (SG, "dagen_geleden", "vannacht", 0),
    (SG, "dagen_geleden", "vandaag", 0),
    (SG, "dagen_geleden", "eergisteren", 2),
    (SG, "dagen_geleden", "een week geleden", 7),
    (SG, "dagen_geleden", "anderhalve week", 10),
    (SG, "dagen_geleden", "2 weken", 14),
    (SG, "dagen_geleden", "ongeveer 3 dagen", 3),
    (SG, "dagen_geleden", "3 of 4 dagen", 3),
    (SG, "dagen_geleden", "een dag of vijf", 5),
    (SG, "dagen_geleden", "48 uur geleden", 2),
    (SG, "dagen_geleden", "zo'n 36 uur", 1),
    (SG, "dagen_geleden", "gisteren rond 10 uur", 1),
    (SG, "dagen_geleden", "1,5 week", 10),
    (SG, "dagen_geleden", "twee weken en drie dagen", 17),
    (SG, "dagen_geleden", "vier", 4),
    (SG, "dagen_geleden", "12", 12),
    (SG, "dagen_geleden", "een maand geleden", 30),
    (SG, "dagen_geleden", "weet ik niet", "onbekend"),
    (SG, "dagen_geleden", "geen idee", "onbekend"),
    (SG, "dagen_geleden", "niet bekend", "onbekend"),
    (SG, "dagen_geleden", "een paar dagen", NOT),
    (SG, "dagen_geleden", "vorige week", NOT),
    (SG, "dagen_geleden", "op 3 mei", NOT),
    (SG, "dagen_geleden", "-2", NOT),
    (SG, "dagen_geleden", "ja", NOT),
    # --- number: weeks of the pregnancy (unit weeks, highest = safe side) --------------
    (OZ, "aantal_weken", "ongeveer 8 weken", 8),
    (OZ, "aantal_weken", "acht", 8),
    (OZ, "aantal_weken", "ze is ongeveer 10 weken zwanger", 10),
    (OZ, "aantal_weken", "drie maanden", 13),
    (OZ, "aantal_weken", "ruim 2 maanden", 9),
    (OZ, "aantal_weken", "tussen de 8 en 10 weken", 10),
    (OZ, "aantal_weken", "een week of twaalf", 12),
    (OZ, "aantal_weken", "tweeëntwintig weken", 22),
    (OZ, "aantal_weken", "21 dagen", 3),
    (OZ, "aantal_weken", "vijf maanden", 22),
    (OZ, "aantal_weken", "een half jaar", 26),
    (OZ, "aantal_weken", "12,5", 13),
    (OZ, "aantal_weken", "weet ik niet", "onbekend"),
    (OZ, "aantal_weken", "dat weet ze zelf ook niet", "onbekend"),
    (OZ, "aantal_weken", "onbekend", "onbekend"),
    (OZ, "aantal_weken", "een aantal weken", NOT),
    (OZ, "aantal_weken", "al een tijdje", NOT),
    # --- number: her age (unit years) ------------------------------------------------
    (OZ, "leeftijd", "ze is 19", 19),
    (OZ, "leeftijd", "zeventien jaar", 17),
    (OZ, "leeftijd", "15 of 16", 15),
    (OZ, "leeftijd", "geen idee", "onbekend"),
    (OZ, "leeftijd", "jong", NOT),
    # --- free text ---------------------------------------------------------------------
    (EGG, "vorm_anders", "ze moet een maagdelijkheidsverklaring halen", "ze moet een maagdelijkheidsverklaring halen"),
    (EGG, "vorm_anders", "   ", NOT),
    # a bare yes or no describes nothing: explained and asked again
    (EGG, "vorm_anders", "jawel", NOT),
    (EGG, "vorm_anders", "nee hoor", NOT),
    (EGG, "vorm_anders", "Ok!", NOT),
    (EGG, "vorm_anders", "eh ja, wel", NOT),
    (EGG, "vorm_anders", "ja, ze moet trouwen met haar neef", "ja, ze moet trouwen met haar neef"),
    (EGG, "vorm_anders", "geen idee wat er speelt, ze is erg stil", "geen idee wat er speelt, ze is erg stil"),
    (EGG, "vorm_anders", "weet ik niet", "weet ik niet"),
]


@pytest.fixture(scope="module")
def steps(knowledge: Knowledge) -> dict[tuple[str, str], Step]:
    return {(p.id, s.id): s for p in knowledge.protocols.values() for s in p.steps.values()}


@pytest.mark.parametrize(("protocol", "step_id", "text", "expected"), TABLE,
                         ids=[f"{p[:3]}-{s}-{t}" for p, s, t, _ in TABLE])
def test_typed_answer(engine: ProtocolEngine, steps: dict[tuple[str, str], Step], protocol: str, step_id: str,
                      text: str, expected: object) -> None:
    step = steps[(protocol, step_id)]
    assert engine.interpret(step, UserInput(text=text)) == expected


def test_the_table_is_big_and_covers_every_question_kind(steps: dict[tuple[str, str], Step]) -> None:
    assert len(TABLE) >= 60
    kinds = {steps[(p, s)].kind for p, s, _, _ in TABLE}
    assert kinds == {"yes_no", "choice", "number", "text"}
    assert {e for *_, e in TABLE if e == "onbekend"} and NOT in {e for *_, e in TABLE}
    assert {p for p, *_ in TABLE} == {EGG, SG, OZ, LHBTI}


def _training_examples() -> Iterator[str]:
    root = Path(__file__).resolve().parents[2]
    for path in [*(root / "data" / "nlu").glob("*.yml"), *(root / "knowledge").rglob("*.nlu.yml")]:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        blocks = data.get("nlu", []) if isinstance(data, dict) else []
        for block in blocks:
            for line in str(block.get("examples", "")).splitlines():
                yield line.lstrip("- ").strip()
        if isinstance(data, dict):
            yield from (str(e) for e in data.get("examples", []) or [])


def test_the_table_is_written_apart_from_the_training_data() -> None:
    """The table tests the parsers, not what the NLU learned by heart: only stock
    answers of a few words ("nee hoor", "klopt") may also be training examples,
    and most rows are not."""
    training = {normalise_text(example) for example in _training_examples()}
    assert training, "no NLU training examples found"
    shared = [text for _, _, text, _ in TABLE if normalise_text(text) and normalise_text(text) in training]
    assert [text for text in shared if len(text.split()) > 3] == []
    assert len(shared) <= len(TABLE) // 5, shared


# --------------------------------------------------------------------------- the chat side


def test_a_number_question_with_an_unknown_step_has_a_weet_ik_niet_button(steps: dict[tuple[str, str], Step]
                                                                           ) -> None:
    for key in ((OZ, "aantal_weken"), (SG, "dagen_geleden"), (OZ, "leeftijd")):
        buttons = buttons_for(steps[key])
        assert buttons[-1] == {"title": "Weet ik niet", "payload": '/kies{"keuze": "onbekend"}'}, key


def test_the_weet_ik_niet_button_takes_the_unknown_branch(engine: ProtocolEngine) -> None:
    state = engine.answer(engine.answer(engine.start(OZ), UserInput("nee")).state, UserInput("nee")).state
    assert state.step == "aantal_weken"
    turn = engine.answer(state, UserInput('/kies{"keuze": "onbekend"}', "kies", "onbekend"))
    assert turn.understood and turn.answer == "onbekend"
    assert [s.id for s in turn.instructions] == ["duur_onbekend"]


def test_not_knowing_is_answered_with_the_help_not_with_niet_begrepen(engine: ProtocolEngine,
                                                                      steps: dict[tuple[str, str], Step]) -> None:
    turn = engine.answer(engine.start(EGG), UserInput("dat weet ik niet"))
    assert not turn.understood and turn.unsure
    assert unsure(turn.step)["text"].startswith("U weet het niet zeker; dat kan. ")
    unclear = engine.answer(engine.start(EGG), UserInput("tja"))
    assert not unclear.unsure
    assert not_understood(unclear.step)["text"].startswith("Dat heb ik niet goed begrepen.")


# --------------------------------------------------------------------------- every protocol, typed

#: How a counsellor types each choice option, in her own words (not the label).
TYPED_CHOICES = {
    (EGG, "vorm_dreiging"): {"bedreiging": "haar broer bedreigt haar", "huwelijksdwang": "ze moet trouwen",
                             "achterlating": "ze wordt teruggestuurd naar het buitenland",
                             "verstoting": "de familie heeft haar verstoten", "geweld": "ze is geslagen",
                             "anders": "iets anders"},
    (SG, "wie_dader"): {"medebewoner": "een medebewoner", "medewerker": "een collega van ons",
                        "buiten_locatie": "iemand van buiten", "onbekend": "dat weten we niet"},
    (OZ, "wens"): {"uitdragen": "ze wil het kindje houden", "twijfel": "ze twijfelt nog",
                   "afbreken": "ze wil een abortus", "weet_niet": "niet besproken"},
    (LHBTI, "wie_dreigt"): {"medebewoners": "kamergenoten", "familie": "zijn familie",
                            "personeel": "een beveiliger", "onbekend": "geen idee",
                            "geen_dreiging": "niemand, hij wil alleen steun"},
}
YES_TYPED = ["ja hoor", "klopt", "jazeker", "ja, dat klopt", "ik denk het wel"]
NO_TYPED = ["nee hoor", "nee", "neen, niet dat ik weet", "ik denk het niet", "nee, zeker niet"]
#: A typed number per unit, for a value in a range: "gisteren", "ongeveer 8 weken", "ze is 19".
NUMBER_TYPED = {
    "days": lambda n: {0: "vandaag", 1: "gisteren", 2: "eergisteren", 7: "een week geleden"}.get(
        n, f"{n} dagen geleden"),
    "weeks": lambda n: f"ongeveer {n} weken",
    "years": lambda n: f"ze is {n} jaar",
    None: str,
}


def typed_answer(protocol: str, step: Step, answer: object, turn: int) -> str:
    """Free Dutch for ``answer`` on ``step``: no payloads, no option values."""
    if step.kind == "yes_no":
        return (YES_TYPED if answer == "ja" else NO_TYPED)[turn % 5]
    if step.kind == "choice":
        options = TYPED_CHOICES.get((protocol, step.id))
        if options is None:  # a choice not in the table: its label, as typed
            return next(o.label for o in step.options if o.value == answer).lower()
        return options[str(answer)]
    if step.kind == "number":
        return "weet ik niet" if answer == "onbekend" else NUMBER_TYPED[step.unit](int(answer))
    return "ze wordt in de gaten gehouden door familie"


def test_typed_choices_cover_every_option(knowledge: Knowledge) -> None:
    for (protocol, step_id), typed in TYPED_CHOICES.items():
        assert set(typed) == {o.value for o in knowledge.protocols[protocol].steps[step_id].options}


@pytest.mark.parametrize("protocol", [EGG, SG, OZ, LHBTI])
def test_every_protocol_runs_to_its_decision_by_typing(engine: ProtocolEngine, knowledge: Knowledge,
                                                       protocol: str) -> None:
    """Every path of the graph, each question answered in typed Dutch: understood at
    once (no "niet begrepen"), and the decision is the path's outcome."""
    paths = list(iter_paths(knowledge.protocols[protocol]))
    assert paths
    for path in paths:
        state: ProtocolState = engine.start(protocol)
        for turn, item in enumerate(p for p in path if p.step.is_question):
            assert state.step == item.step.id, [p.step.id for p in path]
            text = typed_answer(protocol, item.step, item.answer, turn)
            assert not text.startswith("/")
            result = engine.answer(state, UserInput(text=text))
            assert result.understood, (protocol, item.step.id, text)
            assert result.answer == (text if item.step.kind == "text" else item.answer), (protocol, text)
            state = result.state
        decision = engine.decision(state)
        assert decision.outcome == (path[-1].step.outcome or path[-1].step.id)


@pytest.mark.parametrize("text", ["15", "ongeveer vijftien weken", "ze is 17 jaar", "bijna 20 weken"])
def test_a_bare_amount(text: str) -> None:
    assert says_only_an_amount(text)


@pytest.mark.parametrize("text", ["", "weken", "15, hij slaat haar", "ze is 17 en bang", "kamer 12 brand"])
def test_more_than_an_amount(text: str) -> None:
    assert not says_only_an_amount(text)

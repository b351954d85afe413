"""The protocol engine on its own (no Rasa), walking the real eergerelateerd_geweld protocol."""

from __future__ import annotations

import dataclasses
import json

import pytest

from actions.engine import EngineError, ProtocolEngine, ProtocolState, UserInput
from actions.understanding import parse_number, parse_step_number, parse_yes_no, signals_danger_now
from knowledge import Knowledge, iter_paths, load_knowledge, path_key_positions, path_referrals

EGG = "eergerelateerd_geweld"


def walk(engine: ProtocolEngine, *inputs: UserInput, protocol: str = EGG) -> ProtocolState:
    state = engine.start(protocol)
    for user in inputs:
        turn = engine.answer(state, user)
        assert turn.understood, (user, turn)
        state = turn.state
    return state


def typed(text: str) -> UserInput:
    return UserInput(text=text)


YES = UserInput("/affirm", "affirm")
NO = UserInput("/deny", "deny")


def kies(value: str) -> UserInput:
    return UserInput(f'/kies{{"keuze": "{value}"}}', "kies", value)


# --------------------------------------------------------------------------- state


def test_start_is_at_the_first_question_and_the_state_is_json(engine: ProtocolEngine) -> None:
    state = engine.start(EGG)
    assert state == ProtocolState(EGG, "acuut_gevaar", [], False)
    slots = json.loads(json.dumps(state.to_slots()))
    assert slots == {"protocol": EGG, "protocol_step": "acuut_gevaar", "protocol_answers": [],
                     "acute": False}
    assert ProtocolState.from_slots(slots) == state
    assert ProtocolState.from_slots({"protocol": None, "protocol_step": None}) is None


def test_unknown_protocol_is_an_engine_error(engine: ProtocolEngine) -> None:
    with pytest.raises(EngineError):
        engine.start("bestaat_niet")


def test_a_state_that_does_not_fit_the_graph_is_an_engine_error(engine: ProtocolEngine) -> None:
    state = ProtocolState(EGG, "gesprek_veilig", [{"step": "acuut_gevaar", "answer": "misschien"}])
    with pytest.raises(EngineError):
        engine.pending_instructions(state)
    with pytest.raises(EngineError):
        engine.step(ProtocolState(EGG, "geen_stap"))


# --------------------------------------------------------------------------- yes/no


@pytest.mark.parametrize(
    ("text", "expected"),
    [("ja", "ja"), ("Ja.", "ja"), ("jazeker", "ja"), ("ja hoor", "ja"), ("dat klopt", "ja"),
     ("ik denk het wel", "ja"), ("nee", "nee"), ("nee hoor", "nee"), ("Neen!", "nee"),
     ("klopt niet", "nee"), ("zeker niet", "nee"), ("ik denk het niet", "nee"),
     ("neeh", "nee"), ("jah graag", "ja"), ("misschien", None), ("dat weet ik niet", None),
     ("geen idee", None), ("weet niet", None), ("", None)],
)
def test_typed_yes_no(text: str, expected: str | None) -> None:
    assert parse_yes_no(text) == expected


def test_yes_no_from_intent_and_typed_text(engine: ProtocolEngine) -> None:
    step = engine.step(engine.start(EGG))
    assert engine.interpret(step, YES) == "ja"
    assert engine.interpret(step, NO) == "nee"
    assert engine.interpret(step, typed("nee hoor")) == "nee"
    # The typed words win over a misclassified intent.
    assert engine.interpret(step, UserInput("nee hoor", "affirm")) == "nee"
    assert engine.interpret(step, UserInput("klopt helemaal", "affirm")) == "ja"


def test_acute_answer_flags_acute_and_passes_the_112_instruction(engine: ProtocolEngine) -> None:
    turn = engine.answer(engine.start(EGG), YES)
    assert turn.understood and turn.acute and turn.answer == "ja"
    assert [s.id for s in turn.instructions] == ["bel_112"]
    assert turn.step.id == "vorm_dreiging"
    assert turn.state == ProtocolState(EGG, "vorm_dreiging", [{"step": "acuut_gevaar", "answer": "ja"}], True)
    assert [s.id for s in engine.pending_instructions(turn.state)] == ["bel_112"]


def test_not_understood_gives_the_help_text_and_keeps_the_state(engine: ProtocolEngine) -> None:
    state = engine.start(EGG)
    turn = engine.answer(state, typed("geen idee eigenlijk hoor"))
    assert not turn.understood and not turn.acute
    assert turn.state == state
    assert turn.help == engine.step(state).help
    assert "Twijfelt u? Antwoord dan ja." in turn.help


# --------------------------------------------------------------------------- choice


@pytest.mark.parametrize(
    ("user", "expected"),
    [(kies("huwelijksdwang"), "huwelijksdwang"),
     (typed("Huwelijksdwang"), "huwelijksdwang"),
     (typed("uithuwelijken"), "huwelijksdwang"),
     (typed("2"), "huwelijksdwang"),
     (typed("de tweede"), "huwelijksdwang"),
     (typed("optie twee"), "huwelijksdwang"),
     (typed("huwelijksdwnag"), "huwelijksdwang"),
     (typed("ze moet trouwen van haar vader"), "huwelijksdwang"),
     (typed("verstoting"), "verstoting"),
     (typed("iets anders"), "anders"),
     (typed("6"), "anders"),
     (typed("9"), None),
     (typed("blabla"), None),
     (kies("bestaat_niet"), None),
     (YES, None)],
)
def test_choice_answers(engine: ProtocolEngine, user: UserInput, expected: str | None) -> None:
    state = walk(engine, NO)
    assert engine.step(state).kind == "choice"
    assert engine.interpret(engine.step(state), user) == expected


def test_choice_passes_instructions_and_collects_their_texts(engine: ProtocolEngine) -> None:
    turn = engine.answer(walk(engine, NO), kies("achterlating"))
    assert [s.id for s in turn.instructions] == [
        "knooppunt_huwelijksdwang", "deskundige_raadplegen", "geen_contact_familie"]
    assert turn.step.id == "wie_slachtoffer"


# --------------------------------------------------------------------------- text


def test_free_text_takes_anything_non_empty(engine: ProtocolEngine) -> None:
    state = walk(engine, NO, kies("anders"))
    step = engine.step(state)
    assert step.kind == "text"
    assert engine.interpret(step, typed("  verzoek om maagdelijkheidsverklaring ")) == (
        "verzoek om maagdelijkheidsverklaring")
    assert engine.interpret(step, typed("   ")) is None
    assert engine.interpret(step, YES) is None  # a button payload is not a description
    turn = engine.answer(state, typed("veel geheimzinnigheid"))
    assert turn.understood and turn.step.id == "wie_slachtoffer"


# --------------------------------------------------------------------------- number


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", 3), ("ongeveer 12 dagen", 12), ("drie", 3), ("drie dagen", 3), ("elf", 11),
     ("twintig", 20), ("eenentwintig", 21), ("tweeëntwintig", 22), ("één", 1), ("een", 1),
     ("geen", 0), ("een week geleden", None), ("weet ik niet", None)],
)
def test_parse_number(text: str, expected: int | None) -> None:
    assert parse_number(text) == expected


def test_number_step_uses_its_ranges(test_knowledge: Knowledge) -> None:
    engine = ProtocolEngine(test_knowledge)
    state = engine.start("testprotocol")
    # The leading instruction is passed and pending for the first question.
    assert state.step == "dagen"
    assert [s.id for s in engine.pending_instructions(state)] == ["welkom"]
    assert engine.answer(state, typed("vijf")).step.id == "kort"
    assert engine.answer(state, typed("negen dagen")).step.id == "lang"
    assert engine.answer(state, UserInput('/kies{"keuze": "3"}', "kies", "3")).step.id == "kort"
    missed = engine.answer(state, typed("-4"))  # in no range: asked again
    assert not missed.understood and missed.help == "Typ het aantal dagen als getal."
    finished = engine.answer(state, typed("10")).state
    decision = engine.decision(finished)
    assert decision.outcome == "na_een_week"
    assert decision.steps == [{"step": "dagen", "answer": 10}]
    assert decision.referrals == ["slachtofferhulp"]


# --------------------------------------------------------------------------- acute danger


@pytest.mark.parametrize(
    "text",
    ["help hij staat nu met een mes voor haar deur", "Er is acuut gevaar!", "ze wordt nu geslagen",
     "hij dreigt haar te vermoorden", "we hebben 112 al gebeld", "hij slaat haar op dit moment",
     "een bewoner dreigt zichzelf op te hangen, hij staat nu op het dak", "ze heeft net pillen ingenomen",
     "help er is een steekpartij op de gang", "help, ze vechten in de kantine",
     "haar broers wachten buiten bij de poort", "haar vader is nu op de locatie",
     "de man die hem uitbuit staat bij de ingang", "haar ex staat weer voor haar deur",
     "haar broer is hier op de locatie", "haar vader staat bij het hek",
     "haar broers staan nu bij de receptie",
     "goedemorgen, er ligt iemand bewusteloos", "goedemorgn, er ligt iemand bewustelos op de gang",
     "hij is niet aanspreekbaar", "ze ademt niet meer",
     "een bewoner moet gereanimeerd worden, we zijn aan het reanimeren",
     # typed in a hurry: one letter added, dropped, changed or swapped
     "er ligt iemand bewustloos", "er ligt iemand bewusteloss op de gang", "hij is in levensgevar",
     "hij dreigt haar te vermorden", "help er is een steekparij", "hij heeft een vuurwapn",
     "we zijn aan het reanimern", "hij dreigt met zelfmord", "ze ligt bewusetloos in de douche",
     "ze wordt nu mishandld door haar man", "hij is net aangevalen op de gang",
     "ze wordt nu vastgehoudn in haar kamer", "ze is nu opgeslote", "hij wordt nu achtervold"],
)
def test_danger_now_in_typed_text(text: str) -> None:
    assert signals_danger_now(text)


@pytest.mark.parametrize(
    "text",
    ["een bewoonster vertelt dat haar broer haar bedreigt omdat ze niet met haar neef wil trouwen",
     "Bwn wordt door haar vader bedreigd ivm eer, hij wil haar uithuwelijken",
     "er is geen acuut gevaar", "ze is nu niet in gevaar", "nee", "huwelijksdwang", "ja",
     "hij zegt dat hij niet meer wil leven", "ze heeft net pillen gekregen van de huisarts",
     "ik heb hulp nodig bij een melding", "de tolk wacht buiten", "hij staat buiten te roken",
     "haar vader is niet op de locatie", "haar broer was vorige week op de locatie",
     "de tolk wacht bij de receptie", "haar vader stond gisteren bij het hek",
     "ze is niet bewusteloos geweest", "hij is goed aanspreekbaar",
     # words close to a misspelt danger word that are none
     "de animatie van vanavond is afgelast", "we vermoeden mensenhandel", "reanimatiecursus volgende week",
     "hij had zelfmoordgedachten", "bel zelfmoordpreventie 113", "ze is niet bewustloos geweest",
     "de vergadering is verzet", "hij is bewust van de regels",
     "hij is nu meegekomen met zijn broer", "ze is vorige week aangevalen", "ze zijn nu aangehouden",
     "ze is nu opgenomen in het ziekenhuis", "de kamer is nu afgesloten"],
)
def test_no_danger_now_in_typed_text(text: str) -> None:
    assert not signals_danger_now(text)


def test_danger_mid_question_marks_acute_and_repeats_the_question(engine: ProtocolEngine) -> None:
    state = walk(engine, NO, kies("bedreiging"), kies("volwassene"))
    assert state.step == "gesprek_veilig" and not state.acute
    turn = engine.answer(state, typed("help hij staat nu met een mes voor haar deur"))
    assert turn.acute and not turn.understood and turn.help is None
    assert turn.step.id == "gesprek_veilig"
    assert turn.state == ProtocolState(EGG, "gesprek_veilig", state.answers, acute=True)


def test_danger_intent_on_a_free_text_question_is_not_taken_as_the_answer(engine: ProtocolEngine) -> None:
    state = walk(engine, NO, kies("anders"))
    turn = engine.answer(state, UserInput("hij komt eraan", "acuut_gevaar"))
    assert turn.acute and not turn.understood and turn.state.step == "vorm_anders"


@pytest.mark.parametrize("protocol", ["eergerelateerd_geweld", "seksueel_geweld", "suicidaliteit",
                                      "algemene_veiligheid"])
def test_a_report_that_says_the_danger_is_now_answers_the_first_question(engine: ProtocolEngine,
                                                                         protocol: str) -> None:
    """112 is said with the start: "Is iemand nu in direct gevaar?" is not asked next. The
    run lands where "nee" leads, past the 112 step, whose text the form shows before the
    next question unless the start said it already (the protocol's own 112 step)."""
    start = engine.start(protocol, acute=True)
    report = UserInput("help hij staat nu met een mes op de gang", f"melding_{protocol}")
    told = engine.answered_by_report(start, report)
    assert told is not None and told.acute and told.answer == "ja"
    assert told.state.answers == [{"step": "acuut_gevaar", "answer": "ja"}] and told.state.acute
    said_no = engine.answer(start, UserInput("nee", "deny")).state
    assert told.state.step == said_no.step != "acuut_gevaar"
    passed = [step.id for step in engine.pending_instructions(told.state)]
    assert ("bel_112" in passed) == (engine.acute_step(protocol) is None)


@pytest.mark.parametrize("report", [
    UserInput("een bewoonster wordt door haar broer bedreigd", "melding_eergerelateerd_geweld"),  # not now
    UserInput("er is iets met haar broer", "acuut_gevaar"),  # the NLU's alarm alone does not answer it
    UserInput("ja", "affirm"),
])
def test_a_report_without_danger_in_its_words_leaves_the_first_question_open(engine: ProtocolEngine,
                                                                              report: UserInput) -> None:
    assert engine.answered_by_report(engine.start(EGG), report) is None


def test_only_the_first_question_is_answered_by_a_report(engine: ProtocolEngine) -> None:
    later = walk(engine, NO)
    assert engine.answered_by_report(later, typed("help hij staat nu met een mes op de gang")) is None


def test_danger_with_a_clear_answer_answers_and_flags(engine: ProtocolEngine) -> None:
    state = walk(engine, NO, kies("bedreiging"), kies("volwassene"))
    turn = engine.answer(state, UserInput("ja, maar hij staat nu met een mes voor de deur", "acuut_gevaar"))
    assert turn.understood and turn.acute and turn.answer == "ja"
    assert turn.state.acute
    assert [s.id for s in turn.instructions] == ["gesprek_voeren"]


def test_danger_at_the_danger_question_is_its_acute_answer(engine: ProtocolEngine) -> None:
    turn = engine.answer(engine.start(EGG), UserInput("nee maar hij staat nu met een mes", "acuut_gevaar"))
    assert turn.understood and turn.acute and turn.answer == "ja"
    assert turn.step.id == "vorm_dreiging"


SUI = "suicidaliteit"


@pytest.mark.parametrize(
    "text",
    ["ja hij heeft een plan", "ze heeft een afscheidsbrief geschreven", "hij heeft pillen verzameld",
     "hij heeft nog geen plan maar wel de pillen verzameld", "ze heeft een touw op haar kamer",
     "ja, ze heeft zich gesneden en bloedt nog", "hij heeft een handvol pillen geslikt",
     "hij kan niet meer, heeft een plan", "ze heeft geen afscheidsbrief maar wel een touw"],
)
def test_a_plan_or_the_means_is_danger_now_in_a_suicidality_run_only(engine: ProtocolEngine, text: str) -> None:
    """The protocol's own ``danger_phrases``: "een plan" says danger in its context, not
    in another report (domestic violence) or outside a protocol."""
    assert engine.signals_danger(typed(text), SUI)
    assert not engine.signals_danger(typed(text), "huiselijk_geweld")
    assert not engine.signals_danger(typed(text))


@pytest.mark.parametrize(
    ("protocol", "text"),
    [("meisjesbesnijdenis", "ze is gisteren besneden en heeft hoge koorts"),
     ("meisjesbesnijdenis", "het meisje bloedt nog"),
     ("seksueel_geweld", "de dader is nog in de buurt"),
     ("algemene_veiligheid", "ja, en hij bloedt"),
     ("algemene_veiligheid", "ze wordt meegenomen door twee mannen")],
)
def test_the_signs_in_a_protocols_own_danger_question_are_danger_in_its_run(engine: ProtocolEngine, protocol: str,
                                                                           text: str) -> None:
    assert engine.signals_danger(typed(text), protocol)
    assert not engine.signals_danger(typed(text))


def test_an_injury_from_yesterday_is_no_danger_now_on_the_general_path(engine: ProtocolEngine) -> None:
    text = "een bewoner is gisteren in elkaar geslagen door iemand anders, hij is gewond"
    assert not engine.signals_danger(typed(text), "algemene_veiligheid")


@pytest.mark.parametrize("text", ["een meisje van 6 moet deze zomer in het land van herkomst besneden worden",
                                  "ze is als kind besneden en heeft nu veel pijn bij het plassen"])
def test_a_cutting_planned_or_long_ago_is_no_danger_now(engine: ProtocolEngine, text: str) -> None:
    assert not engine.signals_danger(typed(text), "meisjesbesnijdenis")


@pytest.mark.parametrize("text", ["nee, geen plan", "ze heeft geen afscheidsbrief", "hij wil niet meer leven",
                                  "een volwassene"])
def test_a_negated_plan_is_no_danger_in_a_suicidality_run(engine: ProtocolEngine, text: str) -> None:
    assert not engine.signals_danger(typed(text), SUI)


def test_a_plan_told_at_a_later_question_says_112_and_asks_again(engine: ProtocolEngine) -> None:
    state = walk(engine, NO, protocol=SUI)
    assert state.step == "wie_bewoner" and not state.acute
    turn = engine.answer(state, typed("ja hij heeft een plan"))
    assert turn.acute and not turn.understood and turn.help is None
    assert turn.state == ProtocolState(SUI, "wie_bewoner", state.answers, acute=True)


def test_no_but_a_plan_at_the_danger_question_is_its_acute_answer(engine: ProtocolEngine) -> None:
    turn = engine.answer(engine.start(SUI), typed("nee, maar hij heeft wel een plan"))
    assert turn.understood and turn.acute and turn.answer == "ja"
    assert [s.id for s in turn.instructions] == ["bel_112", "niet_alleen_laten", "bel_113", "gza_vandaag"]
    # bel_112 is the acute_step: said as the 112 advice, not again among the instructions
    assert [s.id for s in engine.pending_instructions(turn.state)] == ["niet_alleen_laten", "bel_113",
                                                                       "gza_vandaag"]


def test_only_the_acute_step_is_left_out_of_the_instructions_shown(engine: ProtocolEngine) -> None:
    state = walk(engine, YES, protocol=EGG)
    assert engine.acute_step(EGG) is None and engine.pending_instructions(state)[0].id == "bel_112"


# --------------------------------------------------------------------------- decisions


def test_decision_of_a_full_walk(engine: ProtocolEngine) -> None:
    state = walk(engine, YES, typed("huwelijksdwang"), typed("een volwassene"), typed("nee hoor"), typed("ja"),
                 typed("jazeker"), YES)
    assert engine.is_finished(state)
    decision = engine.decision(state)
    assert decision.payload() == {
        "protocol": EGG,
        "protocol_version": "1.2.0",
        "acute": True,
        "referrals": ["politie", "landelijk_knooppunt_huwelijksdwang", "veilig_thuis", "lec_egg",
                      "vrouwenopvang", "slachtofferhulp"],
        "steps": [{"step": "acuut_gevaar", "answer": "ja"},
                  {"step": "vorm_dreiging", "answer": "huwelijksdwang"},
                  {"step": "wie_slachtoffer", "answer": "volwassene"},
                  {"step": "gesprek_veilig", "answer": "nee"},
                  {"step": "afweging_vermoeden", "answer": "ja"},
                  {"step": "afweging_onveilig", "answer": "ja"},
                  {"step": "veilige_opvang", "answer": "ja"}],
        "outcome": "melding_veilig_thuis_opvang",
    }
    assert decision.key_positions == ["contactpersoon_veiligheid", "aandachtsfunctionaris"]
    assert decision.actions[0].startswith("Meld nu bij Veilig Thuis")
    assert json.loads(json.dumps(decision.payload())) == decision.payload()


def test_danger_flagged_outside_the_graph_records_the_police_referral(test_knowledge: Knowledge) -> None:
    engine = ProtocolEngine(test_knowledge)
    state = walk(engine, typed("3"), protocol="testprotocol")
    assert engine.decision(state).referrals == ["centrum_seksueel_geweld"]
    state.acute = True  # e.g. "Bel nu eerst 112" was given for a message mid-protocol
    decision = engine.decision(state)
    assert decision.acute is True
    assert decision.referrals == ["politie", "centrum_seksueel_geweld"]


def test_decision_before_the_outcome_is_an_error(engine: ProtocolEngine) -> None:
    with pytest.raises(EngineError):
        engine.decision(engine.start(EGG))


@pytest.mark.parametrize("protocol_id", sorted(load_knowledge().protocols))
def test_every_path_of_every_protocol_walks_to_its_decision(engine: ProtocolEngine, knowledge: Knowledge,
                                                           protocol_id: str) -> None:
    protocol = knowledge.protocols[protocol_id]
    paths = list(iter_paths(protocol))
    assert paths
    for path in paths:
        state = engine.start(protocol_id)
        for item in path[:-1]:
            if item.step.kind == "instruction":
                continue
            answer = "vrije tekst" if item.step.kind == "text" else item.answer
            turn = engine.answer(state, UserInput(text=str(answer), keuze=str(answer)))
            assert turn.understood, (item.step.id, answer)
            state = turn.state
        decision = engine.decision(state)
        acute = any(i.step.is_acute(i.answer) for i in path if i.answer is not None)
        assert decision.outcome == path[-1].step.outcome
        assert decision.acute is acute
        expected = path_referrals(path)
        if acute and "politie" not in expected:
            expected.insert(0, "politie")
        assert decision.referrals == expected
        assert decision.key_positions == path_key_positions(path)
        assert set(protocol.required_referrals) <= set(decision.referrals)


# --------------------------------------------------------------------------- opnieuw / terug


def test_restart_goes_back_to_the_first_question_and_keeps_acute(engine: ProtocolEngine) -> None:
    state = walk(engine, YES, kies("bedreiging"))
    assert state.acute is True and state.step == "wie_slachtoffer"
    restarted = engine.restart(state)
    assert restarted == ProtocolState(EGG, "acuut_gevaar", [], True)
    calm = walk(engine, NO)
    assert engine.restart(calm) == ProtocolState(EGG, "acuut_gevaar", [], False)


def test_back_undoes_the_last_answer(engine: ProtocolEngine) -> None:
    state = walk(engine, NO, kies("huwelijksdwang"))
    assert state.step == "wie_slachtoffer"
    previous = engine.back(state)
    assert previous == ProtocolState(EGG, "vorm_dreiging", [{"step": "acuut_gevaar", "answer": "nee"}], False)
    first = engine.back(previous)
    assert first == ProtocolState(EGG, "acuut_gevaar", [], False)
    assert engine.back(first) is None
    # a different answer after going back takes another route
    again = engine.answer(previous, kies("bedreiging"))
    assert again.understood and again.state.answers[-1] == {"step": "vorm_dreiging", "answer": "bedreiging"}
    assert [s.id for s in again.instructions] == ["deskundige_raadplegen", "geen_contact_familie"]


def test_back_keeps_the_acute_flag(engine: ProtocolEngine) -> None:
    state = walk(engine, YES)
    assert engine.back(state) == ProtocolState(EGG, "acuut_gevaar", [], True)


def test_back_on_a_state_that_does_not_fit_is_an_engine_error(engine: ProtocolEngine) -> None:
    with pytest.raises(EngineError):
        engine.back(ProtocolState(EGG, "gesprek_veilig", [{"step": "acuut_gevaar", "answer": "nee"}]))


def test_engine_errors_never_contain_the_answer(engine: ProtocolEngine) -> None:
    state = ProtocolState("lhbti_ondersteuning", "wie_dreigt",
                          [{"step": "acuut_gevaar", "answer": "nee"},
                           {"step": "toestemming_registratie", "answer": "ja"},
                           {"step": "grond_registratie", "answer": "geheim_antwoord"}])
    with pytest.raises(EngineError) as info:
        engine.decision(state)
    assert "geheim_antwoord" not in str(info.value)


# --------------------------------------------------------------------------- LHBTI consent


LHBTI = "lhbti_ondersteuning"


def test_with_consent_the_ground_is_recorded(engine: ProtocolEngine) -> None:
    state = walk(engine, NO, YES, kies("lhbti"), kies("volwassene"), kies("geen_dreiging"), NO, protocol=LHBTI)
    decision = engine.decision(state)
    assert decision.steps == [
        {"step": "acuut_gevaar", "answer": "nee"},
        {"step": "toestemming_registratie", "answer": "ja"},
        {"step": "grond_registratie", "answer": "lhbti"},
        {"step": "wie_bewoner", "answer": "volwassene"},
        {"step": "wie_dreigt", "answer": "geen_dreiging"},
        {"step": "andere_woonplek", "answer": "nee"},
    ]


def test_without_consent_nothing_about_the_ground_is_recorded(engine: ProtocolEngine) -> None:
    state = walk(engine, NO, NO, kies("volwassene"), kies("medebewoners"), YES, protocol=LHBTI)
    decision = engine.decision(state)
    assert [s["step"] for s in decision.steps] == ["acuut_gevaar", "toestemming_registratie", "wie_bewoner",
                                                   "wie_dreigt", "andere_woonplek"]
    assert "grond_registratie" not in json.dumps(decision.payload())


def test_the_decision_builder_drops_a_gated_answer_without_consent(knowledge: Knowledge) -> None:
    """Defence in depth: even if a graph let the ground be asked after "nee",
    the recorded decision leaves that answer out."""
    protocol = knowledge.protocols[LHBTI]
    consent = protocol.steps["toestemming_registratie"]
    leaky_consent = dataclasses.replace(consent, next={"ja": "grond_registratie", "nee": "grond_registratie"})
    leaky = dataclasses.replace(protocol, steps={**protocol.steps, consent.id: leaky_consent})
    engine = ProtocolEngine(Knowledge(protocols={LHBTI: leaky}, organisations=knowledge.organisations,
                                      sources=knowledge.sources))
    state = walk(engine, NO, NO, kies("bekering"), kies("volwassene"), kies("geen_dreiging"), NO, protocol=LHBTI)
    assert {"step": "grond_registratie", "answer": "bekering"} in state.answers
    decision = engine.decision(state)
    assert decision.steps == [
        {"step": "acuut_gevaar", "answer": "nee"},
        {"step": "toestemming_registratie", "answer": "nee"},
        {"step": "wie_bewoner", "answer": "volwassene"},
        {"step": "wie_dreigt", "answer": "geen_dreiging"},
        {"step": "andere_woonplek", "answer": "nee"},
    ]
    assert "bekering" not in json.dumps(decision.payload())


# --------------------------------------------------------------------------- step numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [("wat is stap 4 van de meldcode?", 4), ("stap vier van de meldcode", 4), ("wat is de vierde stap", 4),
     ("stap 2 bij eergerelateerd geweld", 2), ("wat houdt stap een in", 1), ("stap één", 1),
     ("de 3e stap", 3), ("wat zegt stap twaalf", 12), ("wat is de meldcode", None)],
)
def test_parse_step_number(text: str, expected: int | None) -> None:
    assert parse_step_number(text) == expected


# --------------------------------------------------------------------------- the protocol that leads


@pytest.mark.parametrize(
    ("text", "leads"),
    [("een man slaat zijn zwangere vrouw", "huiselijk_geweld"),
     ("bewoonster is zwanger en wordt door haar man geslagen", "huiselijk_geweld"),
     ("een zwangere bewoonster wordt mishandeld door haar partner", "huiselijk_geweld"),
     ("haar man schopt haar terwijl ze zwanger is", "huiselijk_geweld"),
     ("haar partner sloeg haar in haar buik, ze is zwanger", "huiselijk_geweld"),
     # Threats, pressure and rape: the pregnancy protocol asks about those itself.
     ("een zwangere vrouw wordt door haar vriend bedreigd", "ongewenste_zwangerschap"),
     ("zwanger en haar familie dwingt haar het kind te houden", "ongewenste_zwangerschap"),
     ("8 weken zwanger door een verkrachting en wil abortus", "ongewenste_zwangerschap"),
     ("ze is zwanger en haar vriend wil dat ze een abortus doet", "ongewenste_zwangerschap"),
     # A word that only contains a stem does not count.
     ("ze is zwanger en verslaat iedereen met schaken", "ongewenste_zwangerschap")],
)
def test_violence_against_a_pregnant_woman_is_led_by_the_meldcode(engine: ProtocolEngine, text: str,
                                                                    leads: str) -> None:
    protocol, give_way = engine.leading_protocol(engine.knowledge.protocols["ongewenste_zwangerschap"],
                                                 UserInput(text=text))
    assert protocol.id == leads
    assert (give_way is not None) == (leads != "ongewenste_zwangerschap")


def test_a_protocol_without_gives_way_leads_itself(engine: ProtocolEngine) -> None:
    sg = engine.knowledge.protocols["seksueel_geweld"]
    assert engine.leading_protocol(sg, UserInput(text="ze is geslagen en verkracht")) == (sg, None)

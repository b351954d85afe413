"""action_start_protocol and action_acute_danger, with exact events and messages."""

from __future__ import annotations

from rasa_sdk.events import FollowupAction, SlotSet

from actions import ActionAcuteDanger, ActionStartProtocol
from actions.presenter import ACUTE_TEXT
from knowledge import Knowledge
from tests.actions.conftest import FakeApi
from tests.actions.helpers import action_event, make_tracker, run, texts

REPORT = "een bewoonster vertelt dat haar broer haar bedreigt omdat ze niet met haar neef wil trouwen"

EGG_STARTED = ("Ik volg het protocol Eergerelateerd geweld. Past dit niet bij de situatie, typ dan 'stop' "
               "en beschrijf de situatie opnieuw.")


def fresh_slots(acute: bool = False, location: str | None = "TERAPEL", run: str = "run-1@100.0",
                protocol: str = "eergerelateerd_geweld", told_at: str | None = None) -> list[dict]:
    """``run``: the run id, "run-<tracker events>@<latest event time>" (the user message at 100.0).
    ``told_at``: the report said the danger is now, which answered "acuut_gevaar" with ja;
    the run waits at this step."""
    told = [{"step": "acuut_gevaar", "answer": "ja"}] if told_at else []
    events = [
        SlotSet("protocol", protocol),
        SlotSet("protocol_step", told_at or "acuut_gevaar"),
        SlotSet("protocol_answers", told),
        SlotSet("acute", acute),
        SlotSet("protocol_answer", None),
        SlotSet("misses", 0.0),
        SlotSet("incident_reference", None),
        SlotSet("protocol_run", run),
    ]
    return [*events, SlotSet("location", location)] if location else events


def test_start_resets_the_protocol_slots_and_takes_the_location_from_metadata() -> None:
    tracker = make_tracker(text=REPORT, intent="melding_eergerelateerd_geweld",
                           metadata={"location": "TERAPEL"},
                           slots={"protocol_answers": [{"step": "x", "answer": "ja"}], "misses": 2.0,
                                  "incident_reference": "EGG-OLD"})
    events, messages = run(ActionStartProtocol(), tracker)
    assert events == fresh_slots()
    assert texts(messages) == [EGG_STARTED]  # which protocol, nothing else


def test_start_without_metadata_keeps_the_location_slot_for_the_form() -> None:
    tracker = make_tracker(text=REPORT, intent="melding_eergerelateerd_geweld", slots={"location": "BUDEL"})
    events, _ = run(ActionStartProtocol(), tracker)
    assert events == fresh_slots(location=None)


def test_start_falls_back_to_the_session_start_metadata() -> None:
    tracker = make_tracker(text=REPORT, intent="melding_eergerelateerd_geweld",
                           slots={"session_started_metadata": {"location": "ZWOLLE"}})
    events, _ = run(ActionStartProtocol(), tracker)
    assert events == fresh_slots(location="ZWOLLE")


def test_start_keeps_acute_flagged_just_before_by_action_acute_danger() -> None:
    tracker = make_tracker(text="/melding_eergerelateerd_geweld", intent="melding_eergerelateerd_geweld",
                           metadata={"location": "TERAPEL"}, slots={"acute": True},
                           events_before=[action_event("action_acute_danger"), action_event("action_listen")])
    events, messages = run(ActionStartProtocol(), tracker)
    assert events == fresh_slots(acute=True, run="run-3@100.0")
    assert texts(messages) == [EGG_STARTED]  # which protocol, nothing else


def test_start_does_not_keep_acute_of_an_earlier_recorded_run() -> None:
    tracker = make_tracker(text=REPORT, intent="melding_eergerelateerd_geweld",
                           metadata={"location": "TERAPEL"}, slots={"acute": True},
                           events_before=[action_event("action_acute_danger", 10.0),
                                          action_event("action_record_decision", 20.0)])
    events, _ = run(ActionStartProtocol(), tracker)
    assert events == fresh_slots(acute=False, run="run-3@100.0")


def test_a_report_that_says_the_danger_is_now_gets_112_first() -> None:
    tracker = make_tracker(text="haar broer staat nu met een mes voor haar deur, hij wil haar uithuwelijken",
                           intent="melding_eergerelateerd_geweld", metadata={"location": "TERAPEL"})
    events, messages = run(ActionStartProtocol(), tracker)
    assert texts(messages) == [ACUTE_TEXT, EGG_STARTED]  # 112 first
    assert "Bel nu eerst 112" in messages[0]["text"]
    # What it just told answers "Is er op dit moment direct gevaar?": not asked again.
    assert events == fresh_slots(acute=True, told_at="vorm_dreiging")


def test_a_suicidality_report_with_a_plan_and_the_means_gets_112_first() -> None:
    """The protocol's own danger phrases count in the report that starts it."""
    tracker = make_tracker(text="bewoner heeft een afscheidsbrief geschreven en pillen verzameld",
                           intent="melding_suicidaliteit", metadata={"location": "TERAPEL"})
    events, messages = run(ActionStartProtocol(), tracker)
    assert texts(messages)[1:] == ["Ik volg het protocol Suïcidaliteit en zelfbeschadiging. Past dit niet bij "
                                   "de situatie, typ dan 'stop' en beschrijf de situatie opnieuw."]
    # its own 112 step (an ambulance, stay with the resident), not the police advice
    assert texts(messages)[0].startswith("Bel nu 112 en vraag om een ambulance") and "pleger" not in texts(messages)[0]
    assert events == fresh_slots(acute=True, protocol="suicidaliteit", told_at="wie_bewoner")


def test_start_with_an_intent_without_protocol_says_so() -> None:
    events, messages = run(ActionStartProtocol(), make_tracker(text="hallo", intent="greet"))
    assert events == []
    assert len(messages) == 1 and "welk protocol" in messages[0]["text"]


def test_acute_danger_outside_a_protocol_says_112_first_then_asks_the_topic(knowledge: Knowledge) -> None:
    tracker = make_tracker(text="hij staat met een mes voor de deur", intent="acuut_gevaar")
    events, messages = run(ActionAcuteDanger(), tracker)
    assert events == [SlotSet("acute", True)]
    assert messages[0]["text"] == ACUTE_TEXT
    assert messages[0]["text"].startswith("Bel nu eerst 112")
    # Before the topic is known: the police, an ambulance for someone hurt or harming
    # himself, nobody left alone with whoever threatens, and nobody in crisis alone.
    assert all(part in ACUTE_TEXT for part in ("politie", "ambulance", "zichzelf", "wie dreigt", "niet alleen"))
    assert messages[1]["text"] == "Daarna help ik u verder. Waar gaat het om?"
    # Every protocol, then the safe general path for what fits none of them.
    assert messages[1]["buttons"] == [{"title": p.title, "payload": f"/{p.intent}"}
                                      for p in knowledge.protocols.values()] + [
        {"title": "Algemene veiligheidsstappen", "payload": "/melding_veiligheid_algemeen"}]
    egg = {"title": "Eergerelateerd geweld", "payload": "/melding_eergerelateerd_geweld"}
    assert egg in messages[1]["buttons"]
    assert len(messages) == 2


def test_metadata_is_read_from_the_latest_user_event_when_latest_message_lacks_it() -> None:
    tracker = make_tracker(text=REPORT, intent="melding_eergerelateerd_geweld")
    tracker.events[-1]["metadata"] = {"location": "GILZE"}
    events, _ = run(ActionStartProtocol(), tracker)
    assert events[-1] == SlotSet("location", "GILZE")


# A report of two situations: one protocol starts, the other is noted for after its decision.
TWO_SITUATIONS = "een bewoonster is 8 weken zwanger door een verkrachting in libie en wil abortus"
SG_STARTED = ("Ik volg het protocol Seksueel geweld. Past dit niet bij de situatie, typ dan 'stop' "
              "en beschrijf de situatie opnieuw.")
OZ_NOTED = "Ik heb ook Ongewenste zwangerschap genoteerd; dat bieden we aan na dit protocol."


def named(*protocols: str) -> list[dict]:
    """The ``protocol`` entities of the entity ruler (knowledge/: signal phrases)."""
    return [{"entity": "protocol", "value": protocol, "extractor": "EntityRulerExtractor"} for protocol in protocols]


def sg_tracker(entities: list[dict], slots: dict | None = None) -> object:
    return make_tracker(text=TWO_SITUATIONS, intent="melding_seksueel_geweld", entities=entities,
                        metadata={"location": "TERAPEL"}, slots=slots)


def test_a_report_naming_a_second_situation_notes_it_for_after_the_decision() -> None:
    events, messages = run(ActionStartProtocol(),
                           sg_tracker(named("ongewenste_zwangerschap", "seksueel_geweld")))
    assert events == [*fresh_slots(protocol="seksueel_geweld"),
                      SlotSet("pending_protocol", "ongewenste_zwangerschap")]
    assert texts(messages) == [SG_STARTED, OZ_NOTED]


def test_a_report_naming_only_its_own_protocol_notes_nothing() -> None:
    events, messages = run(ActionStartProtocol(), sg_tracker(named("seksueel_geweld")))
    assert events == fresh_slots(protocol="seksueel_geweld")
    assert texts(messages) == [SG_STARTED]


def test_a_topic_noted_before_stays_and_the_new_one_is_explained() -> None:
    events, messages = run(ActionStartProtocol(), sg_tracker(named("ongewenste_zwangerschap"),
                                                             slots={"pending_protocol": "huiselijk_geweld"}))
    assert events == fresh_slots(protocol="seksueel_geweld")  # huiselijk_geweld stays noted
    assert texts(messages) == [SG_STARTED, "Ik heb al Huiselijk geweld en kindermishandeling genoteerd om na dit "
                               "protocol aan te bieden. Start daarna ook Ongewenste zwangerschap door de situatie "
                               "kort te beschrijven."]


def test_starting_the_noted_topic_notes_the_next_one_named() -> None:
    events, messages = run(ActionStartProtocol(), sg_tracker(named("ongewenste_zwangerschap"),
                                                             slots={"pending_protocol": "seksueel_geweld"}))
    assert events == [*fresh_slots(protocol="seksueel_geweld")[:-1], SlotSet("pending_protocol", None),
                      SlotSet("location", "TERAPEL"), SlotSet("pending_protocol", "ongewenste_zwangerschap")]
    assert texts(messages) == [SG_STARTED, OZ_NOTED]


# Violence against a pregnant woman: the NLU may take the pregnancy for the topic;
# the meldcode leads (knowledge: gives_way) and the pregnancy is offered afterwards.
HG_STARTED = ("Ik volg het protocol Huiselijk geweld en kindermishandeling. Past dit niet bij de situatie, "
              "typ dan 'stop' en beschrijf de situatie opnieuw.")
MELDCODE_FIRST = ("De melding noemt geweld tegen haar. Daarvoor geldt eerst de meldcode huiselijk geweld en "
                  "kindermishandeling.\n\nBron: Rijksoverheid: Basismodel meldcode huiselijk geweld en "
                  "kindermishandeling (https://www.rijksoverheid.nl/documenten/rapporten/2017/01/09/"
                  "basismodel-meldcode-huiselijk-geweld-en-kindermishandeling)")


def test_violence_against_a_pregnant_woman_starts_the_meldcode_and_notes_the_pregnancy() -> None:
    tracker = make_tracker(text="een man slaat zijn zwangere vrouw", intent="melding_ongewenste_zwangerschap",
                           metadata={"location": "TERAPEL"})
    events, messages = run(ActionStartProtocol(), tracker)
    assert events == [*fresh_slots(protocol="huiselijk_geweld"),
                      SlotSet("pending_protocol", "ongewenste_zwangerschap")]
    assert texts(messages) == [HG_STARTED, MELDCODE_FIRST, OZ_NOTED]


def test_a_pregnancy_report_without_violence_starts_its_own_protocol() -> None:
    tracker = make_tracker(text="een bewoonster is zwanger en haar vriend wil dat ze een abortus doet",
                           intent="melding_ongewenste_zwangerschap", metadata={"location": "TERAPEL"},
                           entities=named("ongewenste_zwangerschap"))
    events, messages = run(ActionStartProtocol(), tracker)
    assert events == fresh_slots(protocol="ongewenste_zwangerschap")
    assert texts(messages) == ["Ik volg het protocol Ongewenste zwangerschap. Past dit niet bij de situatie, typ "
                               "dan 'stop' en beschrijf de situatie opnieuw."]


# A question that only looks like a report because of a name in it.
def test_a_question_about_a_key_position_named_after_a_protocol_starts_nothing(fake_api: FakeApi) -> None:
    text = "wie is de aandachtsfunctionaris huiselijk geweld en kindermishandeling in Ter Apel?"
    label = "aandachtsfunctionaris huiselijk geweld en kindermishandeling"
    tracker = make_tracker(text=text, intent="melding_huiselijk_geweld", metadata={"location": "TERAPEL"},
                           entities=[{"entity": "key_position", "value": "aandachtsfunctionaris",
                                      "start": text.index(label), "end": text.index(label) + len(label)},
                                     {"entity": "location", "value": "TERAPEL", "start": text.index("Ter Apel"),
                                      "end": len(text) - 1}])
    events, messages = run(ActionStartProtocol(), tracker)
    assert events == [FollowupAction("action_listen")]  # no protocol slots, no form
    assert texts(messages) == ["De aandachtsfunctionaris huiselijk geweld en kindermishandeling op Ter Apel: "
                               "Sanne Bakker."]


def test_a_question_with_a_report_in_it_starts_the_protocol() -> None:
    text = "wie is de aandachtsfunctionaris, haar man slaat haar"
    tracker = make_tracker(text=text, intent="melding_huiselijk_geweld", metadata={"location": "TERAPEL"},
                           entities=[{"entity": "key_position", "value": "aandachtsfunctionaris",
                                      "start": 10, "end": 31}])
    events, messages = run(ActionStartProtocol(), tracker)
    assert events == fresh_slots(protocol="huiselijk_geweld")
    assert texts(messages) == [HG_STARTED]

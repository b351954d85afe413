"""The four protocols of issue 13 end to end over the REST channel: a free Dutch
description starts the right protocol, every question of one path is answered with
its button (or typed, for free text), and the incident read back through the API has
the protocol id, the referrals of that path and the acute flag."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from knowledge import PathStep, iter_paths, path_referrals
from tests.e2e.chat import Conversation
from tests.e2e.test_protocols import KNOWLEDGE, NO, YES, asks, kies, recorded

pytestmark = pytest.mark.e2e

Path = tuple[PathStep, ...]


def answers(path: Path) -> dict[str, object]:
    return {item.step.id: item.answer for item in path}


def first_path(protocol: str, wanted: Callable[[Path], bool]) -> Path:
    return next(path for path in iter_paths(KNOWLEDGE.protocols[protocol]) if wanted(path))


def payload(item: PathStep) -> str:
    if item.step.kind == "yes_no":
        return YES if item.answer == "ja" else NO
    if item.step.kind == "choice":
        return kies(str(item.answer))
    if item.step.kind == "number":
        return str(item.answer)
    return "dat wil ik liever niet in detail vastleggen"  # a free-text step


def walk(protocol: str, opening: str, path: Path, location: str = "TERAPEL") -> dict:
    """Says ``opening``, answers every question of ``path`` and returns the incident."""
    questions = [item for item in path if item.step.is_question]
    chat = Conversation(location=location)
    replies = chat.say(opening)
    for index, item in enumerate(questions):
        asks(chat, replies, protocol, item.step.id)
        replies = chat.say(payload(item))
        if index == 0 and item.answer == "ja" and item.step.is_acute("ja"):
            assert "112" in replies[0]["text"], chat.dump()
    incident = recorded(chat, replies, location=location)
    assert incident["protocol"] == protocol, chat.dump()
    assert incident["outcome"] == path[-1].step.outcome
    assert set(path_referrals(path)) <= set(incident["referrals"]), chat.dump()
    acute = any(item.step.is_acute(item.answer) for item in path)
    assert incident["acute"] is acute
    return incident


def test_huiselijk_geweld_partner_violence_to_veilig_thuis(stack) -> None:
    path = first_path("huiselijk_geweld", lambda p: answers(p).get("acuut_gevaar") == "nee"
                      and answers(p).get("soort_geweld") == "partnergeweld" and answers(p).get("eer_signalen") == "nee")
    incident = walk("huiselijk_geweld", "haar man slaat haar al maanden, ze durft niet naar huis", path)
    assert "veilig_thuis" in incident["referrals"]


def test_mensenhandel_labour_exploitation_to_the_arbeidsinspectie(stack) -> None:
    path = first_path("mensenhandel", lambda p: answers(p).get("acuut_gevaar") == "nee"
                      and answers(p).get("vorm_uitbuiting") == "arbeid" and answers(p).get("signalen") == "ja")
    incident = walk("mensenhandel", "een bewoner moet zestien uur per dag werken in een kas en krijgt geen loon",
                    path, location="BUDEL")
    assert "arbeidsinspectie" in incident["referrals"]


def test_meisjesbesnijdenis_acute_calls_112_first_and_veilig_thuis(stack) -> None:
    path = first_path("meisjesbesnijdenis", lambda p: answers(p).get("acuut_gevaar") == "ja")
    incident = walk("meisjesbesnijdenis", "een meisje van 6 moet deze zomer in het land van herkomst besneden worden",
                    path)
    assert incident["acute"] is True
    assert {"politie", "veilig_thuis"} <= set(incident["referrals"])


def test_suicidaliteit_to_113_and_gza(stack) -> None:
    path = first_path("suicidaliteit", lambda p: answers(p).get("acuut_gevaar") == "nee"
                      and answers(p).get("wie_bewoner") == "volwassene")
    incident = walk("suicidaliteit", "een bewoner zegt dat hij niet meer wil leven", path, location="ZWOLLE")
    assert {"zelfmoordpreventie_113", "gza"} <= set(incident["referrals"])


@pytest.mark.parametrize("report", ["een bewoner dreigt zichzelf op te hangen, hij staat nu op het dak",
                                    "help er is een steekpartij op de gang"])
def test_a_report_of_danger_now_gets_112_in_the_very_next_reply(stack, report: str) -> None:
    """Contract: whatever the assistant starts, its first reply tells to call 112 first
    (in a suicidality run its own 112 step: an ambulance, stay with the resident)."""
    chat = Conversation()
    replies = chat.say(report)
    assert replies[0]["text"].startswith(("Bel nu eerst 112", "Bel nu 112")), chat.dump()


def test_a_plan_told_after_no_danger_in_a_suicidality_run_says_112_and_is_recorded_acute(stack) -> None:
    """"nee" to "is er nu levensgevaar?", then "ja hij heeft een plan": 112 first (an
    ambulance, not the police advice), the same question again, and the decision acute."""
    protocol = KNOWLEDGE.protocols["suicidaliteit"]
    chat = Conversation()
    asks(chat, chat.say("een bewoner zegt dat hij niet meer wil leven"), "suicidaliteit", "acuut_gevaar")
    asks(chat, chat.say(NO), "suicidaliteit", "wie_bewoner")
    replies = chat.say("ja hij heeft een plan")
    assert replies[0]["text"].startswith(protocol.steps["bel_112"].text), chat.dump()
    assert "pleger" not in replies[0]["text"]
    asks(chat, replies, "suicidaliteit", "wie_bewoner")
    asks(chat, chat.say(kies("volwassene")), "suicidaliteit", "zelfbeschadiging")
    incident = recorded(chat, chat.say(NO))
    assert incident["protocol"] == "suicidaliteit" and incident["acute"] is True, chat.dump()


def test_the_morning_after_pill_is_no_pregnancy_of_so_many_weeks(stack) -> None:
    """Issue 13 part 4: the windows in hours, GZA or the pharmacy; an unaccompanied minor
    brings in Nidos; sex that was not consensual refers to the CSG and Veilig Thuis and
    offers the sexual-violence protocol right after the decision."""
    oz = "ongewenste_zwangerschap"
    chat = Conversation(location="ZWOLLE")
    opening = "een bewoonster vraagt of ze nog een morning-afterpil kan krijgen, gisteren is het condoom gescheurd"
    asks(chat, chat.say(opening), oz, "acuut_gevaar")
    asks(chat, chat.say(NO), oz, "morning_afterpil")
    windows = chat.say(YES)
    text = chat.text(windows)
    for said in ("72 uur", "levonorgestrel", "120 uur", "ulipristal", "koperspiraal", "5 dagen", "apotheek"):
        assert said in text, chat.dump()
    asks(chat, windows, oz, "nood_wie")
    asks(chat, chat.say(kies("amv")), oz, "seks_vrijwillig")
    final = chat.say(NO)
    incident = recorded(chat, final, location="ZWOLLE")
    assert incident["protocol"] == oz and incident["acute"] is False
    assert incident["outcome"] == "noodanticonceptie_seksueel_geweld"
    assert {"gza", "nidos", "centrum_seksueel_geweld", "veilig_thuis", "fiom", "siriz"} <= set(incident["referrals"])
    assert [s["step"] for s in incident["steps"]] == ["acuut_gevaar", "morning_afterpil", "nood_wie",
                                                      "seks_vrijwillig"]
    assert KNOWLEDGE.protocols[oz].steps["aantal_weken"].text not in chat.dump()
    assert final[-1]["text"] == "Wilt u nu ook het protocol Seksueel geweld doorlopen?", chat.dump()
    assert final[-1]["buttons"][0]["payload"] == "/melding_seksueel_geweld"

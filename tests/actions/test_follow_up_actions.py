"""The counsellor confirms its follow-ups in the chat (issue 15, part 2): the actions of
actions/follow_up_actions.py with ``Tracker.from_dict`` trackers against a real local
HTTP stand-in for the API's chat routes (GET /chat/follow-ups, POST
/follow-ups/{id}/events, PUT /teams/conversations)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import (
    ActionFollowUpAnswer,
    ActionFollowUpCheck,
    ActionNotUnderstood,
    ValidateFollowUpReasonForm,
    api_client,
)
from actions.follow_up_actions import ask_first, due_follow_ups, question
from actions.presenter import ACUTE_TEXT
from tests.actions.helpers import SERVICE_TOKEN, make_tracker, run, run_validation, slot_event

STAFF = "9f2c4e1a7b3d5c6e"
TENANT = "11111111-2222-4333-8444-555555555555"
REFERENCE = {"service_url": "https://smba.trafficmanager.net/emea/", "conversation_id": "a:1xyz",
             "bot_id": "28:bot", "user_id": "29:begeleider"}
TEAMS_METADATA = {"channel": "teams", "tenant": TENANT, "staff_id": STAFF, "location": "ZWOLLE",
                  "conversation_reference": REFERENCE}
BUTTONS = [{"title": "Ja", "payload": "/affirm"}, {"title": "Nee", "payload": "/deny"},
           {"title": "Later", "payload": '/kies{"keuze": "later"}'}]


def item(number: int, reference: str = "EGG-20261204-0001", overdue: bool = False) -> dict[str, Any]:
    return {"id": f"fu-{number}", "action": ["Veilig Thuis gebeld", "Risico-inschatting bij de politie gevraagd"][
        number % 2 - 1], "reference": reference, "due_at": "2026-12-05T09:30:00+00:00", "overdue": overdue,
        "status": "open", "organisation": None}  # fmt: skip


@dataclass
class ChatApi:
    url: str = ""
    due: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    conflict: bool = False


@pytest.fixture
def chat_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[ChatApi]:
    api = ChatApi()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: Any = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            url = urlsplit(self.path)
            api.requests.append({"method": self.command, "path": url.path, "query": parse_qs(url.query), "body": body})
            if self.headers.get("Authorization") != f"Bearer {SERVICE_TOKEN}":
                self._reply(401, {"detail": "not authenticated"})
            elif (self.command, url.path) == ("GET", "/api/v1/chat/follow-ups"):
                self._reply(200, {"items": api.due, "total": len(api.due), "open": len(api.due), "overdue": 0})
            elif self.command == "POST" and url.path.startswith("/api/v1/follow-ups/"):
                follow_up_id = url.path.split("/")[4]
                found = next(i for i in api.due if i["id"] == follow_up_id)
                if api.conflict:
                    self._reply(409, {"detail": "this follow-up is no longer open"})
                    return
                api.due.remove(found)
                self._reply(201, {**found, "status": body["status"]})
            elif (self.command, url.path) == ("PUT", "/api/v1/teams/conversations"):
                self._reply(204)
            else:
                self._reply(404, {"detail": "not found"})

        do_GET = do_POST = do_PUT = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    monkeypatch.setenv("COA_API_URL", api.url)
    monkeypatch.setenv("COA_SERVICE_TOKEN", SERVICE_TOKEN)
    monkeypatch.setenv("COA_API_TIMEOUT", "2")
    api_client.close_api_client()
    yield api
    api_client.close_api_client()
    server.shutdown()
    server.server_close()


def teams_tracker(text: str, intent: str | None, slots: dict[str, Any] | None = None, **extra: Any):
    return make_tracker(text=text, intent=intent, slots=slots, metadata=TEAMS_METADATA, sender_id="teams-a:1xyz",
                        input_channel="teams", **extra)


def test_greeting_stores_the_teams_reference_and_asks_the_first_due_follow_up(chat_api: ChatApi) -> None:
    chat_api.due = [item(1, overdue=True), item(2)]
    events, messages = run(ActionFollowUpCheck(), teams_tracker("goedemorgen", "greet"))

    assert messages == [{**_message("Is Veilig Thuis gebeld voor EGG-20261204-0001? (de termijn was 05-12-2026 "
                                    "10:30)"), "buttons": BUTTONS}]  # fmt: skip
    assert events == [SlotSet("follow_up_asked", True), SlotSet("follow_up_id", "fu-1"),
                      SlotSet("follow_up_reason", None)]  # fmt: skip
    put, get = chat_api.requests
    assert (put["method"], put["path"]) == ("PUT", "/api/v1/teams/conversations")
    assert put["body"] == {**REFERENCE, "staff_id": STAFF, "tenant_id": TENANT}
    assert (get["path"], get["query"]) == ("/api/v1/chat/follow-ups", {"staff_id": [STAFF], "within_hours": ["24.0"]})


def _message(text: str) -> dict[str, Any]:
    """A message as rasa_sdk's dispatcher collects it."""
    return {"text": text, "buttons": [], "elements": [], "custom": {}, "template": None, "response": None,
            "image": None, "attachment": None}


def test_the_rest_channel_names_nobody_so_nothing_is_asked_or_stored(chat_api: ChatApi) -> None:
    chat_api.due = [item(1)]
    tracker = make_tracker(text="hallo", intent="greet", metadata={"staff_id": STAFF, "location": "TERAPEL"})
    assert run(ActionFollowUpCheck(), tracker) == ([], [])
    assert chat_api.requests == []


def test_ja_records_gedaan_for_the_counsellor_and_asks_the_next(chat_api: ChatApi) -> None:
    chat_api.due = [item(1), item(2)]
    asked = {"follow_up_asked": True, "follow_up_id": "fu-1"}
    events, messages = run(ActionFollowUpAnswer(), teams_tracker("/affirm", "affirm", asked))

    post = chat_api.requests[0]
    assert (post["method"], post["path"], post["body"]) == (
        "POST", "/api/v1/follow-ups/fu-1/events", {"status": "gedaan", "staff_id": STAFF})
    assert [m["text"] for m in messages] == [
        "Vastgelegd: Veilig Thuis gebeld voor EGG-20261204-0001 is gedaan. Dank u.",
        "Is Risico-inschatting bij de politie gevraagd voor EGG-20261204-0001? (termijn 05-12-2026 10:30)"]
    assert events == [SlotSet("follow_up_later", []), SlotSet("follow_up_asked", True),
                      SlotSet("follow_up_id", "fu-2"), SlotSet("follow_up_reason", None)]  # fmt: skip


def test_later_leaves_it_open_and_does_not_ask_it_again_in_this_conversation(chat_api: ChatApi) -> None:
    chat_api.due = [item(1)]
    asked = {"follow_up_asked": True, "follow_up_id": "fu-1"}
    later = [{"entity": "keuze", "value": "later"}]
    events, messages = run(ActionFollowUpAnswer(), teams_tracker('/kies{"keuze": "later"}', "kies", asked,
                                                                 entities=later))  # fmt: skip
    assert [r["method"] for r in chat_api.requests] == ["GET"]  # nothing recorded
    assert [m["text"] for m in messages] == ["Goed, die actie blijft open. Ik vraag er een volgende keer weer naar; "
                                             "u kunt haar ook bevestigen op Mijn acties."]  # fmt: skip
    assert events == [SlotSet("follow_up_later", ["fu-1"]), SlotSet("follow_up_asked", False),
                      SlotSet("follow_up_id", None), SlotSet("follow_up_reason", None)]  # fmt: skip
    # The next greeting in this conversation skips it.
    again = teams_tracker("hoi", "greet", {"follow_up_later": ["fu-1"]})
    assert run(ActionFollowUpCheck(), again) == ([], [])


def test_nee_records_niet_gedaan_with_the_reason_from_the_form(chat_api: ChatApi) -> None:
    chat_api.due = [item(1)]
    slots = {"follow_up_asked": True, "follow_up_id": "fu-1", "follow_up_reason": "Bewoonster wilde eerst praten"}
    events, messages = run(ActionFollowUpAnswer(), teams_tracker("Bewoonster wilde eerst praten", "out_of_scope",
                                                                 slots))  # fmt: skip
    assert chat_api.requests[0]["body"] == {"status": "niet_gedaan", "staff_id": STAFF,
                                            "reason": "Bewoonster wilde eerst praten"}  # fmt: skip
    assert messages[0]["text"].startswith("Vastgelegd: Veilig Thuis gebeld voor EGG-20261204-0001 is niet gedaan")
    assert events == [SlotSet("follow_up_later", []), SlotSet("follow_up_asked", False),
                      SlotSet("follow_up_id", None), SlotSet("follow_up_reason", None)]  # fmt: skip


def test_someone_else_confirmed_it_first(chat_api: ChatApi) -> None:
    chat_api.due, chat_api.conflict = [item(1)], True
    _events, messages = run(ActionFollowUpAnswer(), teams_tracker("ja", "affirm", {"follow_up_asked": True,
                                                                                   "follow_up_id": "fu-1"}))
    assert messages[0]["text"] == "Die actie was al bevestigd, bijvoorbeeld op Mijn acties."


def test_after_a_decision_the_follow_ups_of_that_decision_are_not_asked(chat_api: ChatApi) -> None:
    chat_api.due = [item(1, reference="EGG-20261204-0009"), item(2, reference="EGG-20261201-0003")]
    dispatcher = CollectingDispatcher()
    tracker = teams_tracker("ja", "affirm")
    events = ask_first(dispatcher, tracker, asyncio.run(due_follow_ups(tracker)), exclude_reference="EGG-20261204-0009")
    assert [m["text"] for m in dispatcher.messages] == [
        "Is Risico-inschatting bij de politie gevraagd voor EGG-20261201-0003? (termijn 05-12-2026 10:30)"]
    assert events[1] == SlotSet("follow_up_id", "fu-2")


def _reason_tracker(text: str, intent: str) -> Any:
    tail = [slot_event("requested_slot", "follow_up_reason"), slot_event("follow_up_reason", text)]
    return teams_tracker(text, intent, {"follow_up_asked": True, "follow_up_id": "fu-1",
                                        "requested_slot": "follow_up_reason", "follow_up_reason": text},
                         events_after=tail, active_loop={"name": "follow_up_reason_form"})  # fmt: skip


def test_the_reason_question_puts_112_first_on_danger_now_and_stops_on_stop() -> None:
    domain = {"forms": {"follow_up_reason_form": {"required_slots": ["follow_up_reason"]}}, "slots": {}}
    events, messages = run_validation(ValidateFollowUpReasonForm(), _reason_tracker(
        "hij staat nu met een mes voor haar deur", "acuut_gevaar"), domain)
    assert messages[0]["text"] == ACUTE_TEXT
    assert events == [SlotSet("follow_up_reason", None)]

    events, messages = run_validation(ValidateFollowUpReasonForm(), _reason_tracker("stop", "stop"), domain)
    assert messages == [] and events == [SlotSet("follow_up_reason", None), SlotSet("requested_slot", None)]

    events, _ = run_validation(ValidateFollowUpReasonForm(), _reason_tracker("  ze was ziek  ", "out_of_scope"),
                               domain)  # fmt: skip
    assert events == [SlotSet("follow_up_reason", "ze was ziek")]


ASKED = {"follow_up_asked": True, "follow_up_id": "fu-1"}
KEPT_OPEN = ("Goed, die actie blijft open. Ik vraag er een volgende keer weer naar; u kunt haar ook bevestigen "
             "op Mijn acties.")


@pytest.mark.parametrize("text", ["straks", "doe ik straks", "morgen", "nog mee bezig"])
def test_a_typed_later_keeps_it_open_even_when_the_nlu_took_it_for_a_yes(chat_api: ChatApi, text: str) -> None:
    # The NLU takes "straks" for affirm (0.59): that must never record "gedaan".
    chat_api.due = [item(1)]
    events, messages = run(ActionFollowUpAnswer(), teams_tracker(text, "affirm", ASKED))
    assert [r["method"] for r in chat_api.requests] == ["GET"]  # nothing recorded
    assert [m["text"] for m in messages] == [KEPT_OPEN]
    assert events[0] == SlotSet("follow_up_later", ["fu-1"])


@pytest.mark.parametrize("text", ["gedaan", "ja, gebeld om 10 uur", "jazeker", "is geregeld"])
def test_a_typed_yes_records_gedaan(chat_api: ChatApi, text: str) -> None:
    chat_api.due = [item(1)]
    run(ActionFollowUpAnswer(), teams_tracker(text, "affirm", ASKED))
    assert chat_api.requests[0]["body"] == {"status": "gedaan", "staff_id": STAFF}


def test_a_typed_answer_that_is_not_a_clear_yes_gets_the_question_explained(chat_api: ChatApi) -> None:
    events, messages = run(ActionFollowUpAnswer(), teams_tracker("dat weet ik niet precies", "affirm", ASKED))
    assert chat_api.requests == [] and events == []
    assert messages[0]["text"].startswith("Ik begreep uw antwoord op de vraag hierboven niet. Kies Ja")
    assert messages[0]["buttons"] == BUTTONS


def test_leaving_keeps_it_open_says_goodbye_and_asks_nothing_more(chat_api: ChatApi) -> None:
    chat_api.due = [item(1), item(2)]
    events, messages = run(ActionFollowUpAnswer(), teams_tracker("tot later", "goodbye", ASKED))
    assert chat_api.requests == []  # nothing recorded, no next question
    assert messages[0]["text"] == KEPT_OPEN and messages[1]["response"] == "utter_goodbye"
    assert events == [SlotSet("follow_up_later", ["fu-1"]), SlotSet("follow_up_asked", False),
                      SlotSet("follow_up_id", None), SlotSet("follow_up_reason", None)]  # fmt: skip


def test_a_typed_later_the_nlu_did_not_understand_keeps_it_open(chat_api: ChatApi) -> None:
    chat_api.due = [item(1)]
    tracker = teams_tracker("moet nog", "nlu_fallback", ASKED)
    events, messages = run(ActionNotUnderstood(), tracker)
    assert [m["text"] for m in messages] == [KEPT_OPEN]
    assert events[0] == SlotSet("follow_up_later", ["fu-1"])


def test_an_answer_not_understood_gets_the_follow_up_question_explained(chat_api: ChatApi) -> None:
    events, messages = run(ActionNotUnderstood(), teams_tracker("hoe bedoel je", "nlu_fallback", ASKED))
    assert events == [] and chat_api.requests == []
    assert messages[0]["text"].startswith("Ik begreep uw antwoord op de vraag hierboven niet.")


def test_a_safety_signal_while_a_follow_up_is_asked_still_gets_the_general_path(chat_api: ChatApi) -> None:
    tracker = teams_tracker("iemand op de gang bedreigt hem al dagen", "nlu_fallback", ASKED)
    events, messages = run(ActionNotUnderstood(), tracker)
    assert chat_api.requests == []
    assert "algemene veiligheidsstappen" in messages[-1]["text"]
    assert events[-1] == FollowupAction("protocol_form")


def test_a_working_day_deadline_is_asked_as_the_end_of_its_last_day() -> None:
    """Midnight UTC ends a working-day norm: the chat says 23:59 of that day, as the pages
    do (knowledge/local_time.py), not 01:00 of the next."""
    asked = question({**item(1), "due_at": "2026-12-15T00:00:00+00:00"})
    assert asked["text"] == "Is Veilig Thuis gebeld voor EGG-20261204-0001? (termijn 14-12-2026 23:59)"

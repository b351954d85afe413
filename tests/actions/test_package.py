"""The package as the action server loads it, and its fit with the Rasa domain."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml
from rasa_sdk.executor import ActionExecutor

from actions import slots as names
from actions.look_ups import LOOKUPS

ROOT = Path(__file__).resolve().parents[2]
ACTIONS = {"action_start_protocol", "validate_protocol_form", "action_record_decision", "action_acute_danger",
           "action_niet_begrepen", "action_aanbod_beantwoorden", "action_begroeten",
           "action_lookup_step", "action_lookup_steps", "action_lookup_organisation",
           "action_lookup_when_to_report", "action_lookup_key_position", "action_wie_ben_jij",
           "action_follow_up_check", "action_follow_up_answer", "validate_follow_up_reason_form",
           "action_session_start"}


def test_the_executor_registers_every_action() -> None:
    executor = ActionExecutor()
    executor.register_package("actions")
    assert set(executor.actions) == ACTIONS


def test_the_engine_module_does_not_import_rasa() -> None:
    tree = ast.parse((ROOT / "actions" / "engine.py").read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] in {"rasa", "rasa_sdk"}}


def _domain() -> dict:
    folder = ROOT / "assistant" / "domain"
    assert folder.is_dir(), "the Rasa domain must exist"
    merged: dict = {"slots": {}, "forms": {}, "actions": [], "intents": [], "entities": []}
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key in ("slots", "forms"):
            merged[key].update(data.get(key) or {})
        for key in ("actions", "intents", "entities"):
            merged[key].extend(data.get(key) or [])
    return merged


def test_the_domain_declares_what_the_actions_use() -> None:
    domain = _domain()
    assert set(domain["actions"]) >= ACTIONS
    # validate_protocol_form asks the questions: an ask action in the domain would
    # make Rasa's form ask a second time (and call the action server twice per turn).
    assert not [a for a in domain["actions"] if a.startswith(("action_ask_", "utter_ask_protocol_form"))]
    used_slots = {names.LOCATION, names.PROTOCOL, names.PROTOCOL_STEP, names.PROTOCOL_ANSWERS, names.OFFERED_PROTOCOL,
                  names.PROTOCOL_ANSWER, names.ACUTE, names.INCIDENT_REFERENCE, names.MISSES,
                  names.PENDING_PROTOCOL}
    assert used_slots <= set(domain["slots"])
    assert domain["forms"][names.FORM]["required_slots"] == [names.LOCATION, names.PROTOCOL_ANSWER]
    intents = {i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]}
    assert {"affirm", "deny", "kies", "stop", "acuut_gevaar", names.RESTART_INTENT, names.BACK_INTENT} <= intents
    assert set(LOOKUPS) <= intents
    entities = {e if isinstance(e, str) else next(iter(e)) for e in domain["entities"]}
    assert {"keuze", "location", "organisation", "protocol", "key_position"} <= entities


def test_protocol_answer_is_filled_only_while_it_is_asked() -> None:
    # validate_protocol_answer must see every message while a question is open
    # (stop, danger, answers), and none while the location is asked.
    mappings = _domain()["slots"][names.PROTOCOL_ANSWER]["mappings"]
    assert mappings == [{"type": "from_text", "conditions": [
        {"active_loop": names.FORM, "requested_slot": names.PROTOCOL_ANSWER}]}]

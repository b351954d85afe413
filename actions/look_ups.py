"""Look-ups for contact persons: meldcode and protocol steps, organisations,
when to bring in Veilig Thuis, and who holds a key position on a location.

Each look-up is an async function ``tracker -> messages`` so that the same
answer is given by the look-up action (outside the form, through a rule) and
by ``validate_protocol_form`` (inside the form, before it asks its question
again). What is asked comes from the NLU entities (``protocol``,
``organisation``, ``key_position``, ``location``; docs/INTERFACES.md), with a
match on the names in the knowledge as a fallback; all wording is in the
presenter. The look-up actions (``lookup_actions``) and ``validate_protocol_form`` use
them; so does ``action_niet_begrepen``, for a question about an organisation or a key
position that the NLU took for something else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from rasa_sdk import Tracker

from actions import presenter
from actions import slots as names
from actions.engine import UserInput
from actions.knowledge_cache import get_engine, get_knowledge
from actions.locations import location_name, match_location
from actions.lookups import fetch_holders, fetch_locations
from actions.presenter import Message
from actions.tracker_utils import latest_entity, metadata_location
from actions.understanding import asks_a_question, normalise_text, parse_step_number
from knowledge import KEY_POSITIONS, Knowledge, main_path

MELDCODE = "meldcode"
#: Organisation asked about by "wanneer moet ik ... inschakelen?" when none is named.
DEFAULT_REPORT_ORGANISATION = "veilig_thuis"


# --------------------------------------------------------------------------- what was asked


def _named_in(text: str, names_to_ids: Mapping[str, str]) -> str | None:
    """The id whose name occurs in ``text`` (longest name first)."""
    padded = f" {normalise_text(text)} "
    for name in sorted(names_to_ids, key=len, reverse=True):
        if name and f" {name} " in padded:
            return names_to_ids[name]
    return None


def _protocol_names(knowledge: Knowledge) -> dict[str, str]:
    found: dict[str, str] = {}
    for protocol in knowledge.protocols.values():
        title = normalise_text(protocol.title)
        for name in (normalise_text(protocol.id.replace("_", " ")), title, title.split()[0]):
            found.setdefault(name, protocol.id)
    for reference in knowledge.references.values():
        found.setdefault(normalise_text(reference.id), reference.id)
        found.setdefault(normalise_text(reference.title), reference.id)
    return found


def asked_protocol(tracker: Tracker, knowledge: Knowledge) -> str | None:
    """A protocol id or reference id (``meldcode``) named in the latest message."""
    value = latest_entity(tracker, names.PROTOCOL)
    if value and (value in knowledge.protocols or value in knowledge.references):
        return value
    return _named_in(tracker.latest_message.get("text") or "", _protocol_names(knowledge))


def asked_organisation(tracker: Tracker, knowledge: Knowledge) -> str | None:
    value = latest_entity(tracker, "organisation")
    if value and value in knowledge.organisations:
        return value
    found: dict[str, str] = {}
    for org in knowledge.organisations.values():
        name = org.name.split("(")[0]
        # Its number names it too: "wat is het nummer van 113?" (113 is also the
        # suicidality protocol's signal phrase, so the entity ruler calls it a protocol).
        candidates = [org.id.replace("_", " "), org.name, name, *org.aliases, *([org.phone] if org.phone else [])]
        if "(" in org.name:
            candidates.append(org.name.split("(", 1)[1].rstrip(")"))
        for candidate in candidates:
            found.setdefault(normalise_text(candidate), org.id)
    return _named_in(tracker.latest_message.get("text") or "", found)


def asked_key_position(tracker: Tracker) -> str | None:
    value = latest_entity(tracker, "key_position")
    if value in KEY_POSITIONS:
        return value
    found = {normalise_text(p.replace("_", " ")): p for p in KEY_POSITIONS}
    found.update({normalise_text(label): p for p, label in presenter.KEY_POSITION_LABELS.items()})
    found.setdefault("lhbti contactpersoon", "lhbti_contactpersoon")
    return _named_in(tracker.latest_message.get("text") or "", found)


# --------------------------------------------------------------------------- look-ups


async def lookup_step(tracker: Tracker) -> list[Message]:
    """``vraag_stap``: step N of the meldcode (default) or of a protocol's main path."""
    knowledge = get_knowledge()
    asked = asked_protocol(tracker, knowledge) or MELDCODE
    number = parse_step_number(tracker.latest_message.get("text") or "")
    if asked in knowledge.protocols:
        protocol = knowledge.protocols[asked]
        steps = main_path(protocol)
        if number is not None and 1 <= number <= len(steps):
            return [presenter.protocol_step(protocol, number, steps[number - 1])]
        intro = presenter.step_number_unknown(f"het protocol {protocol.title}", len(steps))
        return [presenter.protocol_steps(protocol, steps, intro=intro)]
    reference = knowledge.references.get(asked)
    if reference is None:
        return [presenter.which_protocol(knowledge.protocols.values(), None, "vraag_stappen")]
    item = reference.step(number) if number is not None else None
    if item is not None:
        return presenter.reference_step(reference, item)
    intro = presenter.step_number_unknown(f"de {reference.title[:1].lower()}{reference.title[1:]}",
                                          len(reference.steps))
    return [presenter.reference_steps(reference, intro=intro)]


async def lookup_steps(tracker: Tracker) -> list[Message]:
    """``vraag_stappen``: the steps in order; default the protocol running, else ask."""
    knowledge = get_knowledge()
    asked = asked_protocol(tracker, knowledge) or tracker.get_slot(names.PROTOCOL)
    if asked in knowledge.protocols:
        protocol = knowledge.protocols[asked]
        return [presenter.protocol_steps(protocol, main_path(protocol))]
    if asked in knowledge.references:
        reference = knowledge.references[asked]
        messages = [presenter.reference_steps(reference)]
        if reference.questions:
            messages.append(presenter.afwegingskader(reference))
        return messages
    return [presenter.which_protocol(knowledge.protocols.values(), knowledge.references.get(MELDCODE),
                                     "vraag_stappen")]


async def lookup_organisation(tracker: Tracker) -> list[Message]:
    """``vraag_organisatie``: what it does, phone (with the verify note), website, source."""
    knowledge = get_knowledge()
    org_id = asked_organisation(tracker, knowledge)
    if org_id is None:
        return [presenter.which_organisation(knowledge.organisations.values())]
    return [presenter.organisation_info(knowledge.organisations[org_id])]


async def lookup_when_to_report(tracker: Tracker) -> list[Message]:
    """``vraag_wanneer_melden``: when to bring in Veilig Thuis (or the organisation named)."""
    knowledge = get_knowledge()
    org_id = asked_organisation(tracker, knowledge) or DEFAULT_REPORT_ORGANISATION
    return presenter.when_to_report(knowledge.organisations[org_id], knowledge.references.get(MELDCODE))


async def lookup_key_position(tracker: Tracker) -> list[Message]:
    """``vraag_sleutelpersoon``: who holds a key position on a location (from the API)."""
    position = asked_key_position(tracker)
    locations = await fetch_locations()
    if locations is None:
        return [presenter.key_positions_unavailable()]
    text = tracker.latest_message.get("text") or ""
    named = latest_entity(tracker, names.LOCATION)
    match = match_location(named, locations) if named else None
    if match is None and not text.startswith("/"):
        match = match_location(text, locations) if _mentions_location(text, locations) else None
    code = str(match["code"]) if match else None
    if code is None:
        for fallback in (tracker.get_slot(names.LOCATION), metadata_location(tracker)):
            found = match_location(str(fallback), locations) if fallback else None
            if found:
                code = str(found["code"])
                break
    if code is None:
        return [presenter.which_location(locations, position)]
    holders = await fetch_holders(code)
    if holders is None:
        return [presenter.key_positions_unavailable()]
    place = location_name(code, locations) or code
    knowledge = get_knowledge()
    topic = asked_protocol(tracker, knowledge) if position is None else None
    if topic in knowledge.protocols:
        # "wie bel ik voor mensenhandel?": the positions that protocol brings in, not all.
        protocol = knowledge.protocols[topic]
        wanted = {kp for step in protocol.steps.values() for kp in step.key_positions}
        return [presenter.key_positions_for(protocol.title, [kp for kp in KEY_POSITIONS if kp in wanted],
                                            place, holders)]
    after_hours = presenter.unreachable_note(knowledge, _referred_alongside(knowledge, position)) \
        if position else ""
    return [presenter.key_position_holders(position, place, holders, after_hours=after_hours)]


def _referred_alongside(knowledge: Knowledge, position: str) -> list[str]:
    """The organisations the protocols bringing in ``position`` refer to: who to call out
    of hours instead of the aandachtsfunctionaris zwangere is not who to call instead of
    the contactpersoon mensenhandel."""
    guides = [*knowledge.protocols.values(), *([knowledge.general_path] if knowledge.general_path else [])]
    bringing_in = [g for g in guides if any(position in s.key_positions for s in g.steps.values())] or guides
    referred = {org for guide in bringing_in for step in guide.steps.values() for org in step.referrals}
    return [org for org in knowledge.organisations if org in referred]


def _mentions_location(text: str, locations: list[dict[str, Any]]) -> bool:
    """Only a name inside the message counts (no fuzzy match on a whole question)."""
    padded = f" {normalise_text(text)} "
    return any(f" {normalise_text(str(n))} " in padded
               for loc in locations for n in [loc.get("code"), loc.get("name"), *(loc.get("aliases") or [])]
               if n and str(n).strip())


LOOKUPS: dict[str, Callable[[Tracker], Awaitable[list[Message]]]] = {
    "vraag_stap": lookup_step,
    "vraag_stappen": lookup_steps,
    "vraag_organisatie": lookup_organisation,
    "vraag_wanneer_melden": lookup_when_to_report,
    "vraag_sleutelpersoon": lookup_key_position,
}


#: The look-ups that a message may ask without a question, by naming what it is about.
_SUBJECT_ENTITIES = {"vraag_organisatie": "organisation", "vraag_wanneer_melden": "organisation",
                     "vraag_sleutelpersoon": "key_position"}


def asked_look_up(tracker: Tracker, intent: str | None) -> str | None:
    """The look-up this message asks for, or None.

    A look-up intent counts when the message asks something or names what it is about (a
    step, an organisation, a key position): "ze is 7" is no look-up of step 7, whatever
    the NLU made of it. Under any other intent, a question that names an organisation or
    a key position is its look-up when, without those names, it says nothing about
    anyone's safety: "wat doet Pharos?" (out of scope to the NLU), "wie is de
    aandachtsfunctionaris huiselijk geweld?" (a report to the NLU, for the name in it);
    "wat doet het CSG, ze is gisteren verkracht" stays a report."""
    text = str(tracker.latest_message.get("text") or "")
    if text.startswith("/"):
        return intent if intent in LOOKUPS else None  # a button's payload
    asks = asks_a_question(text)
    if intent in LOOKUPS:
        entity = _SUBJECT_ENTITIES.get(intent)
        names_step = any(word.startswith("stap") for word in normalise_text(text).split())
        named = latest_entity(tracker, entity) if entity else names_step
        return intent if asks or named else None
    if not asks:
        return None
    found = [e for e in tracker.latest_message.get("entities") or []
             if e.get("entity") in ("organisation", "key_position") and "start" in e and "end" in e]
    rest = text
    for entity in sorted(found, key=lambda e: int(e["start"]), reverse=True):
        rest = rest[:int(entity["start"])] + " " + rest[int(entity["end"]):]
    if not found or get_engine().signals_safety_problem(UserInput(text=rest)):
        return None
    return "vraag_organisatie" if any(e["entity"] == "organisation" for e in found) else "vraag_sleutelpersoon"

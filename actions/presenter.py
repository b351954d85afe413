"""Turns engine output into chat messages (``dispatcher.utter_message`` keyword dicts).

All wording the counsellor sees lives here, so the actions stay thin and the
button contract (DESIGN.md) is kept in one place:
yes/no -> ``Ja``/``Nee`` with ``/affirm``/``/deny``; choice -> one button per
option with ``/kies{"keuze": "<value>"}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from actions.engine import Decision
from knowledge import Knowledge, NumberRange, Organisation, Protocol, Step

Message = dict[str, Any]

YES_NO_BUTTONS: list[dict[str, str]] = [
    {"title": "Ja", "payload": "/affirm"},
    {"title": "Nee", "payload": "/deny"},
]

#: Dutch names of the key-position ids shared with the API (INTERFACES.md).
KEY_POSITION_LABELS = {
    "contactpersoon_veiligheid": "contactpersoon veiligheid",
    "aandachtsfunctionaris": "aandachtsfunctionaris huiselijk geweld en kindermishandeling",
    "contactpersoon_mensenhandel": "contactpersoon mensenhandel en -smokkel",
    "aandachtsfunctionaris_zwangere": "aandachtsfunctionaris Zwangere",
    "lhbti_contactpersoon": "LHBTI-contactpersoon",
}

ACUTE_TEXT = (
    "Bel nu eerst 112: er is acuut gevaar. Laat de politie komen en zorg dat niemand "
    "alleen met de (dreigende) pleger blijft."
)
REFERENCE_PREFIX = "Referentie van het vastgelegde besluit: "
VERIFY_NOTE = "(nummer verifiëren)"


def choice_payload(value: str) -> str:
    """The ``kies`` intent payload that carries ``value`` in the ``keuze`` entity."""
    return "/kies" + json.dumps({"keuze": value}, ensure_ascii=False)


def cite(text: str, step: Step) -> str:
    """Every step shown cites its source; content marked [check] says so."""
    note = "\n(Let op: dit moet nog geverifieerd worden.)" if step.verify else ""
    return f"{text}{note}\n\nBron: {step.source.title}"


# --------------------------------------------------------------------------- questions


def buttons_for(step: Step) -> list[dict[str, str]]:
    if step.kind == "yes_no":
        return [dict(b) for b in YES_NO_BUTTONS]
    if step.kind == "choice":
        return [{"title": o.label, "payload": choice_payload(o.value)} for o in step.options]
    if step.kind == "number":
        # The ranges make a number question a closed one: a button per range
        # (sending a number inside it) saves typing; a typed number still works.
        return [{"title": _range_label(r), "payload": choice_payload(str(r.representative()))}
                for r in step.ranges]
    return []


def _range_label(r: NumberRange) -> str:
    if r.min is not None and r.max is not None:
        return str(r.min) if r.min == r.max else f"{r.min} t/m {r.max}"
    if r.min is not None:
        return f"{r.min} of meer"
    if r.max is not None:
        return f"{r.max} of minder"
    return "Elk getal"


def instruction_messages(steps: Iterable[Step]) -> list[Message]:
    return [{"text": cite(step.text, step)} for step in steps]


def question(step: Step, *, instructions: Sequence[Step] = ()) -> list[Message]:
    """The current step, after any instructions passed on the way to it."""
    buttons = buttons_for(step)
    message: Message = {"text": cite(step.text, step)}
    if buttons:
        message["buttons"] = buttons
    return [*instruction_messages(instructions), message]


def not_understood(step: Step) -> Message:
    hint = {
        "yes_no": "Antwoord met Ja of Nee.",
        "choice": "Kies een van de knoppen of typ het nummer van de keuze.",
        "number": "Typ een getal of kies een knop.",
        "text": "Typ je antwoord in een paar woorden, zonder namen.",
    }.get(step.kind, "")
    return {"text": f"Dat heb ik niet goed begrepen. {step.help}".rstrip() + (f" {hint}" if hint else "")}


def acute_danger() -> Message:
    """The contract's first reply on danger now: call 112 before anything else."""
    return {"text": ACUTE_TEXT}


def topic_question(protocols: Iterable[Protocol]) -> Message:
    return {
        "text": "Daarna help ik je verder. Waar gaat het om?",
        "buttons": [{"title": p.title, "payload": f"/{p.intent}"} for p in protocols],
    }


def stopped() -> Message:
    return {"text": "Het protocol is gestopt. Er is niets vastgelegd."}


def state_lost() -> Message:
    return {
        "text": "Ik ben de draad van het protocol kwijt (het protocol is mogelijk bijgewerkt). "
        "Begin opnieuw door de situatie kort te beschrijven. Er is niets vastgelegd."
    }


def no_protocol() -> Message:
    return {"text": "Ik weet niet welk protocol hierbij hoort. Beschrijf de situatie in een paar woorden."}


# --------------------------------------------------------------------------- locations


def location_question(locations: Sequence[Mapping[str, Any]]) -> Message:
    message: Message = {"text": "Op welke COA-locatie speelt dit? Kies de locatie of typ de naam."}
    if locations:
        message["buttons"] = [
            {"title": str(loc.get("name") or loc["code"]), "payload": choice_payload(str(loc["code"]))}
            for loc in locations
        ]
    return message


def location_unknown(text: str) -> Message:
    shown = f" '{text}'" if text and not text.startswith("/") else ""
    return {"text": f"De locatie{shown} ken ik niet."}


def _holders_text(holders: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for holder in holders:
        name = str(holder.get("name") or "").strip() or "naam onbekend"
        phone = str(holder.get("phone") or "").strip()
        parts.append(f"{name} ({phone})" if phone else name)
    return "; ".join(parts)


def safety_contact(location_name: str | None, holders: Sequence[Mapping[str, Any]] | None) -> Message:
    """Offered after repeated misunderstandings: a person to ask instead."""
    where = f" van {location_name}" if location_name else " van je locatie"
    who = f": {_holders_text(holders)}" if holders else ""
    return {
        "text": f"Kom je er met mij niet uit? Overleg dan met de contactpersoon veiligheid{where}{who}."
    }


# --------------------------------------------------------------------------- outcome


def organisation_line(org: Organisation) -> str:
    if org.phone:
        notes = [org.phone_note] if org.phone_note else []
        line = f"- {org.name}: {org.phone}"
        if notes:
            line += f" ({'; '.join(notes)})"
        if org.verify:
            line += f" {VERIFY_NOTE}"
        return line
    if org.website:
        return f"- {org.name}: {org.website}"
    return f"- {org.name}"


def key_position_lines(
    positions: Sequence[str], holders: Sequence[Mapping[str, Any]] | None
) -> list[str]:
    lines = []
    for position in positions:
        label = KEY_POSITION_LABELS.get(position, position.replace("_", " "))
        if holders is None:
            lines.append(f"- {label} (namen konden niet worden opgehaald)")
            continue
        mine = [h for h in holders if h.get("position") == position]
        known = f": {_holders_text(mine)}" if mine else " (geen naam bekend op deze locatie)"
        lines.append(f"- {label}{known}")
    return lines


def outcome(
    decision: Decision,
    knowledge: Knowledge,
    *,
    location_name: str | None,
    holders: Sequence[Mapping[str, Any]] | None,
    instructions: Sequence[Step] = (),
) -> list[Message]:
    """The advice of a finished protocol, without the closing reference line.

    ``holders`` is None when the API could not be asked for the names.
    """
    step = decision.outcome_step
    messages = instruction_messages(instructions)
    messages.append({"text": cite(f"Uitkomst: {step.text}", step)})
    if decision.actions:
        messages.append({"text": "Wat je nu doet:\n" + "\n".join(f"- {a}" for a in decision.actions)})
    organisations = [knowledge.organisations[o] for o in decision.referrals if o in knowledge.organisations]
    if organisations:
        messages.append(
            {"text": "Neem contact op met:\n" + "\n".join(organisation_line(o) for o in organisations)}
        )
    positions = decision.key_positions or ["contactpersoon_veiligheid"]
    where = f" op {location_name}" if location_name else ""
    messages.append(
        {
            "text": f"Betrek{where}:\n" + "\n".join(key_position_lines(positions, holders))
            + "\nIk geef advies; het besluit neem je samen met hen."
        }
    )
    return messages


def recorded(reference: str) -> Message:
    return {"text": f"{REFERENCE_PREFIX}{reference}"}


def not_recorded() -> Message:
    return {
        "text": "Let op: het besluit kon nog niet worden vastgelegd (de registratie is nu niet "
        "bereikbaar). Het advies hierboven blijft gelden. Leg het besluit zelf vast of meld het "
        "aan de contactpersoon veiligheid."
    }

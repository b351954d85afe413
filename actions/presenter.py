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

from rasa_sdk.executor import CollectingDispatcher

from actions.engine import Decision
from knowledge import (
    KEY_POSITION_LABELS,
    UNKNOWN,
    GiveWay,
    Knowledge,
    NumberRange,
    Organisation,
    Protocol,
    Reference,
    ReferenceItem,
    Source,
    Step,
    lower_first,
)

Message = dict[str, Any]


def utter(dispatcher: CollectingDispatcher, messages: Iterable[Message]) -> None:
    for message in messages:
        dispatcher.utter_message(**message)

YES_NO_BUTTONS: list[dict[str, str]] = [
    {"title": "Ja", "payload": "/affirm"},
    {"title": "Nee", "payload": "/deny"},
]

# KEY_POSITION_LABELS: the Dutch names of the key-position ids (knowledge/key_positions.yml).

#: Said before the situation is known (and in a run without its own ``acute_step``):
#: right for violence and for a resident who harms himself alike.
ACUTE_TEXT = (
    "Bel nu eerst 112: er is acuut gevaar. Vraag om de politie, en om een ambulance als iemand "
    "gewond is of zichzelf iets aandoet. Laat niemand alleen met wie dreigt, en laat iemand in "
    "nood niet alleen."
)
REFERENCE_PREFIX = "Referentie van het vastgelegde besluit: "
VERIFY_NOTE = "(nummer verifiëren)"


def choice_payload(value: str) -> str:
    """The ``kies`` intent payload that carries ``value`` in the ``keuze`` entity."""
    return "/kies" + json.dumps({"keuze": value}, ensure_ascii=False)


WHY_PREFIX = "Waarom: "


def cite(text: str, step: Step) -> str:
    """Every step shown cites its source; content marked [check] says so.

    A question's help explains the question and is shown when an answer is not
    understood; an instruction's or outcome's help is the reason behind the
    advice ("even well-meant contact with the family is not possible"), which
    the counsellor must see with it.
    """
    why = f"\n{WHY_PREFIX}{step.help}" if step.help and not step.is_question else ""
    note = "\n(Let op: dit moet nog geverifieerd worden.)" if step.verify else ""
    return f"{text}{why}{note}\n\nBron: {step.source.title}"


# --------------------------------------------------------------------------- questions


def buttons_for(step: Step) -> list[dict[str, str]]:
    if step.kind == "yes_no":
        return [dict(b) for b in YES_NO_BUTTONS]
    if step.kind == "choice":
        return [{"title": o.label, "payload": choice_payload(o.value)} for o in step.options]
    if step.kind == "number":
        # The ranges make a number question a closed one: a button per range
        # (sending a number inside it) saves typing; a typed number still works.
        buttons = [{"title": _range_label(r), "payload": choice_payload(str(r.representative()))}
                   for r in step.ranges]
        if step.unknown:
            buttons.append({"title": UNKNOWN_TITLE, "payload": choice_payload(UNKNOWN)})
        return buttons
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


#: The button of a number question's "not known" answer (``unknown`` in the knowledge).
UNKNOWN_TITLE = "Weet ik niet"


def unsure(step: Step) -> Message:
    """The counsellor does not know the answer to a question that needs one: no
    "niet begrepen", the help says what to answer when in doubt."""
    hint = {"yes_no": "Antwoord met Ja of Nee.", "number": "Typ een getal of kies een knop.",
            "choice": "Kies een van de knoppen."}.get(step.kind, "")
    return {"text": f"U weet het niet zeker; dat kan. {step.help}".rstrip() + (f" {hint}" if hint else "")}


def not_understood(step: Step) -> Message:
    hint = {
        "yes_no": "Antwoord met Ja of Nee.",
        "choice": "Kies een van de knoppen of typ het nummer van de keuze.",
        "number": "Typ een getal of kies een knop.",
        "text": "Typ uw antwoord in een paar woorden, zonder namen.",
    }.get(step.kind, "")
    return {"text": f"Dat heb ik niet goed begrepen. {step.help}".rstrip() + (f" {hint}" if hint else "")}


def acute_danger(acute_step: Step | None = None) -> Message:
    """The contract's first reply on danger now: call 112 before anything else. In a run
    of a protocol with an ``acute_step`` (engine.acute_step), that step, with its source."""
    return {"text": cite(acute_step.text, acute_step) if acute_step else ACUTE_TEXT}


def _general_path_button(general_path: Protocol | None) -> list[dict[str, str]]:
    """The safe general path as a topic: for what fits no protocol, or is unclear."""
    return [{"title": general_path.title, "payload": f"/{general_path.intent}"}] if general_path else []


def topic_question(protocols: Iterable[Protocol], general_path: Protocol | None = None) -> Message:
    return {
        "text": "Daarna help ik u verder. Waar gaat het om?",
        "buttons": [{"title": p.title, "payload": f"/{p.intent}"} for p in protocols]
        + _general_path_button(general_path),
    }


def protocol_started(protocol: Protocol) -> Message:
    """Which protocol the assistant chose, so a wrong choice is seen and stopped at once."""
    return {"text": f"Ik volg het protocol {protocol.title}. Past dit niet bij de situatie, typ dan 'stop' "
                    "en beschrijf de situatie opnieuw."}


def gave_way(give_way: GiveWay) -> Message:
    """Why another protocol leads than the report seemed to ask for (knowledge: ``gives_way``)."""
    return {"text": f"{give_way.text}\n\n{_source_line(give_way.source)}"}


def general_path_started() -> Message:
    return {
        "text": "Ik weet niet zeker welk protocol hierbij past. Daarom loop ik eerst de algemene "
        "veiligheidsstappen met u door; die kloppen in elke situatie. Daarna kunt u alsnog een "
        "specifiek protocol kiezen. Wilt u stoppen, typ dan 'stop'."
    }


def after_general_path(protocols: Iterable[Protocol]) -> Message:
    return {
        "text": "Herkent u nu een specifiek onderwerp? Dan kunt u ook dat protocol doorlopen.",
        "buttons": [{"title": p.title, "payload": f"/{p.intent}"} for p in protocols]
        + [{"title": "Nu niet", "payload": "/deny"}],
    }


def stopped() -> Message:
    return {"text": "Het protocol is gestopt. Er is niets vastgelegd."}


def how_many_left(fewest: int, most: int) -> Message:
    """``fewest``..``most`` questions after the open one, to the advice and the decision."""
    if most == 0:
        count = "Dit is de laatste vraag"
    elif fewest == 0:
        count = f"Misschien is dit de laatste vraag, anders volgen er nog hooguit {most}"
    elif fewest == most:
        count = "Na deze vraag volgt nog 1 vraag" if most == 1 else f"Na deze vraag volgen nog {most} vragen"
    else:
        count = f"Na deze vraag volgen nog {fewest} tot {most} vragen, afhankelijk van de antwoorden"
    return {"text": f"{count}; daarna krijgt u het advies en wordt het besluit vastgelegd."}


def paused() -> Message:
    return {"text": "Het protocol blijft openstaan: u kunt later in dit gesprek verder bij deze vraag, en uw "
                    "antwoorden tot nu toe blijven bewaard. Vastgelegd wordt pas iets bij het besluit. Wilt u "
                    "toch stoppen zonder iets vast te leggen? Typ dan 'stop'."}


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


def _deputy_note(holder: Mapping[str, Any]) -> str:
    """"vervanger tot 11-12" for a deputy (the API names one while the holder is away)."""
    if holder.get("kind") != "vervanger":
        return ""
    until = str(holder.get("valid_until") or "")
    if len(until) == 10 and until[4] == "-":  # ISO date
        return f"vervanger tot en met {until[8:10]}-{until[5:7]}"
    return "vervanger"


def _holders_text(holders: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for holder in holders:
        name = str(holder.get("name") or "").strip() or "naam onbekend"
        notes = [note for note in (str(holder.get("phone") or "").strip(), _deputy_note(holder)) if note]
        parts.append(f"{name} ({', '.join(notes)})" if notes else name)
    return "; ".join(parts)


SAFETY_POSITION = "contactpersoon_veiligheid"


def no_holder_next_step(holders: Sequence[Mapping[str, Any]] | None) -> str:
    """What to do when a key position has nobody on the location today: the location's
    contactpersoon veiligheid when there is one, and the location manager."""
    safety = [h for h in holders or [] if h.get("position") == SAFETY_POSITION]
    via = f"; bel de {KEY_POSITION_LABELS.get(SAFETY_POSITION, 'contactpersoon veiligheid')}: " \
          f"{_holders_text(safety)}" if safety else ""
    return via + NO_HOLDER_NEXT_STEP


def safety_contact(location_name: str | None, holders: Sequence[Mapping[str, Any]] | None) -> Message:
    """Offered after repeated misunderstandings: a person to ask instead."""
    where = f" van {location_name}" if location_name else " van uw locatie"
    who = f": {_holders_text(holders)}" if holders else ""
    return {
        "text": f"Komt u er met mij niet uit? Overleg dan met de contactpersoon veiligheid{where}{who}."
    }


# --------------------------------------------------------------------------- outcome


def organisation_line(org: Organisation) -> str:
    line = f"- {org.name}: {org.contact}" if org.contact else f"- {org.name}"
    return f"{line} {VERIFY_NOTE}" if org.phone and org.verify else line


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
        known = (f": {_holders_text(mine)}" if mine
                 else f" (geen naam bekend op deze locatie{no_holder_next_step(holders)})")
        lines.append(f"- {label}{known}")
    return lines


ADVICE_HEADING = "Wat u nu doet:"

#: A key position nobody holds, or a holder out of hours, must never stop the
#: counsellor: the 24/7 organisations do not wait for office hours.
NO_HOLDER_NEXT_STEP = "; vraag de locatiemanager wie waarneemt"


def unreachable_note(knowledge: Knowledge, referrals: Iterable[str]) -> str:
    """What to do when no one on the location can be reached: the organisations among
    ``referrals`` that answer day and night (``round_the_clock`` in the knowledge), so
    after a suicide attempt it is 113, not the sexual-violence line."""
    orgs = [org for org_id in dict.fromkeys(referrals)
            if (org := knowledge.organisations.get(org_id)) is not None and org.round_the_clock]
    if not orgs:
        return ("Is niemand bereikbaar (buiten kantoortijd, verlof)? Wacht dan niet: neem zelf contact "
                "op met de organisaties hierboven, en bel bij direct gevaar 112.")
    named = ", ".join(f"{o.name} ({o.phone}{', nummer verifiëren' if o.verify else ''})" for o in orgs)
    return (f"Is niemand bereikbaar (buiten kantoortijd, verlof)? Wacht dan niet: {named} en bij direct "
            "gevaar 112 zijn dag en nacht bereikbaar.")


def outcome_text(step: Step) -> str:
    return cite(f"Uitkomst: {step.text}", step)


def advice_text(actions: Sequence[str]) -> str:
    return ADVICE_HEADING + "\n" + "\n".join(f"- {a}" for a in actions)


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
    messages = instruction_messages(instructions)
    messages.append({"text": outcome_text(decision.outcome_step)})
    if decision.actions:
        messages.append({"text": advice_text(decision.actions)})
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
            + f"\n{unreachable_note(knowledge, decision.referrals)}"
            + "\nIk geef advies; het besluit neemt u samen met hen."
        }
    )
    return messages


def recorded(reference: str, *, filed_as: str | None = None) -> Message:
    """The closing reference line; ``filed_as`` names the neutral category a privacy
    protocol's decision was recorded under without the resident's consent."""
    if filed_as is None:
        return {"text": f"{REFERENCE_PREFIX}{reference}"}
    return {"text": f"De bewoner gaf geen toestemming: het besluit is vastgelegd als '{filed_as}', "
                    f"zonder de reden van de steun en zonder de organisaties die die reden verraden.\n"
                    f"{REFERENCE_PREFIX}{reference}"}


def not_recorded() -> Message:
    return {
        "text": "Let op: het besluit kon nog niet worden vastgelegd (de registratie is nu niet "
        "bereikbaar). Het advies hierboven blijft gelden. Leg het besluit zelf vast of meld het "
        "aan de contactpersoon veiligheid."
    }


# --------------------------------------------------------------------------- conversation control


def restarted(protocol: Protocol) -> Message:
    return {"text": f"We beginnen opnieuw met het protocol {protocol.title}. Eerdere antwoorden tellen niet mee."}


def resumed(title: str) -> Message:
    return {"text": f"We gaan verder met het protocol {title}, bij de vraag waar u was; het gesprek lag een "
            "tijd stil en er is nog niets vastgelegd. Wilt u niet verder, typ dan 'stop'."}


def went_back() -> Message:
    return {"text": "Terug naar de vorige vraag. Uw vorige antwoord is gewist."}


def at_first_question() -> Message:
    return {"text": "Dit is de eerste vraag van het protocol; er is geen vorige vraag."}


def second_topic_noted(protocol: Protocol, *, after: str = "dit protocol") -> Message:
    return {"text": f"Ik heb ook {protocol.title} genoteerd; dat bieden we aan na {after}."}


def second_topic_not_kept(pending: Protocol, other: Protocol) -> Message:
    return {
        "text": f"Ik heb al {pending.title} genoteerd om na dit protocol aan te bieden. Start daarna ook "
        f"{other.title} door de situatie kort te beschrijven."
    }


def offer_pending(protocol: Protocol) -> Message:
    return {
        "text": f"Wilt u nu ook het protocol {protocol.title} doorlopen?",
        "buttons": [{"title": f"Start: {protocol.title}", "payload": f"/{protocol.intent}"},
                    {"title": "Nu niet", "payload": "/deny"}],
    }


# --------------------------------------------------------------------------- look-ups


def _source_line(source: Source) -> str:
    url = f" ({source.url})" if source.url.startswith("http") else ""
    return f"Bron: {source.title}{url}"


def reference_step(reference: Reference, item: ReferenceItem) -> list[Message]:
    text = f"Stap {item.number} van de {lower_first(reference.title)}: {item.title}.\n{item.text}"
    messages: list[Message] = [{"text": f"{text}\n\n{_source_line(item.source)}"}]
    if reference.questions and "afwegingskader" in item.text.casefold():
        messages.append(afwegingskader(reference))
    return messages


def afwegingskader(reference: Reference) -> Message:
    lines = [f"{q.number}. {q.title} {q.text}" for q in reference.questions]
    sources = _unique_sources(q.source for q in reference.questions)
    return {"text": f"{reference.questions_title}:\n" + "\n".join(lines) + "\n\n" + sources}


def _unique_sources(sources: Iterable[Source]) -> str:
    titles = list(dict.fromkeys(s.title for s in sources))
    return ("Bron: " if len(titles) == 1 else "Bronnen: ") + "; ".join(titles)


def reference_steps(reference: Reference, *, intro: str = "") -> Message:
    lines = [f"{s.number}. {s.title}" for s in reference.steps]
    head = intro or f"De stappen van de {lower_first(reference.title)}:"
    return {"text": head + "\n" + "\n".join(lines) + "\n\n" + _unique_sources(s.source for s in reference.steps)}


_KIND_LABELS = {"yes_no": "vraag", "choice": "vraag", "number": "vraag", "text": "vraag",
                "instruction": "wat u doet"}


def _first_sentence(text: str) -> str:
    head = text.split(". ", 1)[0].rstrip(".")
    return head + ("." if not head.endswith("?") else "")


def protocol_step(protocol: Protocol, number: int, step: Step) -> Message:
    kind = _KIND_LABELS.get(step.kind, step.kind)
    text = f"Stap {number} van het protocol {protocol.title} ({kind}): {step.text}"
    if step.is_question and step.help:
        text += f"\nToelichting: {step.help}"
    return {"text": cite(text, step)}


def protocol_steps(protocol: Protocol, steps: Sequence[Step], *, intro: str = "") -> Message:
    lines = [f"{n}. {_first_sentence(step.text)}" for n, step in enumerate(steps, start=1)]
    head = intro or f"De hoofdstappen van het protocol {protocol.title} (versie {protocol.version}):"
    tail = "Daarna volgt het advies dat bij de antwoorden past. Start het protocol door de situatie te beschrijven."
    return {"text": head + "\n" + "\n".join(lines) + f"\n{tail}\n\n" + _unique_sources(s.source for s in steps)}


def step_number_unknown(title: str, count: int) -> str:
    return f"Ik weet niet welke stap u bedoelt; {title} heeft {count} hoofdstappen:"


def which_protocol(protocols: Iterable[Protocol], reference: Reference | None, intent: str) -> Message:
    buttons = [{"title": p.title, "payload": f"/{intent}" + json.dumps({"protocol": p.id})} for p in protocols]
    if reference is not None:
        buttons.append({"title": reference.title, "payload": f"/{intent}" + json.dumps({"protocol": reference.id})})
    return {"text": "Van welk protocol wilt u de stappen zien?", "buttons": buttons}


def organisation_info(org: Organisation) -> Message:
    lines = [f"{org.name}: {org.description}"]
    if org.when:
        lines.append(f"Wanneer: {org.when}")
    if org.phone:
        phone = f"Telefoon: {org.phone}" + (f" ({org.phone_note})" if org.phone_note else "")
        lines.append(phone + (f" {VERIFY_NOTE}" if org.verify else ""))
    if org.website:
        lines.append(f"Website: {org.website}")
    return {"text": "\n".join(lines) + f"\n\n{_source_line(org.source)}"}


def which_organisation(organisations: Iterable[Organisation]) -> Message:
    return {
        "text": "Over welke organisatie wilt u meer weten?",
        "buttons": [{"title": o.name, "payload": "/vraag_organisatie" + json.dumps({"organisation": o.id})}
                    for o in organisations],
    }


def when_to_report(org: Organisation, reference: Reference | None) -> list[Message]:
    phone = f" ({org.phone}{' ' + VERIFY_NOTE if org.verify else ''})" if org.phone else ""
    when = org.when or org.description
    messages: list[Message] = [{"text": f"Wanneer schakelt u {org.name}{phone} in?\n{when}\n\n"
                                        f"{_source_line(org.source)}"}]
    if org.id == "veilig_thuis" and reference is not None and reference.questions:
        messages.append(afwegingskader(reference))
        if reference.definitions:
            lines = [f"- {d.term}: {d.text}" for d in reference.definitions]
            messages.append({"text": "\n".join(lines) + "\n\n"
                             + _unique_sources(d.source for d in reference.definitions)})
    return messages


def key_position_label(position: str) -> str:
    return KEY_POSITION_LABELS.get(position, position.replace("_", " "))


def key_position_holders(position: str | None, location_name: str,
                         holders: Sequence[Mapping[str, Any]], *, after_hours: str = "") -> Message:
    """Who holds ``position`` (all positions when None); ``after_hours`` (``unreachable_note``)
    is added when nobody holds it, so the answer always ends in a next step."""
    if position is None:
        if not holders:
            return {"text": f"Voor {location_name} zijn geen sleutelposities bekend."}
        lines = [f"- {key_position_label(h.get('position') or '')}: {_holders_text([h])}" for h in holders]
        return {"text": f"Sleutelposities op {location_name}:\n" + "\n".join(lines)}
    label = key_position_label(position)
    mine = [h for h in holders if h.get("position") == position]
    if not mine:
        safety = [h for h in holders if h.get("position") == SAFETY_POSITION and position != SAFETY_POSITION]
        who = f" ({_holders_text(safety)})" if safety else ""
        return {"text": f"Op {location_name} is geen {label} bekend. Vraag het de locatiemanager of de "
                        f"contactpersoon veiligheid{who}." + (f"\n{after_hours}" if after_hours else "")}
    return {"text": f"De {label} op {location_name}: {_holders_text(mine)}."}


def key_positions_for(topic: str, positions: Sequence[str], location_name: str,
                      holders: Sequence[Mapping[str, Any]]) -> Message:
    """The holders of the key positions one protocol brings in, a position nobody holds
    included (then the location manager is the one to ask)."""
    lines = []
    for position in positions:
        mine = [h for h in holders if h.get("position") == position]
        lines.append(f"- {key_position_label(position)}: "
                     + (_holders_text(mine) if mine else "niet bekend, vraag het de locatiemanager"))
    return {"text": f"Sleutelposities op {location_name} bij {topic}:\n" + "\n".join(lines)}


def key_positions_unavailable() -> Message:
    return {"text": "Ik kan de sleutelposities nu niet opvragen: de registratie is niet bereikbaar. "
                    "Probeer het later opnieuw of vraag het de locatiemanager. Bij direct gevaar: bel 112."}


def which_location(locations: Sequence[Mapping[str, Any]], position: str | None) -> Message:
    message: Message = {"text": "Over welke COA-locatie gaat het? Kies de locatie of noem de naam."}
    if locations:
        entities = {"key_position": position} if position else {}
        message["buttons"] = [
            {"title": str(loc.get("name") or loc["code"]),
             "payload": "/vraag_sleutelpersoon" + json.dumps({**entities, "location": str(loc["code"])})}
            for loc in locations
        ]
    return message

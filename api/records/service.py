"""The decision record of one incident: what the HTML page and the PDF print.

Only stored fields and knowledge texts: the step answers were de-identified before
they were stored (api/security/deidentify.py), review notes, follow-up reasons and
handover reasons too; nothing else typed by a person is printed. An incident filed
under a neutral record category (no consent, knowledge/record_categories.yml) prints
no protocol text at all (question, advice, sources, key positions could name what the
support was about): its steps by id and answer, its referrals, follow-ups and history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from api.directory import service as directory
from api.directory.schemas import HolderOut
from api.follow_ups.models import FollowUp
from api.handovers import service as handovers
from api.handovers.schemas import HandoverOut
from api.incidents.models import Incident, IncidentReviewEvent
from knowledge import Knowledge, Protocol, Source
from knowledge.local_time import local_time

NEUTRAL_NOTE = ("Vastgelegd onder een neutrale categorie (geen toestemming van de bewoner): vraagteksten, "
                "advies, bronnen en sleutelposities van het protocol staan niet in dit dossier.")
STATUS_LABELS = {"open": "Open", "gedaan": "Gedaan", "niet_gedaan": "Niet gedaan", "vervallen": "Vervallen",
                 "nieuw": "Nieuw", "in_behandeling": "In behandeling", "correctie_gevraagd": "Correctie gevraagd",
                 "gecorrigeerd": "Gecorrigeerd", "afgehandeld": "Afgehandeld"}  # fmt: skip
VERIFY = "verifiëren"


@dataclass(frozen=True)
class Line:
    """One row of a section: a label, a value and what it rests on."""

    label: str
    value: str
    source: str | None = None
    verify: bool = False


@dataclass(frozen=True)
class Event:
    status: str
    at: datetime
    actor: str
    text: str | None = None


@dataclass(frozen=True)
class FollowUpRecord:
    action: str
    due_at: datetime
    status: str
    history: list[Event]


@dataclass
class DecisionRecord:
    reference: str
    title: str
    protocol_version: str
    #: The knowledge's current version when it differs (the texts are today's).
    knowledge_version: str | None
    neutral: bool
    facts: list[Line]
    questions: list[Line] = field(default_factory=list)
    advice: list[Line] = field(default_factory=list)
    referrals: list[Line] = field(default_factory=list)
    key_positions: list[Line] = field(default_factory=list)
    follow_ups: list[FollowUpRecord] = field(default_factory=list)
    reviews: list[Event] = field(default_factory=list)
    handovers: list[HandoverOut] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)


def _answer(protocol: Protocol | None, step_id: str, answer: object) -> str:
    if answer is None:
        return "– (overgeslagen)"
    step = protocol.steps.get(step_id) if protocol else None
    option = step.option_for(answer) if step else None  # type: ignore[arg-type]
    if option is not None:
        return option.label
    if isinstance(answer, bool):
        return "ja" if answer else "nee"
    return str(answer)


def involved_when_recorded(session: Session, knowledge: Knowledge,
                           incident: Incident) -> list[tuple[str, list[HolderOut]]] | None:
    """The key positions the decision's outcome says to involve, each with its holders as
    the directory knew them when it was recorded. None for a record filed under a neutral
    category: like its dossier (NEUTRAL_NOTE), it names no protocol's positions."""
    protocol = knowledge.protocols.get(incident.protocol)
    outcome = protocol.outcome_step(incident.outcome) if protocol is not None else None
    if outcome is None:
        return None
    holders = directory.holders_when_recorded(session, incident.location, incident.created_at)
    return [(position, [h for h in holders if h.position == position]) for position in outcome.key_positions]


def _humanise(step_id: str) -> str:
    return step_id.replace("_", " ").capitalize()


def _protocol_part(record: DecisionRecord, knowledge: Knowledge, protocol: Protocol, incident: Incident,
                   session: Session) -> None:
    sources: dict[str, Source] = {}
    for item in incident.steps:
        step = protocol.steps.get(item.get("step", ""))
        text = step.text if step else _humanise(str(item.get("step")))
        record.questions.append(Line(text, _answer(protocol, str(item.get("step")), item.get("answer")),
                                     step.source.title if step else None, bool(step and step.verify)))
        if step:
            sources[step.source.key] = step.source
    outcome = protocol.outcome_step(incident.outcome)
    if outcome is not None:
        record.advice.append(Line("Wat te doen", outcome.text, outcome.source.title, outcome.verify))
        record.advice += [Line("Actie", action) for action in outcome.actions]
        sources[outcome.source.key] = outcome.source
        for position, holders in involved_when_recorded(session, knowledge, incident) or []:
            known = knowledge.key_positions.get(position)
            names = [f"{h.name}{', ' + h.phone if h.phone else ''}{' (vervanger)' if h.kind == 'vervanger' else ''}"
                     for h in holders]  # fmt: skip
            record.key_positions.append(Line(known.title if known else position, "; ".join(names) or "niemand bekend"))
    for org_id in incident.referrals:
        org = knowledge.organisations.get(org_id)
        if org is not None:
            sources[org.source.key] = org.source
    record.sources = list(sources.values())


def _outcome(knowledge: Knowledge, incident: Incident) -> str:
    """Title and code; a privacy incident filed under its category keeps the bare code."""
    title = knowledge.outcome_title(incident.protocol, incident.outcome)
    return f"{title} ({incident.outcome})" if title else incident.outcome or "–"


def build(session: Session, knowledge: Knowledge, incident: Incident, review_status: str) -> DecisionRecord:
    protocol = knowledge.protocols.get(incident.protocol)
    neutral = protocol is None
    place = handovers.current_place(session, incident)
    facts = [
        Line("Referentie", incident.reference),
        Line("Vastgelegd", local_time(incident.created_at)),
        Line("Locatie (vastgelegd)", incident.location),
        Line("Medewerker (pseudoniem)", incident.staff_id or "–"),
        Line("Kanaal", incident.channel or "–"),
        Line("Acuut", "ja" if incident.acute else "nee"),
        Line("Uitkomst", _outcome(knowledge, incident)),
        Line("Beoordeling", STATUS_LABELS.get(review_status, review_status)),
    ]
    if place != (incident.location, incident.staff_id):
        facts.append(Line("Nu bij", f"{place[0]}, begeleider {place[1] or '(nog niet genoemd)'}"))
    record = DecisionRecord(
        reference=incident.reference, title=knowledge.record_title(incident.protocol),
        protocol_version=incident.protocol_version,
        knowledge_version=protocol.version if protocol and protocol.version != incident.protocol_version else None,
        neutral=neutral, facts=facts,
    )  # fmt: skip
    if protocol is not None:
        _protocol_part(record, knowledge, protocol, incident, session)
    else:
        record.questions = [Line(_humanise(str(s.get("step"))), _answer(None, "", s.get("answer")))
                            for s in incident.steps]  # fmt: skip
    for org_id in incident.referrals:
        org = knowledge.organisations.get(org_id)
        if org is None:
            record.referrals.append(Line(org_id, "–"))
            continue
        record.referrals.append(Line(org.name, org.contact or "–",
                                     None if neutral else org.source.title, org.verify))  # fmt: skip
    follow_ups = session.scalars(
        select(FollowUp).where(FollowUp.incident_id == incident.id).options(selectinload(FollowUp.events))
        .order_by(FollowUp.due_at, FollowUp.key)
    ).all()  # fmt: skip
    for follow_up in follow_ups:
        history = [Event(e.status, e.created_at, e.actor, e.reason) for e in follow_up.events]
        record.follow_ups.append(FollowUpRecord(follow_up.action, follow_up.due_at,
                                                history[-1].status if history else "open", history))  # fmt: skip
    reviews = session.scalars(
        select(IncidentReviewEvent).where(IncidentReviewEvent.incident_id == incident.id)
        .order_by(IncidentReviewEvent.id)
    ).all()  # fmt: skip
    record.reviews = [Event(r.status, r.created_at, r.actor, r.note) for r in reviews]
    record.handovers = handovers.history(session, incident).items
    return record

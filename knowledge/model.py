"""Data model of the knowledge base: frozen dataclasses, no I/O.

See docs/INTERFACES.md (section "knowledge") for the contract.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

#: Step kinds. Question kinds ask the user something; the others do not.
QUESTION_KINDS = frozenset({"yes_no", "choice", "number", "text"})
STEP_KINDS = QUESTION_KINDS | {"instruction", "outcome"}

YES = "ja"
NO = "nee"
ANY = "*"
#: The answer "not known" to a number question that has an ``unknown`` step
#: ("Weet ik niet"); recorded as such, so the record shows it was not known.
UNKNOWN = "onbekend"
#: Units a number question may ask in (``unit``): a typed "een week" is 7 when
#: days are asked.
NUMBER_UNITS = frozenset({"days", "weeks", "years"})

Answer = str | int | bool | None


def lower_first(title: str) -> str:
    """A title inside a sentence: "Mensenhandel" -> "mensenhandel"; "LHBTI-bewoners" stays."""
    return title[:1].lower() + title[1:] if title[:1].isupper() and not title[1:2].isupper() else title


class KnowledgeError(ValueError):
    """A knowledge file is invalid; the message names the file and the step."""


@dataclass(frozen=True)
class Source:
    key: str
    title: str
    url: str


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str
    description: str
    phone: str | None
    website: str | None
    source: Source
    verify: bool = False
    phone_note: str | None = None
    #: When to bring this organisation in (Dutch, for the look-ups), or None.
    when: str | None = None
    #: Other names staff type (abbreviations, spellings), for recognising it in a message.
    aliases: tuple[str, ...] = ()
    #: Reachable by phone day and night (DOMAIN.md says 24/7): named when no one on the
    #: location can be reached.
    round_the_clock: bool = False

    @property
    def contact(self) -> str | None:
        """How to reach it, as the chat and the dossier show it: the phone number with its
        note ("112 (spoed; geen spoed: 0900-8844)"), else the website."""
        if self.phone:
            return f"{self.phone} ({self.phone_note})" if self.phone_note else self.phone
        return self.website


@dataclass(frozen=True)
class KeyPosition:
    """A key position on a COA location (``key_positions.yml``); the API keeps who holds it."""

    id: str
    #: Dutch name as used inside a sentence ("contactpersoon veiligheid").
    label: str
    phrases: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """The label with a capital, for headings and tables."""
        return self.label[:1].upper() + self.label[1:]


@dataclass(frozen=True)
class Location:
    """A COA location as recognised in a message (``locations.yml``, seeds the API)."""

    code: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class FollowUp:
    """An action a protocol's decision asks for after the conversation."""

    id: str
    action: str
    organisation: str | None = None
    #: Id of the deadline in norms.yml's ``follow_up_norms``.
    norm: str | None = None

    def applies(self, referrals: Collection[str]) -> bool:
        """Asked for by a decision with these referrals: an action with an organisation
        only when the decision refers to it, one without (a review, a conversation) always."""
        return self.organisation is None or self.organisation in referrals


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    synonyms: tuple[str, ...] = ()
    #: The ages (in years, both ends included) this option stands for, when a typed age
    #: answers the question ("een man van 30" is "Een volwassene"); None: no bound.
    min_age: int | None = None
    max_age: int | None = None

    @property
    def has_ages(self) -> bool:
        return self.min_age is not None or self.max_age is not None

    def holds_age(self, age: int) -> bool:
        return self.has_ages and (self.min_age is None or age >= self.min_age) and (
            self.max_age is None or age <= self.max_age)

    def matches(self, text: str) -> bool:
        """True when ``text`` is this option's value, label or a synonym."""
        wanted = text.strip().casefold()
        names = (self.value, self.label, *self.synonyms)
        return any(wanted == name.casefold() for name in names)


@dataclass(frozen=True)
class NumberRange:
    min: int | None
    max: int | None
    next: str

    def contains(self, value: int) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def representative(self) -> int:
        """One answer that falls in this range (used to walk every path)."""
        if self.min is not None:
            return self.min
        if self.max is not None:
            return self.max
        return 0


def _as_int(answer: Answer) -> int | None:
    if isinstance(answer, bool):
        return None
    if isinstance(answer, int):
        return answer
    if isinstance(answer, str):
        text = answer.strip()
        if text.lstrip("-").isdigit():
            return int(text)
    return None


@dataclass(frozen=True)
class Step:
    id: str
    kind: str
    text: str
    help: str
    source: Source
    options: tuple[Option, ...] = ()
    next: dict[str, str] = field(default_factory=dict)
    ranges: tuple[NumberRange, ...] = ()
    acute_answers: frozenset[str] = frozenset()
    referrals: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    key_positions: tuple[str, ...] = ()
    verify: bool = False
    outcome: str | None = None
    #: An outcome's short name, for the pages that list decisions ("Melden bij Veilig
    #: Thuis, hulp bij aangifte"): the code is for machines, the text too long for a column.
    title: str | None = None
    #: Id of a yes/no step (consent) that must be answered "ja" before this
    #: step's answer may be recorded (special-category data, AVG art. 9).
    recorded_only_if: str | None = None
    #: Id of another protocol this step hands over to (e.g. trafficking signals in the
    #: pregnancy protocol): offered to the counsellor right after the decision.
    hand_over: str | None = None
    #: Number questions: the step after "Weet ik niet" (None: a number is needed),
    #: the unit asked in, and whether a typed range or fraction is taken at its
    #: highest (``round: up``) or lowest: the safe side for this question.
    unknown: str | None = None
    unit: str | None = None
    round_up: bool = False

    # ``next`` is a dict, so the generated hash would fail; steps are
    # identified by id and kind within a protocol.
    def __hash__(self) -> int:
        return hash((self.id, self.kind, self.text))

    @property
    def is_question(self) -> bool:
        return self.kind in QUESTION_KINDS

    def option_for(self, answer: Answer) -> Option | None:
        """The choice option that ``answer`` names (value, label or synonym)."""
        if not isinstance(answer, str):
            return None
        return next((o for o in self.options if o.matches(answer)), None)

    def normalise(self, answer: Answer) -> Answer:
        """The canonical answer value, or None when it is not understood.

        yes/no -> "ja"/"nee"; choice -> option value; number -> int;
        text -> the stripped string; instruction/outcome -> None.
        """
        if self.kind == "yes_no":
            if isinstance(answer, bool):
                return YES if answer else NO
            if isinstance(answer, str) and answer.strip().casefold() in (YES, NO):
                return answer.strip().casefold()
            return None
        if self.kind == "choice":
            option = self.option_for(answer)
            return option.value if option else None
        if self.kind == "number":
            if self.unknown and isinstance(answer, str) and answer.strip().casefold() == UNKNOWN:
                return UNKNOWN
            return _as_int(answer)
        if self.kind == "text":
            if isinstance(answer, str) and answer.strip():
                return answer.strip()
            return None
        return None

    def is_acute(self, answer: Answer) -> bool:
        """True when ``answer`` means "danger right now"."""
        value = self.normalise(answer)
        return isinstance(value, str) and value in self.acute_answers

    def next_for(self, answer: Answer = None) -> str | None:
        """Id of the step that follows ``answer``, or None (not understood / end)."""
        if self.kind == "outcome":
            return None
        if self.kind == "instruction":
            return self.next.get(ANY)
        value = self.normalise(answer)
        if value is None:
            return None
        if self.kind == "number":
            if value == UNKNOWN:
                return self.unknown
            assert isinstance(value, int)
            return next((r.next for r in self.ranges if r.contains(value)), None)
        if self.kind == "text":
            return self.next.get(ANY)
        return self.next.get(str(value))


@dataclass(frozen=True)
class RecordCategory:
    """A neutral category an incident is filed under when its protocol may not be
    named (``record_categories.yml``): shared by several kinds of situation, so the
    category alone says nothing about orientation or religion."""

    id: str
    title: str
    reference_prefix: str


@dataclass(frozen=True)
class Privacy:
    """How a protocol about special-category data (AVG art. 9) is recorded without
    the resident's consent: under ``category``, keeping only ``neutral_steps``'
    answers and none of the ``revealing_referrals``; the session log never holds
    the protocol's texts (they name what the support is about)."""

    consent_step: str
    category: str
    neutral_steps: tuple[str, ...]
    revealing_referrals: tuple[str, ...]


@dataclass(frozen=True)
class GiveWay:
    """A report that starts its protocol but also says one of ``phrases`` (word stems,
    "geslagen") is about ``protocol`` first: that one leads, and the protocol that gives
    way is offered after its decision. ``text`` says why, from ``source``."""

    protocol: str
    phrases: tuple[str, ...]
    text: str
    source: Source


@dataclass(frozen=True)
class Protocol:
    id: str
    version: str
    title: str
    summary: str
    intent: str
    start: str
    steps: dict[str, Step]
    required_referrals: tuple[str, ...]
    forbidden_advice: tuple[str, ...]
    file: Path
    #: Start of every incident reference of this protocol ("EGG-20260101-AB3C").
    reference_prefix: str = "INC"
    #: Phrases that name or signal the protocol (spaCy entity ruler, label ``protocol``).
    signal_phrases: tuple[str, ...] = ()
    #: Dutch training examples of ``intent`` (Rasa markup allowed), from the file or
    #: its sibling ``<id>.nlu.yml``.
    intent_examples: tuple[str, ...] = ()
    follow_ups: tuple[FollowUp, ...] = ()
    privacy: Privacy | None = None
    #: Situations in the opening report that another protocol leads (``GiveWay``).
    gives_way: tuple[GiveWay, ...] = ()
    #: Word stems that mean danger now in this protocol's context only ("een plan" in
    #: suicidality, not in a report of domestic violence): 112 first, as for any danger.
    danger_phrases: tuple[str, ...] = ()
    #: An instruction step said instead of the general 112 advice (police, keep people
    #: away from the perpetrator) when danger now comes up in a run of this protocol:
    #: where 112 means an ambulance and staying with the resident.
    acute_step: str | None = None

    def __hash__(self) -> int:
        return hash((self.id, self.version))

    def step(self, step_id: str) -> Step:
        return self.steps[step_id]

    @property
    def first_step(self) -> Step:
        return self.steps[self.start]

    def outcome_step(self, code: str | None) -> Step | None:
        """The outcome step recorded as ``code`` (codes repeat across protocols, not within one)."""
        return next((s for s in self.steps.values() if s.kind == "outcome" and s.outcome == code), None)


@dataclass(frozen=True)
class ReferenceItem:
    """A numbered item of a reference text (a meldcode step, an afwegingskader question)."""

    number: int
    title: str
    text: str
    source: Source


@dataclass(frozen=True)
class Definition:
    term: str
    text: str
    source: Source


@dataclass(frozen=True)
class Reference:
    """Reference knowledge that is not a protocol graph (``reference/<id>.yml``),
    e.g. the meldcode: ordered ``steps`` and the afwegingskader ``questions``."""

    id: str
    title: str
    summary: str
    source: Source
    steps: tuple[ReferenceItem, ...]
    questions_title: str = ""
    questions: tuple[ReferenceItem, ...] = ()
    definitions: tuple[Definition, ...] = ()
    file: Path | None = None
    #: Phrases that name the reference in a message (entity ruler, label ``protocol``).
    phrases: tuple[str, ...] = ()

    def step(self, number: int) -> ReferenceItem | None:
        return next((s for s in self.steps if s.number == number), None)


@dataclass(frozen=True)
class Knowledge:
    protocols: dict[str, Protocol]
    organisations: dict[str, Organisation]
    sources: dict[str, Source] = field(default_factory=dict)
    references: dict[str, Reference] = field(default_factory=dict)
    #: In the order of ``key_positions.yml`` (safety first).
    key_positions: dict[str, KeyPosition] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    categories: dict[str, RecordCategory] = field(default_factory=dict)
    #: The safe general path (``general/<category>.yml``): run like a protocol when a
    #: safety problem fits no protocol with confidence, filed under the neutral
    #: category of the same id. Not a protocol: no topic button, no protocol id.
    general_path: Protocol | None = None

    def __hash__(self) -> int:
        return id(self)

    def guide(self, guide_id: str) -> Protocol | None:
        """What the engine can run under ``guide_id``: a protocol or the general path."""
        if self.general_path is not None and guide_id == self.general_path.id:
            return self.general_path
        return self.protocols.get(guide_id)

    def outcome_title(self, record_id: str | None, code: str | None) -> str | None:
        """The title of outcome ``code`` of what a record is filed under (a protocol, or a
        neutral category: the general path's). Looked up only there: a privacy protocol's
        run filed under its category keeps its bare code, so no title says what it was about."""
        guide = self.guide(record_id) if record_id else None
        step = guide.outcome_step(code) if guide is not None else None
        return step.title if step is not None else None

    def is_record_id(self, record_id: str) -> bool:
        """May an incident or session be filed under ``record_id`` (a protocol or a
        neutral category)?"""
        return record_id in self.protocols or record_id in self.categories

    def filed_with(self) -> dict[str, tuple[str, ...]]:
        """Neutral category -> the privacy protocols whose sessions are filed under it
        (their incidents are filed under the protocol itself when the resident consented)."""
        filed: dict[str, tuple[str, ...]] = {}
        for protocol in self.protocols.values():
            if protocol.privacy is not None:
                filed[protocol.privacy.category] = (*filed.get(protocol.privacy.category, ()), protocol.id)
        return filed

    def reference_prefix(self, record_id: str) -> str:
        """The start of an incident reference filed under ``record_id`` (protocol or category)."""
        if record_id in self.protocols:
            return self.protocols[record_id].reference_prefix
        return self.categories[record_id].reference_prefix

    def record_title(self, record_id: str) -> str:
        """The title shown for a record id (protocol or neutral category)."""
        if record_id in self.protocols:
            return self.protocols[record_id].title
        category = self.categories.get(record_id)
        return category.title if category else record_id

    def protocol_for_intent(self, intent: str) -> Protocol | None:
        """The protocol, or the general path, that ``intent`` starts."""
        guides = [*self.protocols.values(), *([self.general_path] if self.general_path else [])]
        return next((p for p in guides if p.intent == intent), None)

    def organisation(self, org_id: str) -> Organisation | None:
        return self.organisations.get(org_id)

    def protocols_by_title(self) -> list[Protocol]:
        """The protocols in the order the topic menus show them."""
        return sorted(self.protocols.values(), key=lambda protocol: protocol.title.casefold())

"""The protocol engine: walks a protocol graph from the knowledge YAML.

Plain Python on purpose (no Rasa imports): the engine is the part that must be
right, so it is tested on its own against the real protocol files. It knows no
protocol: every question, answer, referral and outcome comes from the knowledge
package, so adding a protocol means adding a YAML file.

The conversation state is a small JSON-serialisable value (it lives in the
Rasa slots ``protocol``, ``protocol_step``, ``protocol_answers`` and ``acute``).
Everything else (instructions passed, referrals, key positions) is derived by
replaying the recorded answers over the graph, so the slots cannot disagree
with each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from actions.understanding import (
    UNKNOWN,
    echoes_option,
    is_unknown,
    is_unsure,
    mentions_any,
    parse_amount,
    parse_choice,
    parse_yes_no,
    says_only_an_amount,
    says_only_yes_or_no,
    signals_danger_now,
)
from knowledge import GiveWay, Knowledge, Protocol, Step

Answer = str | int

#: The intent the NLU gives a message that says someone is in danger now.
ACUTE_INTENT = "acuut_gevaar"
#: Telling someone to call 112 *is* involving the police, so a decision made
#: after acute danger was signalled always records that referral, even when
#: the danger came up outside the protocol's own acute question.
ACUTE_REFERRAL = "politie"
#: Intents the NLU gives to yes/no answers (and the Ja/Nee button payloads).
YES_NO_INTENTS = {"affirm": "ja", "deny": "nee"}


class EngineError(RuntimeError):
    """The stored state does not fit the protocol (unknown id, changed file...)."""


# --------------------------------------------------------------------------- state


@dataclass
class ProtocolState:
    """Where a counsellor is in a protocol. Lives in Rasa slots, hence plain data."""

    protocol: str
    step: str
    answers: list[dict[str, Any]] = field(default_factory=list)
    acute: bool = False

    def to_slots(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "protocol_step": self.step,
            "protocol_answers": [dict(a) for a in self.answers],
            "acute": self.acute,
        }

    @classmethod
    def from_slots(cls, slots: Mapping[str, Any]) -> ProtocolState | None:
        """The state stored in the slots, or None when no protocol is running."""
        protocol, step = slots.get("protocol"), slots.get("protocol_step")
        if not protocol or not step:
            return None
        answers = slots.get("protocol_answers") or []
        return cls(
            protocol=str(protocol),
            step=str(step),
            answers=[{"step": a["step"], "answer": a["answer"]} for a in answers],
            acute=bool(slots.get("acute")),
        )


@dataclass(frozen=True)
class UserInput:
    """What the counsellor said, as far as the engine cares."""

    text: str = ""
    intent: str | None = None
    #: Value of the ``keuze`` entity (choice buttons send ``/kies{"keuze": ...}``).
    keuze: str | None = None


@dataclass(frozen=True)
class Turn:
    """The result of one answer."""

    state: ProtocolState
    #: The step now waiting for an answer, or the outcome step when finished.
    step: Step
    understood: bool
    answer: Answer | None = None
    #: This message means danger right now: the reply must start with 112.
    acute: bool = False
    #: Instruction steps passed on the way to ``step``, to show before it.
    instructions: tuple[Step, ...] = ()
    #: Explanation to give again when the answer was not understood.
    help: str | None = None
    #: Not understood because the counsellor does not know ("weet ik niet") and
    #: the question has no "Weet ik niet" answer: explain, do not say "niet begrepen".
    unsure: bool = False

    @property
    def finished(self) -> bool:
        return self.step.kind == "outcome"


@dataclass(frozen=True)
class Decision:
    """The result of a finished protocol: what is recorded and what is advised."""

    protocol: str
    protocol_version: str
    acute: bool
    referrals: list[str]
    steps: list[dict[str, Any]]
    outcome: str
    actions: list[str]
    key_positions: list[str]
    outcome_step: Step
    #: Other protocols the steps passed hand over to (offered after the decision).
    hand_overs: tuple[str, ...] = ()
    #: What the record says: ``protocol``, ``referrals`` and ``steps`` above, or for
    #: a protocol with a privacy block run without consent, its neutral category
    #: (see ``recorded``). The chat shows the whole advice either way.
    record: RecordedAs | None = None

    @property
    def recorded(self) -> RecordedAs:
        return self.record or RecordedAs(self.protocol, tuple(self.referrals), tuple(self.steps))

    def payload(self) -> dict[str, Any]:
        """The decision fields of ``POST /api/v1/incidents`` (see INTERFACES.md)."""
        recorded = self.recorded
        return {
            "protocol": recorded.protocol,
            "protocol_version": self.protocol_version,
            "acute": self.acute,
            "referrals": list(recorded.referrals),
            "steps": [dict(s) for s in recorded.steps],
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class RecordedAs:
    """The part of a decision that names what it was about."""

    protocol: str
    referrals: tuple[str, ...]
    steps: tuple[dict[str, Any], ...]


def record_id(protocol: Protocol) -> str:
    """What a protocol's guidance sessions are filed under: its neutral category when
    it has a privacy block (the log starts before consent is asked, so it never
    names the protocol), else its own id."""
    return protocol.privacy.category if protocol.privacy else protocol.id


def _recorded_as(protocol: Protocol, answered: Mapping[str, Answer | None], referrals: list[str],
                 steps: list[dict[str, Any]]) -> RecordedAs | None:
    """Without consent, a privacy protocol's decision keeps only neutral answers and
    referrals under its category, so no field reveals orientation or religion."""
    privacy = protocol.privacy
    if privacy is None or answered.get(privacy.consent_step) == "ja":
        return None
    return RecordedAs(
        protocol=privacy.category,
        referrals=tuple(r for r in referrals if r not in privacy.revealing_referrals),
        steps=tuple(s for s in steps if s["step"] in privacy.neutral_steps),
    )


# --------------------------------------------------------------------------- engine


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


class ProtocolEngine:
    """Runs the protocols of one ``Knowledge``; stateless between calls."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge

    # -- look-ups

    def protocol(self, protocol_id: str) -> Protocol:
        protocol = self.knowledge.guide(protocol_id)
        if protocol is None:
            raise EngineError(f"unknown protocol {protocol_id!r}")
        return protocol

    def step(self, state: ProtocolState) -> Step:
        protocol = self.protocol(state.protocol)
        if state.step not in protocol.steps:
            raise EngineError(f"protocol {state.protocol!r} has no step {state.step!r}")
        return protocol.steps[state.step]

    def _pass_instructions(self, protocol: Protocol, step_id: str) -> tuple[Step, tuple[Step, ...]]:
        """From ``step_id``, skip instruction steps; returns (landing step, instructions)."""
        passed: list[Step] = []
        step = protocol.steps[step_id]
        while step.kind == "instruction":
            passed.append(step)
            target = step.next_for(None)
            if target is None or target not in protocol.steps or len(passed) > len(protocol.steps):
                raise EngineError(f"{protocol.id}: instruction {step.id!r} leads nowhere")
            step = protocol.steps[target]
        return step, tuple(passed)

    def _replay(self, state: ProtocolState) -> list[tuple[Step, Answer | None]]:
        """Every step visited so far with its answer (None for instructions/current)."""
        protocol = self.protocol(state.protocol)
        visited: list[tuple[Step, Answer | None]] = []
        step, passed = self._pass_instructions(protocol, protocol.start)
        visited.extend((s, None) for s in passed)
        for recorded in state.answers:
            if recorded["step"] != step.id:
                raise EngineError(f"{protocol.id}: answer for {recorded['step']!r}, expected {step.id!r}")
            target = step.next_for(recorded["answer"])
            if target is None or target not in protocol.steps:
                # Never the answer itself in the message: it may be special-category data.
                raise EngineError(f"{protocol.id}: the recorded answer does not fit {step.id!r}")
            visited.append((step, recorded["answer"]))
            step, passed = self._pass_instructions(protocol, target)
            visited.extend((s, None) for s in passed)
        if step.id != state.step:
            raise EngineError(f"{protocol.id}: state is at {state.step!r}, answers lead to {step.id!r}")
        visited.append((step, None))
        return visited

    # -- the walk

    def start(self, protocol_id: str, *, acute: bool = False) -> ProtocolState:
        """A new run of ``protocol_id`` at its first question (instructions passed)."""
        protocol = self.protocol(protocol_id)
        step, _ = self._pass_instructions(protocol, protocol.start)
        return ProtocolState(protocol=protocol.id, step=step.id, answers=[], acute=acute)

    def answered_by_report(self, state: ProtocolState, report: UserInput) -> Turn | None:
        """The report that starts a run answers its first question, "Is iemand nu in
        direct gevaar?", when its own words say the danger is now ("hij staat nu met een
        mes voor de deur"): 112 was said with the start, and asking it next asked what
        was just told. The NLU's alarm alone does not answer it, nor does anything else
        in the report. The run goes on as after a "ja" (in every protocol today: through
        its 112 step to where "nee" leads). None when the report does not answer it."""
        step = self.step(state)
        if state.answers or not step.acute_answers or not self._says_danger(report, state.protocol):
            return None
        turn = self.answer(state, report)
        return turn if turn.understood else None

    def restart(self, state: ProtocolState) -> ProtocolState:
        """``opnieuw``: the same protocol from its first question, answers gone.

        Danger already signalled stays signalled: 112 was said, and the record
        must show that the situation was acute.
        """
        return self.start(state.protocol, acute=state.acute)

    def back(self, state: ProtocolState) -> ProtocolState | None:
        """``terug``: the previous question again, its answer undone; None at the first question.

        The acute flag stays as it was (see ``restart``).
        """
        self._replay(state)  # the state must fit the protocol
        if not state.answers:
            return None
        previous = state.answers[-1]["step"]
        return ProtocolState(protocol=state.protocol, step=previous,
                             answers=[dict(a) for a in state.answers[:-1]], acute=state.acute)

    def pending_instructions(self, state: ProtocolState) -> tuple[Step, ...]:
        """Instruction steps passed since the last answer, to show before the current step.

        Not the protocol's ``acute_step``: only an acute answer leads to it (the loader
        checks), and an acute answer's reply already starts with it (``acute_step``)."""
        trail: list[Step] = []
        for step, _answer in self._replay(state)[:-1]:
            trail = [*trail, step] if step.kind == "instruction" else []
        said = self.acute_step(state.protocol)
        return tuple(step for step in trail if step is not said)

    def acute_step(self, protocol_id: str | None) -> Step | None:
        """What to say when danger now comes up in a run of ``protocol_id``: its own 112
        instruction (an ambulance, stay with the resident) where the knowledge names one,
        else None for the general 112 advice."""
        guide = self._known_guide(protocol_id)
        return guide.steps[guide.acute_step] if guide is not None and guide.acute_step else None

    def _known_guide(self, protocol_id: str | None) -> Protocol | None:
        # None for an unknown id too: a state the knowledge no longer fits is reported
        # where the state is read, not while looking for danger words.
        return self.knowledge.guide(protocol_id) if protocol_id else None

    def interpret(self, step: Step, user: UserInput, *, use_intent: bool = True) -> Answer | None:
        """The answer value for ``step`` in what the user said, or None."""
        text = user.text or ""
        if step.kind == "yes_no":
            typed = None if text.lstrip().startswith("/") else parse_yes_no(text)
            if typed is None and use_intent:
                typed = YES_NO_INTENTS.get(user.intent or "")
            return typed
        if step.kind == "choice":
            return parse_choice(step, text, user.keuze)
        if step.kind == "number":
            if user.keuze is not None:
                text = str(user.keuze)
            elif text.lstrip().startswith("/"):
                return None
            value: Answer | None = parse_amount(text, step.unit, round_up=step.round_up)
            if value is None and step.unknown and is_unknown(text):
                value = UNKNOWN
            # A number outside every range is not an answer: ask again.
            return value if value is not None and step.next_for(value) else None
        if step.kind == "text":
            # A description is asked for: a bare "jawel" or "nee" is a slip, explained and asked again.
            stripped = text.strip()
            if not stripped or stripped.startswith("/") or says_only_yes_or_no(stripped):
                return None
            return stripped
        return None

    def signals_danger(self, user: UserInput, protocol_id: str | None = None) -> bool:
        """Danger now in ``user``'s message; with ``protocol_id`` also by that protocol's
        own ``danger_phrases`` (the report that starts it, or an answer in its run)."""
        return user.intent == ACUTE_INTENT or self._says_danger(user, protocol_id)

    def _says_danger(self, user: UserInput, protocol_id: str | None) -> bool:
        """Danger now in the typed words themselves, whatever the NLU made of them."""
        guide = self._known_guide(protocol_id)
        return signals_danger_now(user.text or "", guide.danger_phrases if guide is not None else ())

    def signals_safety_problem(self, user: UserInput) -> bool:
        """True when a message the assistant did not understand still says something
        about someone's safety (a phrase of a protocol or of the general path, or
        danger now): then it gets the safe general path, not "did you mean"."""
        text = user.text or ""
        # A protocol's phrases are the names the entity ruler knows ("zw", "lhbti"):
        # whole words. The general path's are word stems ("bedreig", "mishandel").
        named = [phrase for protocol in self.knowledge.protocols.values() for phrase in protocol.signal_phrases]
        stems = self.knowledge.general_path.signal_phrases if self.knowledge.general_path else ()
        return (self.signals_danger(user) or mentions_any(text, named, whole_words=True)
                or mentions_any(text, stems))

    def _danger_in_answer(self, step: Step, user: UserInput, protocol_id: str) -> bool:
        """Danger now in an answer to ``step``. The typed words always count. The NLU's
        alarm alone does not when the message is this step's answer and nothing else: a
        button, a bare ja or nee, a number, or only the words of the option it picks ("met
        haar ouders" was acuut_gevaar at 0.54, "hij is haar man" at 0.97). At the
        question about danger now, the NLU's alarm counts unless the answer is a typed no:
        "niet op dit moment" was acuut_gevaar at 0.80 and turned the counsellor's no into
        112 and an acute run."""
        if self._says_danger(user, protocol_id):
            return True
        if user.intent != ACUTE_INTENT:
            return False
        if not self._only_an_answer(step, user):
            return True
        return bool(step.acute_answers) and not self._typed_no(step, user)

    @staticmethod
    def _typed_no(step: Step, user: UserInput) -> bool:
        """A typed "nee" to a yes/no question whose no is not the acute answer."""
        return (step.kind == "yes_no" and "nee" not in step.acute_answers
                and parse_yes_no(user.text or "") == "nee")

    def _only_an_answer(self, step: Step, user: UserInput) -> bool:
        text = user.text or ""
        if user.keuze is not None:
            return True
        if step.kind == "yes_no":
            return says_only_yes_or_no(text)
        if step.kind == "number":
            return says_only_an_amount(text)
        if step.kind == "choice":
            option = step.option_for(self.interpret(step, user, use_intent=False))
            # A bare age ("hij is 16") is an answer too, also when it fits two options.
            return says_only_an_amount(text) or (option is not None and echoes_option(text, option))
        return False

    def leading_protocol(self, protocol: Protocol, user: UserInput) -> tuple[Protocol, GiveWay | None]:
        """The protocol that leads for a report that starts ``protocol``: another one when
        the report says a situation ``protocol`` gives way to (knowledge: ``gives_way``),
        with the reason; else ``protocol`` itself."""
        for give_way in protocol.gives_way:
            if mentions_any(user.text or "", give_way.phrases):
                return self.knowledge.protocols[give_way.protocol], give_way
        return protocol, None

    def answer(self, state: ProtocolState, user: UserInput) -> Turn:
        """Interpret ``user`` for the current step and advance when understood."""
        protocol = self.protocol(state.protocol)
        step = self.step(state)
        if step.kind == "outcome":
            return Turn(state=state, step=step, understood=False)

        danger = self._danger_in_answer(step, user, protocol.id)
        if danger:
            # A step that asks about danger now takes the danger as its acute answer,
            # even when the message starts with "nee, maar...". Otherwise only a
            # clear answer in the message counts (acuut_gevaar is not a yes/no), and
            # a free-text step never swallows the alarm as its answer.
            value: Answer | None = None
            if len(step.acute_answers) == 1:
                (only,) = step.acute_answers
                value = int(only) if step.kind == "number" and only.lstrip("-").isdigit() else only
            elif step.kind != "text":
                value = self.interpret(step, user, use_intent=False)
            if value is None:
                acute_state = ProtocolState(state.protocol, state.step, list(state.answers), acute=True)
                return Turn(state=acute_state, step=step, understood=False, acute=True)
        else:
            value = self.interpret(step, user)
            if value is None:
                return Turn(state=state, step=step, understood=False, help=step.help or step.text,
                            unsure=is_unsure(user.text or ""))

        target = step.next_for(value)
        if target is None or target not in protocol.steps:
            return Turn(state=state, step=step, understood=False, acute=danger, help=step.help or step.text)
        acute_answer = step.is_acute(value)
        landing, passed = self._pass_instructions(protocol, target)
        new_state = ProtocolState(
            protocol=state.protocol,
            step=landing.id,
            answers=[*state.answers, {"step": step.id, "answer": value}],
            acute=state.acute or danger or acute_answer,
        )
        return Turn(state=new_state, step=landing, understood=True, answer=value,
                    acute=danger or acute_answer, instructions=passed)

    # -- the result

    def is_finished(self, state: ProtocolState) -> bool:
        return self.step(state).kind == "outcome"

    @staticmethod
    def _may_record(protocol: Protocol, step_id: str, answered: Mapping[str, Answer | None]) -> bool:
        """An answer to a consent-gated step (``recorded_only_if``) is recorded only
        when the consent step was answered "ja" in this run (AVG art. 9)."""
        step = protocol.steps.get(step_id)
        consent = step.recorded_only_if if step is not None else None
        return consent is None or answered.get(consent) == "ja"

    def recordable(self, state: ProtocolState, step_id: str) -> bool:
        """May the answer to ``step_id`` be kept (incident, session log), given the
        answers in ``state``? The consent rule of ``decision``."""
        answered = {a["step"]: a["answer"] for a in state.answers}
        return self._may_record(self.protocol(state.protocol), step_id, answered)

    def decision(self, state: ProtocolState) -> Decision:
        """The decision of a finished protocol."""
        protocol = self.protocol(state.protocol)
        visited = self._replay(state)
        outcome = visited[-1][0]
        if outcome.kind != "outcome":
            raise EngineError(f"{protocol.id}: not finished (at {outcome.id!r})")
        steps = [s for s, _ in visited]
        answered = {s.id: a for s, a in visited if a is not None}
        acute = state.acute or any(s.is_acute(a) for s, a in visited if a is not None)
        referrals = _unique(org for s in steps for org in s.referrals)
        if acute and ACUTE_REFERRAL in self.knowledge.organisations and ACUTE_REFERRAL not in referrals:
            referrals.insert(0, ACUTE_REFERRAL)
        recorded_steps = [dict(a) for a in state.answers if self._may_record(protocol, a["step"], answered)]
        return Decision(
            protocol=protocol.id,
            protocol_version=protocol.version,
            acute=acute,
            referrals=referrals,
            steps=recorded_steps,
            outcome=outcome.outcome or outcome.id,
            actions=_unique(line for s in steps for line in s.actions),
            key_positions=_unique(kp for s in steps for kp in s.key_positions),
            outcome_step=outcome,
            record=_recorded_as(protocol, answered, referrals, recorded_steps),
            hand_overs=tuple(_unique(s.hand_over for s in steps if s.hand_over)),
        )

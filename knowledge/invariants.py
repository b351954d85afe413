"""Safety invariants of a protocol, checked over every path of its graph.

Each ``check_*`` function returns a list of violations (human-readable
strings naming the protocol and the step); an empty list means the protocol
is safe. The loader refuses a protocol with violations, and the tests run
the same checks over every protocol file.
"""

from __future__ import annotations

import re

from .graph import answers_of, iter_paths, path_referrals
from .model import Protocol

#: Organisations that every path of these protocols must refer to, whatever
#: the file's own ``required_referrals`` says (seed letter: with sexual and
#: honour-based violence COA always reports to Veilig Thuis; domestic violence
#: and child abuse follow the meldcode, whose route is Veilig Thuis; FGM is child
#: abuse on the afwegingskader's acute list).
MANDATORY_REFERRALS: dict[str, tuple[str, ...]] = {
    "eergerelateerd_geweld": ("veilig_thuis",),
    "seksueel_geweld": ("veilig_thuis",),
    "huiselijk_geweld": ("veilig_thuis",),
    "meisjesbesnijdenis": ("veilig_thuis",),
}

#: Protocols in which rape, sex or a pregnancy outside marriage can trigger honour-based
#: violence: the safeguards of ``eergerelateerd_geweld`` hold on every path (issue 12).
SAFEGUARDED = frozenset({"eergerelateerd_geweld", "seksueel_geweld", "ongewenste_zwangerschap"})
#: Protocols in which no line may advise contacting or mediating with the family
#: (with FGM the parents are usually the ones who arrange it: Veilig Thuis first).
FAMILY_SENSITIVE = frozenset({"eergerelateerd_geweld", "meisjesbesnijdenis"})

#: The choice answer that says the victim is an unaccompanied minor (amv), and the
#: organisation every such path must refer to: Nidos is the guardian of every amv
#: in COA reception (DOMAIN.md, "More situations").
UNACCOMPANIED_MINOR = "amv"
GUARDIAN = "nidos"

#: Maximum number of questions and instructions on one path: a counsellor has minutes.
MAX_PATH_STEPS = 15

_NEGATION = re.compile(r"\b(niet|geen|nooit|nimmer|never|not|no)\b", re.IGNORECASE)
_FAMILY = re.compile(
    r"(famil|\bouders?\b|broer|vader|moeder|\bzus(sen|ter|ters)?\b|\booms?\b)",
    re.IGNORECASE,
)
_CONTACT = re.compile(
    r"(contact|\bbel|\bbellen|informeer|informeren|inlicht|licht\b.*\bin\b|vertel|"
    r"spreek|gesprek|praat|overleg|benader|bezoek)",
    re.IGNORECASE,
)
_MEDIATE = re.compile(r"(bemiddel|mediat|verzoen|tussenpersoon)", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")

#: Known forbidden-advice ids and the sentence test that recognises such
#: advice (a sentence matching it without a negation is a violation).
FORBIDDEN_ADVICE_PATTERNS: dict[str, tuple[re.Pattern[str], ...]] = {
    "contact_familie": (_CONTACT, _FAMILY),
    "bemiddeling_familie": (_MEDIATE,),
}


def sentences(text: str) -> list[str]:
    """Split a Dutch text into sentences (on . ! ? ; and line breaks)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def step_lines(protocol: Protocol, step_id: str) -> list[str]:
    """Every piece of text a user may see for a step: text, help, options, actions."""
    step = protocol.steps[step_id]
    lines = [step.text, step.help, *step.actions]
    for option in step.options:
        lines.extend([option.label, *option.synonyms])
    return [line for line in lines if line]


def _where(protocol: Protocol, step_id: str) -> str:
    return f"{protocol.id}: step '{step_id}'"


def check_graph(protocol: Protocol) -> list[str]:
    """Start exists, every exit leads to a known step, no dead ends, every
    step reachable from the start, and no cycles."""
    steps = protocol.steps
    if protocol.start not in steps:
        return [f"{protocol.id}: step '{protocol.start}': start step unknown"]
    problems: list[str] = []
    exits: dict[str, list[str]] = {}
    for step_id, step in steps.items():
        targets = [target for _, target in answers_of(step)]
        for target in targets:
            if target not in steps:
                problems.append(f"{_where(protocol, step_id)}: next step '{target}' unknown")
        if step.kind != "outcome" and not targets:
            problems.append(f"{_where(protocol, step_id)}: dead end (no next step)")
        exits[step_id] = [t for t in targets if t in steps]

    reached = {protocol.start}
    todo = [protocol.start]
    while todo:
        for target in exits[todo.pop()]:
            if target not in reached:
                reached.add(target)
                todo.append(target)
    for step_id in steps:
        if step_id not in reached:
            problems.append(f"{_where(protocol, step_id)}: unreachable from start")

    state: dict[str, int] = {}  # 1 = on the current trail, 2 = done

    def visit(step_id: str, trail: list[str]) -> None:
        state[step_id] = 1
        for target in exits[step_id]:
            if state.get(target) == 1:
                here = [*trail, step_id]
                cycle = [*here[here.index(target) :], target]
                problems.append(f"{_where(protocol, target)}: cycle {' -> '.join(cycle)}")
            elif target not in state:
                visit(target, [*trail, step_id])
        state[step_id] = 2

    for step_id in steps:
        if step_id not in state:
            visit(step_id, [])
    return problems


def required_referrals(protocol: Protocol) -> tuple[str, ...]:
    """The file's required referrals plus the mandatory ones for its id."""
    wanted = dict.fromkeys(protocol.required_referrals)
    wanted.update(dict.fromkeys(MANDATORY_REFERRALS.get(protocol.id, ())))
    return tuple(wanted)


def check_paths(protocol: Protocol) -> list[str]:
    """Every path ends at an outcome that names a key position, refers to the
    required organisations (on the outcome itself), and is short enough."""
    problems: list[str] = []
    wanted = required_referrals(protocol)
    for path in iter_paths(protocol):
        end = path[-1].step
        trail = " -> ".join(item.step.id for item in path)
        if end.kind != "outcome":
            problems.append(f"{_where(protocol, end.id)}: path does not end in an outcome")
            continue
        on_path = path_referrals(path)
        for org in wanted:
            if org not in on_path:
                problems.append(f"{_where(protocol, end.id)}: path without '{org}': {trail}")
            elif org not in end.referrals:
                problems.append(f"{_where(protocol, end.id)}: outcome does not refer to '{org}'")
        if not end.outcome:
            problems.append(f"{_where(protocol, end.id)}: outcome without outcome code")
        if not end.key_positions:
            problems.append(f"{_where(protocol, end.id)}: outcome names no key position")
        if len(path) - 1 > MAX_PATH_STEPS:
            problems.append(
                f"{_where(protocol, end.id)}: path of {len(path) - 1} steps (max {MAX_PATH_STEPS}): {trail}"
            )
    return sorted(set(problems), key=problems.index)


def check_acute(protocol: Protocol) -> list[str]:
    """Any acute answer leads directly to an instruction that says 112 and
    refers to the police."""
    problems: list[str] = []
    for step_id, step in protocol.steps.items():
        for answer in sorted(step.acute_answers):
            target_id = step.next_for(answer)
            target = protocol.steps.get(target_id or "")
            where = f"{_where(protocol, step_id)}: acute answer '{answer}'"
            if target is None:
                problems.append(f"{where} leads nowhere")
                continue
            if target.kind != "instruction":
                problems.append(f"{where} leads to '{target.id}', not an instruction")
            if "112" not in target.text:
                problems.append(f"{where} leads to '{target.id}' whose text lacks 112")
            if "politie" not in target.referrals:
                problems.append(f"{where} leads to '{target.id}' without referral 'politie'")
    return problems


def _advice_violations(protocol: Protocol, step_id: str) -> list[str]:
    problems: list[str] = []
    family_sensitive = protocol.id in FAMILY_SENSITIVE or any(
        advice in ("contact_familie", "bemiddeling_familie") for advice in protocol.forbidden_advice
    )
    # Informing or mediating with the family is forbidden advice on every safeguarded
    # protocol, whatever its file declares (the family may be the danger).
    forbidden = list(dict.fromkeys([*protocol.forbidden_advice, *(
        ("contact_familie", "bemiddeling_familie") if protocol.id in SAFEGUARDED else ())]))
    for line in step_lines(protocol, step_id):
        for advice in protocol.forbidden_advice:
            if advice in line:
                problems.append(f"{_where(protocol, step_id)}: forbidden advice '{advice}'")
        for sentence in sentences(line):
            negated = bool(_NEGATION.search(sentence))
            if negated:
                continue
            for advice in forbidden:
                patterns = FORBIDDEN_ADVICE_PATTERNS.get(advice, ())
                if patterns and all(p.search(sentence) for p in patterns):
                    problems.append(f"{_where(protocol, step_id)}: advice like '{advice}': {sentence!r}")
            if family_sensitive and _FAMILY.search(sentence):
                problems.append(
                    f"{_where(protocol, step_id)}: mentions the family without a negation"
                    f" (niet/geen/nooit): {sentence!r}"
                )
    return problems


def check_forbidden_advice(protocol: Protocol) -> list[str]:
    """No step on any path gives forbidden advice (e.g. contacting or
    mediating with the family in honour-based violence)."""
    problems: list[str] = []
    on_paths: dict[str, None] = {}
    for path in iter_paths(protocol):
        on_paths.update(dict.fromkeys(item.step.id for item in path))
    # every step, not only those on complete paths: a step must never say it
    for step_id in dict.fromkeys([*on_paths, *protocol.steps]):
        if step_id in protocol.steps:
            problems.extend(_advice_violations(protocol, step_id))
    return problems


def check_consent(protocol: Protocol) -> list[str]:
    """A step recorded only with consent (``recorded_only_if``) is reached only
    after its consent step was answered "ja", on every path."""
    problems: list[str] = []
    gated = {s.id: s.recorded_only_if for s in protocol.steps.values() if s.recorded_only_if}
    if not gated:
        return problems
    for path in iter_paths(protocol):
        answered = {item.step.id: item.answer for item in path}
        for item in path:
            consent = gated.get(item.step.id)
            if consent is not None and answered.get(consent) != "ja":
                problems.append(f"{_where(protocol, item.step.id)}: reachable without consent "
                                f"('{consent}' answered ja)")
    return list(dict.fromkeys(problems))


def check_minors(protocol: Protocol) -> list[str]:
    """A path on which the victim is an unaccompanied minor (a choice answered
    ``amv``) refers to Nidos from that answer on, so the recorded decision of every
    outcome reached from it names the guardian."""
    problems: list[str] = []
    for path in iter_paths(protocol):
        amv = next((i for i, item in enumerate(path)
                    if item.answer == UNACCOMPANIED_MINOR and item.step.kind == "choice"), None)
        if amv is not None and GUARDIAN not in path_referrals(path[amv:]):
            trail = " -> ".join(item.step.id for item in path)
            problems.append(f"{_where(protocol, path[-1].step.id)}: amv path without '{GUARDIAN}': {trail}")
    return list(dict.fromkeys(problems))


#: Safeguard -> the patterns one line on every path must match together.
SAFEGUARDS: dict[str, tuple[re.Pattern[str], ...]] = {
    # her phone may be read: no calls, texts or voicemail; agree a safe way to reach her
    "telefoon": (re.compile(r"telefoon", re.IGNORECASE), re.compile(r"\bbel\b", re.IGNORECASE),
                 re.compile(r"\bsms", re.IGNORECASE), re.compile(r"voicemail", re.IGNORECASE),
                 re.compile(r"veilig", re.IGNORECASE)),
    # a professional interpreter, never family, a fellow resident or her community
    "tolk": (re.compile(r"\btolk", re.IGNORECASE), re.compile(r"famil", re.IGNORECASE),
             re.compile(r"medebewoner", re.IGNORECASE), re.compile(r"gemeenschap", re.IGNORECASE)),
}
#: On a path that reports to Veilig Thuis: tell her beforehand (no consent is needed)
#: unless telling her endangers her (Wmo 2015 meldrecht; KNMG meldcode).
TELL_ABOUT_REPORT = (re.compile(r"\bvertel", re.IGNORECASE), re.compile(r"Veilig Thuis|melding", re.IGNORECASE),
                     re.compile(r"toestemming", re.IGNORECASE), re.compile(r"\btenzij\b", re.IGNORECASE))


def _says(lines: list[str], patterns: tuple[re.Pattern[str], ...]) -> bool:
    """One line (a step's text, help or advice line) says it all."""
    return any(all(p.search(line) for p in patterns) for line in lines)


def check_safeguards(protocol: Protocol) -> list[str]:
    """Every path of a safeguarded protocol says the phone and interpreter safeguards,
    and every path that refers to Veilig Thuis tells the counsellor to tell her."""
    if protocol.id not in SAFEGUARDED:
        return []
    missing: dict[str, str] = {}  # safeguard -> the first path without it
    for path in iter_paths(protocol):
        lines = [line for item in path for line in step_lines(protocol, item.step.id)]
        wanted = dict(SAFEGUARDS)
        if "veilig_thuis" in path_referrals(path):
            wanted["melding_vertellen"] = TELL_ABOUT_REPORT
        for name, patterns in wanted.items():
            if name not in missing and not _says(lines, patterns):
                missing[name] = " -> ".join(item.step.id for item in path)
    return [f"{protocol.id}: no '{name}' safeguard on the path {trail}" for name, trail in missing.items()]


def check_protocol(protocol: Protocol) -> list[str]:
    """All invariants. Graph problems first; path checks only on a sound graph."""
    problems = check_graph(protocol)
    if problems:
        return problems
    return [*check_paths(protocol), *check_acute(protocol), *check_forbidden_advice(protocol),
            *check_consent(protocol), *check_minors(protocol), *check_safeguards(protocol)]

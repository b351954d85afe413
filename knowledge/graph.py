"""Walking a protocol graph: every path from the start to an outcome."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .model import UNKNOWN, Protocol, Step


@dataclass(frozen=True)
class PathStep:
    step: Step
    answer: str | int | None


def answers_of(step: Step) -> list[tuple[str | int | None, str]]:
    """(answer, next step id) for every way to leave ``step``.

    yes/no and choice: one per answer key; number: one representative value
    per range, and "onbekend" when the step has an ``unknown`` step; text and
    instruction: a single ``None`` answer; outcome: none.
    """
    if step.kind == "outcome":
        return []
    if step.kind == "number":
        known: list[tuple[str | int | None, str]] = [(r.representative(), r.next) for r in step.ranges]
        return [*known, (UNKNOWN, step.unknown)] if step.unknown else known
    if step.kind in ("text", "instruction"):
        return [(None, target) for target in step.next.values()]
    if step.kind == "choice":
        return [(o.value, step.next[o.value]) for o in step.options if o.value in step.next]
    return list(step.next.items())


def iter_paths(protocol: Protocol) -> Iterator[tuple[PathStep, ...]]:
    """Every path from the start step to an outcome (depth first, file order).

    The outcome is the last element (its answer is None). The graph is
    validated to be acyclic on load; a cycle met here stops that branch
    instead of looping forever.
    """

    def walk(step_id: str, trail: tuple[PathStep, ...], seen: frozenset[str]):
        step = protocol.steps[step_id]
        if step.kind == "outcome":
            yield (*trail, PathStep(step, None))
            return
        for answer, target in answers_of(step):
            if target in seen or target not in protocol.steps:
                continue
            yield from walk(target, (*trail, PathStep(step, answer)), seen | {target})

    yield from walk(protocol.start, (), frozenset({protocol.start}))


def path_referrals(path: tuple[PathStep, ...] | list[PathStep]) -> list[str]:
    """Organisation ids referred to along ``path``: ordered, unique."""
    seen: dict[str, None] = {}
    for item in path:
        for org in item.step.referrals:
            seen.setdefault(org, None)
    return list(seen)


def path_key_positions(path: tuple[PathStep, ...] | list[PathStep]) -> list[str]:
    """Key positions involved along ``path``: ordered, unique."""
    seen: dict[str, None] = {}
    for item in path:
        for position in item.step.key_positions:
            seen.setdefault(position, None)
    return list(seen)


def _reachable(protocol: Protocol, start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        step_id = todo.pop()
        if step_id in seen or step_id not in protocol.steps:
            continue
        seen.add(step_id)
        todo.extend(target for _, target in answers_of(protocol.steps[step_id]))
    return seen


def _longest(protocol: Protocol, step_id: str, memo: dict[str, int]) -> int:
    if step_id not in memo:
        memo[step_id] = 0  # cycle guard; the graph is validated to be acyclic
        step = protocol.steps[step_id]
        memo[step_id] = 1 + max((_longest(protocol, t, memo) for _, t in answers_of(step)
                                 if t in protocol.steps), default=0)
    return memo[step_id]


def questions_left(protocol: Protocol, step_id: str) -> tuple[int, int]:
    """The fewest and the most questions on the way from ``step_id`` (counted when it is
    one) to an outcome: what "hoe lang duurt dit nog?" is answered with."""
    memo: dict[str, tuple[int, int]] = {}

    def left(current: str) -> tuple[int, int]:
        if current not in memo:
            memo[current] = (0, 0)  # cycle guard; the graph is validated to be acyclic
            step = protocol.steps[current]
            ahead = [left(t) for _, t in answers_of(step) if t in protocol.steps]
            own = 1 if step.is_question else 0
            memo[current] = (own + min((a[0] for a in ahead), default=0),
                             own + max((a[1] for a in ahead), default=0))
        return memo[current]

    return left(step_id)


def main_path(protocol: Protocol) -> tuple[Step, ...]:
    """The protocol's main line: the steps a counsellor typically passes, in order,
    without the outcome. Used to number the steps ("stap 2 bij ...").

    At a branch: acute answers are detours (unless every answer is acute); an
    answer whose next step leads into another answer's next step is a detour
    too (an extra step that rejoins the line; reaching an outcome is no
    rejoining); of the rest, the next step most
    answers share wins, then the one with the longer remaining path, then
    the first in file order.
    """
    memo: dict[str, int] = {}
    path: list[Step] = []
    step = protocol.steps[protocol.start]
    while step.kind != "outcome" and len(path) <= len(protocol.steps):
        path.append(step)
        exits = [(answer, target) for answer, target in answers_of(step) if target in protocol.steps]
        if not exits:
            break
        calm = [(a, t) for a, t in exits if not (isinstance(a, str) and a in step.acute_answers)]
        exits = calm or exits
        targets = list(dict.fromkeys(t for _, t in exits))
        reach = {t: _reachable(protocol, t) for t in targets}
        direct = [t for t in targets
                  if not any(u != t and u in reach[t] and protocol.steps[u].kind != "outcome"
                             for u in targets)] or targets
        counts = {t: sum(1 for _, x in exits if x == t) for t in direct}
        if step.kind == "choice" and len(direct) > 1 and max(counts.values()) == 1:
            break  # the choice splits the protocol (e.g. her own wish): no main line after it
        best = max(direct, key=lambda t: (counts[t], _longest(protocol, t, memo), -direct.index(t)))
        step = protocol.steps[best]
    return tuple(path)

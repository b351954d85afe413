"""Walking a protocol graph: every path from the start to an outcome."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .model import Protocol, Step


@dataclass(frozen=True)
class PathStep:
    step: Step
    answer: str | int | None


def answers_of(step: Step) -> list[tuple[str | int | None, str]]:
    """(answer, next step id) for every way to leave ``step``.

    yes/no and choice: one per answer key; number: one representative value
    per range; text and instruction: a single ``None`` answer; outcome: none.
    """
    if step.kind == "outcome":
        return []
    if step.kind == "number":
        return [(r.representative(), r.next) for r in step.ranges]
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

"""Protocols as data for the API and as a mermaid flowchart for the web pages.

Everything here is derived from ``knowledge`` (the YAML files); nothing is stored.

The mermaid source is generated here, on the server, so that the browser only
draws it. Every piece of text that comes from knowledge goes through
:func:`mermaid_text`, which turns every character that means something to mermaid
or to HTML into a mermaid entity code (``#34;`` for ``"``): a label can neither end
its quoted string early, nor start a new statement, nor carry an HTML tag. The page
then HTML-escapes the whole source once more when it puts it in ``<pre class="mermaid">``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from api.protocols.schemas import (
    GiveWayOut,
    OptionOut,
    OrganisationOut,
    ProtocolDetail,
    ProtocolSummary,
    RangeOut,
    SourceOut,
    StepOut,
)
from knowledge import Knowledge, Protocol, Source, Step

#: Dutch names of the step kinds, as shown on the pages.
KIND_LABELS: dict[str, str] = {
    "yes_no": "Ja/nee-vraag",
    "choice": "Keuzevraag",
    "number": "Getal",
    "text": "Open vraag",
    "instruction": "Instructie",
    "outcome": "Uitkomst",
}

#: Node shape per kind: (opening, closing) around the quoted label.
_SHAPES: dict[str, tuple[str, str]] = {
    "yes_no": ("{", "}"),  # rhombus: a decision
    "choice": ("{{", "}}"),  # hexagon: a choice between several options
    "number": ("[/", "/]"),  # parallelogram: input
    "text": ("[\\", "\\]"),  # the other parallelogram: free text
    "instruction": ("(", ")"),  # rounded rectangle: something to do
    "outcome": ("([", "])"),  # stadium: an end of the protocol
}

# Characters that are replaced by a mermaid entity code (#<decimal>;) in labels.
# Quotes, angle brackets and ampersands (strings and HTML), '#' and ';' (entity
# codes and statement ends), brackets and pipes (shapes, edge labels), backtick
# (markdown strings), colon and '%' (style statements and %% comments), '=' and '\'.
_MERMAID_SPECIAL = frozenset('"<>&#;[](){}|`:%=\\')
_MAX_NODE_TEXT = 110
# A rhombus grows with width + height of its text: keep questions short.
_MAX_QUESTION_TEXT = 80
_ID_RE = re.compile(r"[^A-Za-z0-9_]")


def mermaid_text(text: str, limit: int | None = None) -> str:
    """``text`` made safe for a quoted mermaid label (one line, entity-coded)."""
    flat = " ".join(str(text).split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return "".join(f"#{ord(char)};" if char in _MERMAID_SPECIAL else char for char in flat)


def is_web_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("https://", "http://"))


def step_anchor(step_id: str) -> str:
    return f"stap-{_ID_RE.sub('-', step_id)}"


def _node_ids(protocol: Protocol) -> dict[str, str]:
    ids: dict[str, str] = {}
    used: set[str] = set()
    for index, step_id in enumerate(protocol.steps, start=1):
        node = "n_" + _ID_RE.sub("_", step_id)
        if node in used:
            node = f"{node}_{index}"
        used.add(node)
        ids[step_id] = node
    return ids


def organisation_name(knowledge: Knowledge, org_id: str) -> str:
    organisation = knowledge.organisations.get(org_id)
    return organisation.name if organisation else org_id


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str | None


#: The edge of a number question's "not known" answer (the chat's button says the same).
UNKNOWN_LABEL = "Weet ik niet"


def edges(step: Step) -> list[Edge]:
    """The answers of ``step`` and where each leads, in file order."""
    if step.kind == "yes_no":
        return [
            Edge(step.id, target, {"ja": "Ja", "nee": "Nee"}.get(answer, answer))
            for answer, target in step.next.items()
        ]
    if step.kind == "choice":
        labels = {option.value: option.label for option in step.options}
        return [Edge(step.id, target, labels.get(value, value)) for value, target in step.next.items()]
    if step.kind == "number":
        known = [Edge(step.id, r.next, number_range_label(r.min, r.max)) for r in step.ranges]
        return [*known, Edge(step.id, step.unknown, UNKNOWN_LABEL)] if step.unknown else known
    return [Edge(step.id, target, None) for target in step.next.values()]


def number_range_label(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"{low} t/m {high}"
    if low is not None:
        return f"{low} of meer"
    if high is not None:
        return f"t/m {high}"
    return "elk getal"


def _node_label(knowledge: Knowledge, number: int, step: Step) -> str:
    # The shape and colour show the kind (see the legend); the number matches the table.
    limit = _MAX_QUESTION_TEXT if step.kind == "yes_no" else _MAX_NODE_TEXT
    parts = [f"<b>{number}.</b> {mermaid_text(step.text, limit)}"]
    if step.referrals:
        names = ", ".join(organisation_name(knowledge, org) for org in step.referrals)
        prefix = "Doorverwijzen" if step.kind == "outcome" else "Inschakelen"
        parts.append(f"<i>{prefix}: {mermaid_text(names)}</i>")
    if step.verify:
        parts.append("<b>⚠ verifiëren</b>")
    return "<br/>".join(parts)


def mermaid_source(protocol: Protocol, knowledge: Knowledge) -> str:
    """A mermaid ``flowchart TD`` of the protocol: a node per step, answers on the edges."""
    ids = _node_ids(protocol)
    lines = [
        "flowchart TD",
        f"accTitle: Stroomschema {mermaid_text(protocol.title)}",
        f"accDescr: {mermaid_text(protocol.summary)}",
        '  start(("Start"))',
    ]
    for number, step in enumerate(protocol.steps.values(), start=1):
        opening, closing = _SHAPES.get(step.kind, ("[", "]"))
        lines.append(f'  {ids[step.id]}{opening}"{_node_label(knowledge, number, step)}"{closing}')
    lines.append(f"  start --> {ids[protocol.start]}")
    for step in protocol.steps.values():
        for edge in edges(step):
            if edge.target not in ids:
                continue  # cannot happen for validated knowledge; never draw a dangling edge
            arrow = f'-->|"{mermaid_text(edge.label)}"|' if edge.label else "-->"
            lines.append(f"  {ids[edge.source]} {arrow} {ids[edge.target]}")
    # Colours per kind (the page's stylesheet cannot reach into the SVG's own styles).
    lines += [
        "  classDef question fill:#e8f0fa,stroke:#1f4e8c,color:#14213d",
        "  classDef instruction fill:#ffffff,stroke:#5c6773,color:#14213d",
        "  classDef outcome fill:#e6f4ea,stroke:#1e7b34,color:#0f3d1c,stroke-width:2px",
        "  classDef verify fill:#fff4e0,stroke:#b35c00,color:#3d2200,stroke-width:2px,stroke-dasharray:6 3",
        "  classDef start fill:#1f4e8c,stroke:#1f4e8c,color:#ffffff",
        "  class start start",
    ]
    groups: dict[str, list[str]] = {}
    for step in protocol.steps.values():
        if step.verify:
            css = "verify"
        elif step.kind == "outcome":
            css = "outcome"
        elif step.is_question:
            css = "question"
        else:
            css = "instruction"
        groups.setdefault(css, []).append(ids[step.id])
    for css, nodes in groups.items():
        lines.append(f"  class {','.join(nodes)} {css}")
    # Each node links to its row in the step table (mermaid sanitises the URL;
    # links work with securityLevel 'strict', callbacks would not).
    for step in protocol.steps.values():
        lines.append(f'  click {ids[step.id]} href "#{step_anchor(step.id)}"')
    return "\n".join(lines) + "\n"


def sources(protocol: Protocol) -> list[dict[str, str]]:
    """The sources the protocol's steps (then its ``gives_way``) cite, unique, in order of first use."""
    seen: dict[str, dict[str, str]] = {}
    for source in [*(step.source for step in protocol.steps.values()), *(g.source for g in protocol.gives_way)]:
        seen.setdefault(source.key, {"key": source.key, "title": source.title, "url": source.url})
    return list(seen.values())


def referred_organisations(protocol: Protocol) -> list[str]:
    """Organisation ids the protocol refers to anywhere, unique, in order of first use."""
    ids: dict[str, None] = {}
    for step in protocol.steps.values():
        for org in step.referrals:
            ids.setdefault(org, None)
    return list(ids)


def ordered(knowledge: Knowledge) -> list[Protocol]:
    """Protocols sorted by title (stable for the pages and the API)."""
    return sorted(knowledge.protocols.values(), key=lambda protocol: protocol.title.casefold())


def summary(protocol: Protocol) -> ProtocolSummary:
    return ProtocolSummary(
        id=protocol.id,
        version=protocol.version,
        title=protocol.title,
        summary=protocol.summary,
        start=protocol.start,
        step_count=len(protocol.steps),
    )


def _source_out(source: Source) -> SourceOut:
    return SourceOut(key=source.key, title=source.title, url=source.url)


def _step_out(number: int, step: Step) -> StepOut:
    return StepOut(
        id=step.id,
        number=number,
        kind=step.kind,
        text=step.text,
        help=step.help,
        options=[OptionOut(value=option.value, label=option.label) for option in step.options],
        next=dict(step.next),
        ranges=[RangeOut(min=r.min, max=r.max, next=r.next) for r in step.ranges],
        unknown=step.unknown,
        unit=step.unit,
        acute_answers=sorted(step.acute_answers),
        referrals=list(step.referrals),
        actions=list(step.actions),
        key_positions=list(step.key_positions),
        verify=step.verify,
        outcome=step.outcome,
        title=step.title,
        hand_over=step.hand_over,
        source=_source_out(step.source),
    )


def detail(protocol: Protocol, knowledge: Knowledge) -> ProtocolDetail:
    orgs = []
    for org_id in referred_organisations(protocol):
        organisation = knowledge.organisations.get(org_id)
        if organisation is not None:
            orgs.append(
                OrganisationOut(
                    id=organisation.id,
                    name=organisation.name,
                    phone=organisation.phone,
                    phone_note=organisation.phone_note,
                    website=organisation.website,
                    verify=organisation.verify,
                )
            )
    return ProtocolDetail(
        **summary(protocol).model_dump(),
        intent=protocol.intent,
        required_referrals=list(protocol.required_referrals),
        steps=[_step_out(number, step) for number, step in enumerate(protocol.steps.values(), start=1)],
        sources=[SourceOut(**source) for source in sources(protocol)],
        organisations=orgs,
        gives_way=[GiveWayOut(protocol=give_way.protocol, title=knowledge.protocols[give_way.protocol].title,
                              phrases=list(give_way.phrases), text=give_way.text,
                              source=_source_out(give_way.source))
                   for give_way in protocol.gives_way],
        danger_phrases=list(protocol.danger_phrases),
        acute_step=protocol.acute_step,
    )

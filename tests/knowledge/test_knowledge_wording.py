"""The assistant addresses staff formally ("u"): no protocol text says "je", "jij" or "jouw"."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from knowledge import Knowledge, Protocol

#: Informal Dutch forms of address (whole words, any case).
INFORMAL = re.compile(r"\b(je|jij|jou|jouw|jezelf|jullie)\b", re.IGNORECASE)


def texts_of(protocol: Protocol) -> Iterator[tuple[str, str]]:
    """(where, text) of everything of the protocol that is shown to staff."""
    yield "title", protocol.title
    yield "summary", protocol.summary
    for step in protocol.steps.values():
        yield f"{step.id}.text", step.text
        yield f"{step.id}.help", step.help
        for option in step.options:
            yield f"{step.id}.options.{option.value}", option.label
        for number, line in enumerate(step.actions):
            yield f"{step.id}.actions[{number}]", line


def test_the_pattern_finds_informal_address() -> None:
    assert INFORMAL.search("Twijfel je? Antwoord dan ja.")
    assert INFORMAL.search("Jij levert de signalen aan")
    assert INFORMAL.search("leg jouw afweging vast")
    assert not INFORMAL.search("Twijfelt u? Leg uw afweging vast. Bijvoorbeeld: jeugdzorg.")


@pytest.mark.parametrize("protocol_id", ["eergerelateerd_geweld", "seksueel_geweld", "ongewenste_zwangerschap",
                                         "lhbti_ondersteuning"])
def test_no_protocol_text_uses_je_jij_or_jouw(kb: Knowledge, protocol_id: str) -> None:
    informal = [f"{where}: {text!r}" for where, text in texts_of(kb.protocols[protocol_id])
                if INFORMAL.search(text)]
    assert informal == [], "use 'u' / 'uw':\n" + "\n".join(informal)


def test_every_protocol_is_checked(kb: Knowledge) -> None:
    for protocol in kb.protocols.values():
        assert [w for w, t in texts_of(protocol) if INFORMAL.search(t)] == [], protocol.id


def test_organisation_and_reference_texts_use_u(kb: Knowledge) -> None:
    """Look-ups show these texts to staff too."""
    texts = [(f"{o.id}.{field}", getattr(o, field) or "") for o in kb.organisations.values()
             for field in ("name", "description", "when")]
    for name, reference in kb.references.items():
        texts += [(f"{name}.summary", getattr(reference, "summary", "") or "")]
        texts += [(f"{name}.{item.number}", f"{item.title} {item.text}") for item in reference.steps]
    informal = [f"{where}: {text!r}" for where, text in texts if INFORMAL.search(text)]
    assert informal == [], "use 'u' / 'uw':\n" + "\n".join(informal)

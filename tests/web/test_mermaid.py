"""The generated mermaid source: shapes, edges and safe escaping of knowledge text."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
import pytest

from api.knowledge_ref import get_knowledge
from api.protocols.service import mermaid_source, mermaid_text
from knowledge import Knowledge, Protocol, Source, Step
from knowledge.model import Option

from .conftest import login

EVIL = 'Zeg "hallo" <script>alert(1)</script> & [x] {y} (z) | a;b #1 `c` end %% x: y'


def _protocol() -> tuple[Protocol, Knowledge]:
    real = get_knowledge()
    source = Source(key="evil", title='Bron "met" <b>tags</b>', url="https://example.org/?a=1&b=<2>")
    steps = {
        "vraag": Step(
            id="vraag",
            kind="yes_no",
            text=EVIL,
            help="",
            source=source,
            next={"ja": "keuze", "nee": "einde"},
            acute_answers=frozenset({"ja"}),
        ),
        "keuze": Step(
            id="keuze",
            kind="choice",
            text="Welke?",
            help="",
            source=source,
            options=(Option(value="a", label='Optie "A" <i>'), Option(value="b", label="B")),
            next={"a": "einde", "b": "einde"},
        ),
        "einde": Step(
            id="einde",
            kind="outcome",
            text="Klaar </pre><script>alert(2)</script>",
            help="",
            source=source,
            referrals=("veilig_thuis",),
            verify=True,
            outcome="klaar",
        ),
    }
    protocol = Protocol(
        id="evil_test",
        version="9.9.9",
        title='Titel "<script>"',
        summary="Samenvatting </pre> <img src=x onerror=alert(3)>",
        intent="none",
        start="vraag",
        steps=steps,
        required_referrals=(),
        forbidden_advice=(),
        file=Path("evil.yml"),
    )
    knowledge = Knowledge(
        protocols={**real.protocols, protocol.id: protocol},
        organisations=real.organisations,
        sources=real.sources,
    )
    return protocol, knowledge


def test_mermaid_text_codes_every_special_character() -> None:
    coded = mermaid_text(EVIL)
    for char in '"<>&[]{}()|;`%:':
        assert char not in coded.replace("#", "").replace(";", "") or char in "#;", char
    assert '"' not in coded and "<" not in coded and ">" not in coded
    assert "#34;hallo#34;" in coded
    assert "#60;script#62;" in coded
    # Every '#' and ';' left is part of an entity code.
    assert re.fullmatch(r"(?:[^#;]|#\d+;)*", coded)
    assert "\n" not in mermaid_text("a\nb\r\nc")


def test_labels_cannot_break_out_of_their_quotes() -> None:
    protocol, knowledge = _protocol()
    source = mermaid_source(protocol, knowledge)
    for line in source.splitlines():
        if line.strip().startswith("n_"):
            # a node or edge line: quotes come in delimiting pairs only
            assert line.count('"') in (0, 2, 4), line
    assert "<script" not in source
    assert "alert(1)" not in source  # the parentheses are coded
    node = next(line for line in source.splitlines() if line.strip().startswith("n_vraag{"))
    assert node.endswith('"}')
    assert '-->|"Optie #34;A#34; #60;i#62;"| n_einde' in source
    assert "⚠ verifiëren" in source
    assert "Doorverwijzen: Veilig Thuis" in source


def test_shapes_and_edges_of_a_real_protocol() -> None:
    knowledge = get_knowledge()
    protocol = knowledge.protocols["eergerelateerd_geweld"]
    source = mermaid_source(protocol, knowledge)
    assert source.startswith("flowchart TD\n")
    assert f"start --> n_{protocol.start}" in source
    assert re.search(r"n_acuut_gevaar\{\"", source)  # yes/no: rhombus
    assert re.search(r"n_vorm_dreiging\{\{\"", source)  # choice: hexagon
    assert re.search(r"n_bel_112\(\"", source)  # instruction: rounded
    assert re.search(r"n_melding_veilig_thuis\(\[\"", source)  # outcome: stadium
    assert 'n_acuut_gevaar -->|"Ja"| n_bel_112' in source
    assert 'n_acuut_gevaar -->|"Nee"| n_vorm_dreiging' in source
    for step in protocol.steps.values():
        assert f"  n_{step.id}" in source


@pytest.mark.parametrize("protocol_id", ["ongewenste_zwangerschap", "seksueel_geweld"])
def test_number_ranges_label_their_edges(protocol_id: str) -> None:
    knowledge = get_knowledge()
    source = mermaid_source(knowledge.protocols[protocol_id], knowledge)
    assert re.search(r'-->\|"\d+ t/m \d+"\|', source)
    assert re.search(r'-->\|"\d+ of meer"\|', source)
    # The "Weet ik niet" answer of a number question is an edge of its own (issue 12).
    number = next(s for s in knowledge.protocols[protocol_id].steps.values() if s.kind == "number")
    assert f'n_{number.id} -->|"Weet ik niet"| n_{number.unknown}' in source


async def test_the_page_escapes_the_mermaid_source_and_the_table(
    client: httpx.AsyncClient, app, seeded
) -> None:
    _protocol_obj, knowledge = _protocol()
    app.dependency_overrides[get_knowledge] = lambda: knowledge
    await login(client, "contactpersoon.terapel", "contactpersoon-demo")
    response = await client.get("/protocollen/evil_test")
    assert response.status_code == 200
    page = response.text
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "</pre><script>" not in page
    pre = page.split('<pre class="mermaid">', 1)[1].split("</pre>", 1)[0]
    assert "<" not in pre and '"' not in pre  # HTML-escaped once more on top of the entity codes
    assert html.unescape(pre) == mermaid_source(knowledge.protocols["evil_test"], knowledge)
    # The table shows the text as text, escaped.
    assert "Zeg &#34;hallo&#34; &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="https://example.org/?a=1&amp;b=&lt;2&gt;"' in page

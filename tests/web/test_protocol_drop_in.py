"""Adding a protocol is one file (issue 13 part 1).

A small protocol (``proef_melding.yml`` with its ``proef_melding.nlu.yml``) is dropped
into a copy of knowledge/ in a temporary directory. Without touching anything else it
appears in the generated Rasa domain (intent, topic buttons), rules and NLU data, in
the entity ruler's patterns and synonyms, in the API's protocol list, in the
reference of an incident recorded under it, and on the web flowchart page.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI

from api.knowledge_ref import get_knowledge
from assistant.generate import entity_patterns, generated_files, stale_files, write_files
from knowledge import Knowledge, load_knowledge
from knowledge.loader import PACKAGE_DIR
from tests.web.conftest import login

PROTOCOL = {
    "id": "proef_melding",
    "version": "1.0.0",
    "title": "Proefmelding",
    "summary": "Een klein protocol om te laten zien dat een protocol één bestand is.",
    "intent": "melding_proef",
    "start": "acuut_gevaar",
    "required_referrals": ["veilig_thuis"],
    "forbidden_advice": [],
    "reference_prefix": "PROEF",
    "signal_phrases": ["proefmelding", "proef melding"],
    "steps": [
        {"id": "acuut_gevaar", "kind": "yes_no", "text": "Is er nu direct gevaar?",
         "help": "Direct gevaar betekent: iemand is nu in gevaar.", "source": "seed_letter",
         "acute_answers": ["ja"], "next": {"ja": "bel_112", "nee": "advies"}},
        {"id": "bel_112", "kind": "instruction", "text": "Bel nu 112 (politie).", "source": "seed_letter",
         "referrals": ["politie"], "next": "advies"},
        {"id": "advies", "kind": "outcome", "text": "Vraag Veilig Thuis om advies.", "source": "seed_letter",
         "outcome": "advies_veilig_thuis", "title": "Advies van Veilig Thuis", "referrals": ["veilig_thuis"],
         "key_positions": ["contactpersoon_veiligheid"]},
    ],
}
EXAMPLES = [f"proefmelding nummer {n} over een bewoner" for n in range(1, 13)]


@pytest.fixture(scope="module")
def dropped(tmp_path_factory: pytest.TempPathFactory) -> Knowledge:
    root = tmp_path_factory.mktemp("knowledge")
    shutil.copytree(PACKAGE_DIR, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (root / "protocols" / "proef_melding.yml").write_text(yaml.safe_dump(PROTOCOL, allow_unicode=True))
    (root / "protocols" / "proef_melding.nlu.yml").write_text(yaml.safe_dump({"examples": EXAMPLES}))
    return load_knowledge(root)


def test_the_generated_rasa_files_carry_the_new_protocol(dropped: Knowledge) -> None:
    files = generated_files(dropped)
    domain = yaml.safe_load(files["assistant/domain/protocols_generated.yml"])
    assert "melding_proef" in domain["intents"]
    assert "; proefmelding; " in domain["responses"]["utter_greet"][0]["text"]
    for response in ("utter_default", "utter_ask_topic", "utter_geen_protocol_actief"):
        buttons = domain["responses"][response][0]["buttons"]
        assert {"title": "Proefmelding", "payload": "/melding_proef"} in buttons, response
    rules = yaml.safe_load(files["data/rules/protocols_generated.yml"])["rules"]
    assert [r["steps"] for r in rules if r["steps"][0] == {"intent": "melding_proef"}] == [[
        {"intent": "melding_proef"}, {"action": "action_start_protocol"},
        {"action": "protocol_form"}, {"active_loop": "protocol_form"}]]
    nlu = yaml.safe_load(files["data/nlu/protocols_generated.yml"])["nlu"]
    block = next(b for b in nlu if b["intent"] == "melding_proef")
    assert [line[2:] for line in block["examples"].splitlines()] == EXAMPLES
    synonyms = yaml.safe_load(files["data/nlu/synonyms_generated.yml"])["nlu"]
    assert "proef-melding" in next(b["examples"] for b in synonyms if b.get("synonym") == "proef_melding")
    assert {"label": "protocol", "pattern": "proefmelding", "id": "proef_melding"} in entity_patterns(dropped)


def test_a_stale_generated_file_is_found_and_rewritten(dropped: Knowledge, tmp_path: Path) -> None:
    assert set(write_files(dropped, tmp_path)) == set(generated_files(dropped))
    assert stale_files(dropped, tmp_path) == []
    rules = tmp_path / "data/rules/protocols_generated.yml"
    rules.write_text(rules.read_text().replace("melding_proef", "melding_iets_anders"))
    assert stale_files(dropped, tmp_path) == ["data/rules/protocols_generated.yml"]


@pytest.fixture
def app_with_dropped(app: FastAPI, dropped: Knowledge) -> FastAPI:
    app.dependency_overrides[get_knowledge] = lambda: dropped
    return app


async def test_the_api_lists_it_and_records_it_with_its_prefix(
    app_with_dropped: FastAPI, client: httpx.AsyncClient, auth: Callable[..., dict[str, str]],
    seeded: Any, incident_payload: Callable[..., dict[str, Any]],
) -> None:
    listed = await client.get("/api/v1/protocols", headers=auth("counsellor", "TERAPEL"))
    assert listed.status_code == 200
    assert "proef_melding" in {p["id"] for p in listed.json()}
    payload = incident_payload(protocol="proef_melding", referrals=["politie", "veilig_thuis"],
                               steps=[{"step": "acuut_gevaar", "answer": "ja"}], outcome="advies_veilig_thuis")
    created = await client.post("/api/v1/incidents", json=payload, headers=auth("service"))
    assert created.status_code == 201, created.text
    assert created.json()["reference"].startswith("PROEF-")


async def test_the_web_page_draws_its_flowchart(app_with_dropped: FastAPI, client: httpx.AsyncClient,
                                                seeded: Any) -> None:
    assert (await login(client, "contactpersoon.terapel", "contactpersoon-demo")).status_code == 303
    overview = await client.get("/protocollen")
    assert "/protocollen/proef_melding" in overview.text
    page = await client.get("/protocollen/proef_melding")
    assert page.status_code == 200
    assert "Proefmelding" in page.text
    assert '<pre class="mermaid">flowchart TD' in page.text
    assert "Stroomschema Proefmelding" in page.text and "Is er nu direct gevaar?" in page.text

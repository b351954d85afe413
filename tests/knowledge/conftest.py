"""Fixtures for the knowledge tests.

No __init__.py here on purpose: should tests/__init__.py ever go, a package named
``knowledge`` under tests/ would shadow the real one. Test file names are
prefixed ``test_knowledge_`` so they stay unique without a package."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge import Knowledge, load_knowledge

#: A small protocol that passes every check; tests break one thing at a time.
VALID_PROTOCOL: dict[str, Any] = {
    "id": "test_protocol",
    "version": "1.0.0",
    "title": "Test",
    "summary": "Een klein protocol voor de tests.",
    "intent": "melding_test",
    "start": "acuut",
    "required_referrals": ["veilig_thuis"],
    "reference_prefix": "TEST",
    "intent_examples": [f"testmelding {n}" for n in range(1, 11)],
    "steps": [
        {
            "id": "acuut",
            "kind": "yes_no",
            "text": "Is er nu direct gevaar?",
            "help": "Direct gevaar: nu geweld of dreiging.",
            "source": "seed_letter",
            "acute_answers": ["ja"],
            "next": {"ja": "bel_112", "nee": "soort"},
        },
        {
            "id": "bel_112",
            "kind": "instruction",
            "text": "Bel nu 112.",
            "source": "seed_letter",
            "referrals": ["politie"],
            "next": "soort",
        },
        {
            "id": "soort",
            "kind": "choice",
            "text": "Wat speelt er?",
            "help": "Kies een optie.",
            "source": "movisie",
            "options": [
                {"value": "bedreiging", "label": "Bedreiging", "next": "dagen"},
                {"value": "anders", "label": "Anders", "next": "omschrijving"},
            ],
        },
        {
            "id": "omschrijving",
            "kind": "text",
            "text": "Beschrijf het kort, zonder namen.",
            "help": "Een paar woorden is genoeg.",
            "source": "movisie",
            "next": "dagen",
        },
        {
            "id": "dagen",
            "kind": "number",
            "text": "Hoeveel dagen geleden?",
            "help": "Een heel getal.",
            "source": "movisie",
            "ranges": [
                {"min": 0, "max": 7, "next": "melden"},
                {"min": 8, "next": "melden"},
            ],
        },
        {
            "id": "melden",
            "kind": "outcome",
            "outcome": "melding_veilig_thuis",
            "title": "Melden bij Veilig Thuis",
            "text": "Meld bij Veilig Thuis.",
            "source": "augeo",
            "referrals": ["veilig_thuis"],
            "key_positions": ["aandachtsfunctionaris"],
            "actions": ["Bel Veilig Thuis: 0800-2000."],
        },
    ],
}


@pytest.fixture(scope="session")
def kb() -> Knowledge:
    return load_knowledge()


@pytest.fixture
def protocol_data() -> dict[str, Any]:
    return copy.deepcopy(VALID_PROTOCOL)


def _write_yaml(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def write_yaml() -> Callable[[Path, Any], Path]:
    """``write_yaml(path, data)``: dump data as YAML to path."""
    return _write_yaml


@pytest.fixture
def write_protocol(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    """Write a protocol dict to ``<tmp>/protocols/<id>.yml`` and return the path."""

    def write(data: dict[str, Any]) -> Path:
        return _write_yaml(tmp_path / "protocols" / f"{data['id']}.yml", data)

    return write


def _step_of(data: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in data["steps"] if s["id"] == step_id)


@pytest.fixture
def step_of() -> Callable[[dict[str, Any], str], dict[str, Any]]:
    """``step_of(data, id)``: the raw step mapping with that id (to mutate it)."""
    return _step_of

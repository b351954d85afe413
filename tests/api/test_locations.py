"""Locations and key positions: readable by every role, the service role included."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.orm import Session

from api.locations.models import KEY_POSITIONS

from .conftest import TokenFactory

CONTRACT_CODES = {"TERAPEL", "BUDEL", "ZWOLLE", "GILZE", "MUSSELKANAAL"}


@pytest.mark.parametrize("role", ["counsellor", "contact_person", "supervisor", "admin", "service"])
async def test_every_role_lists_locations(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, role: str
) -> None:
    response = await client.get("/api/v1/locations", headers=auth(role))
    assert response.status_code == 200
    locations = {item["code"]: item for item in response.json()}
    assert set(locations) >= CONTRACT_CODES
    assert all(set(item) == {"code", "name", "aliases"} for item in locations.values())
    assert locations["TERAPEL"]["name"] == "Ter Apel"
    assert {"ter apel", "terapel"} <= set(locations["TERAPEL"]["aliases"])
    assert locations["BUDEL"]["name"] == "Budel-Cranendonck"
    assert {"budel", "cranendonck"} <= set(locations["BUDEL"]["aliases"])
    assert "gilze en rijen" in locations["GILZE"]["aliases"]
    for item in locations.values():
        assert all(alias == alias.lower() for alias in item["aliases"])


@pytest.mark.parametrize("code", sorted(CONTRACT_CODES))
async def test_every_location_has_all_key_positions(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, code: str
) -> None:
    response = await client.get(f"/api/v1/locations/{code}/key-positions", headers=auth("service"))
    assert response.status_code == 200
    holders = response.json()
    assert [holder["position"] for holder in holders] == list(KEY_POSITIONS)
    for holder in holders:
        assert set(holder) == {"position", "name", "phone", "kind", "valid_until", "teams_id", "email"}
        assert holder["kind"] == "houder"
        assert holder["name"].endswith("-Demo")  # invented demo people only
        assert holder["phone"]


async def test_key_positions_code_is_case_insensitive(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    response = await client.get("/api/v1/locations/terapel/key-positions", headers=auth("counsellor"))
    assert response.status_code == 200
    assert len(response.json()) == len(KEY_POSITIONS)


async def test_unknown_location_is_404(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session
) -> None:
    response = await client.get("/api/v1/locations/ATLANTIS/key-positions", headers=auth("admin"))
    assert response.status_code == 404
    assert "ATLANTIS" in response.json()["detail"]

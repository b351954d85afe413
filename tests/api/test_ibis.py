"""The IBIS export (issue 15 part 6): CSV and JSON per incident and per period, the
IBIS category from knowledge/ibis_mapping.yml marked "verifiëren", no formula
injection in the CSV, scoped like the incident for contact persons, supervisors and
admins, refused to counsellors; a period out of bounds is a 422."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session

from api.ibis.service import COLUMNS
from api.models_base import utcnow

from .conftest import TokenFactory
from .factories import make_follow_up, make_incident


def _csv_rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert tuple(rows[0]) == COLUMNS
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def _cases(db: Session) -> dict[str, Any]:
    now = utcnow()
    egg = make_incident(db, created_at=now - timedelta(days=2), reference="EGG-20261201-AAAA", acute=True,
                        referrals=["politie", "veilig_thuis"], outcome="melding_veilig_thuis_acuut")
    make_follow_up(db, egg, due_at=now + timedelta(hours=1))
    # An outcome that a spreadsheet would run as a formula if it were written as it is.
    hostile = make_incident(db, created_at=now - timedelta(days=1), reference="EGG-20261202-BBBB",
                            outcome="=HYPERLINK(\"http://x\")", referrals=["@veilig_thuis"])
    neutral = make_incident(db, created_at=now - timedelta(hours=3), reference="VEI-20261203-CCCC",
                            protocol="algemene_veiligheid", protocol_version="1.1.0", outcome="steun_op_locatie",
                            referrals=["politie"])
    old = make_incident(db, created_at=now - timedelta(days=40), reference="EGG-20261020-DDDD")
    budel = make_incident(db, created_at=now - timedelta(days=1), reference="EGG-20261202-EEEE", location="BUDEL")
    return {"egg": egg, "hostile": hostile, "neutral": neutral, "old": old, "budel": budel}


async def test_period_export_in_csv_and_json(client: httpx.AsyncClient, auth: TokenFactory, seeded: Session) -> None:
    _cases(seeded)
    supervisor = auth("supervisor", "TERAPEL")
    since = (utcnow() - timedelta(days=7)).date().isoformat()
    rows = _csv_rows(await client.get("/api/v1/ibis/incidents.csv", params={"from": since}, headers=supervisor))
    by_ref = {row["referentie"]: row for row in rows}
    # The period and the location scope: not last month's, not Budel's.
    assert set(by_ref) == {"EGG-20261201-AAAA", "EGG-20261202-BBBB", "VEI-20261203-CCCC"}
    egg = by_ref["EGG-20261201-AAAA"]
    assert egg["ibis_categorie"] == "Geweld - eergerelateerd geweld"
    assert egg["ibis_categorie_status"] == "verifiëren"
    assert (egg["registratie"], egg["acuut"], egg["doorverwezen"]) == ("eergerelateerd_geweld", "ja",
                                                                        "politie;veilig_thuis")
    assert (egg["vervolgacties_open"], egg["vervolgacties_gedaan"], egg["locatie_nu"]) == ("1", "0", "TERAPEL")
    assert by_ref["VEI-20261203-CCCC"]["ibis_categorie"] == "Veiligheid - bewoner, overig"
    # Formula injection: the cells are text, not formulas.
    hostile = by_ref["EGG-20261202-BBBB"]
    assert hostile["uitkomst"] == "'=HYPERLINK(\"http://x\")" and hostile["doorverwezen"] == "'@veilig_thuis"

    listed = await client.get("/api/v1/ibis/incidents.json", params={"from": since}, headers=supervisor)
    assert listed.status_code == 200
    body = listed.json()
    assert body["total"] == 3 and [item["referentie"] for item in body["items"]] == [
        "EGG-20261201-AAAA", "EGG-20261202-BBBB", "VEI-20261203-CCCC"]
    first = body["items"][0]
    assert set(first) == set(COLUMNS)
    assert first["acuut"] is True and first["doorverwezen"] == ["politie", "veilig_thuis"]
    assert first["ibis_categorie_status"] == "verifiëren" and first["vervolgacties_open"] == 1
    # An admin exports every location.
    everything = await client.get("/api/v1/ibis/incidents.json", params={"from": since}, headers=auth("admin"))
    assert {i["referentie"] for i in everything.json()["items"]} >= {"EGG-20261202-EEEE", "EGG-20261201-AAAA"}


async def test_per_incident_export_and_scope(client: httpx.AsyncClient, auth: TokenFactory, seeded: Session) -> None:
    cases = _cases(seeded)
    egg = str(cases["egg"].id)
    (row,) = _csv_rows(await client.get(f"/api/v1/incidents/{egg}/ibis.csv", headers=auth("contact_person",
                                                                                             "TERAPEL")))
    assert row["referentie"] == "EGG-20261201-AAAA"
    single = await client.get(f"/api/v1/incidents/{egg}/ibis.json", headers=auth("supervisor", "TERAPEL"))
    assert single.status_code == 200 and single.json()["items"][0]["referentie"] == "EGG-20261201-AAAA"
    for headers, code in ((auth("supervisor", "BUDEL"), 404), (auth("counsellor", "TERAPEL", sub="stf-own"), 403),
                          (auth("service"), 403)):
        for suffix in ("csv", "json"):
            response = await client.get(f"/api/v1/incidents/{egg}/ibis.{suffix}", headers=headers)
            assert response.status_code == code, (headers, suffix)
    assert (await client.get("/api/v1/ibis/incidents.csv", headers=auth("counsellor", "TERAPEL"))).status_code == 403
    assert (await client.get("/api/v1/incidents/not-a-uuid/ibis.json", headers=auth("admin"))).status_code == 404


async def test_a_period_out_of_bounds_is_a_422(client: httpx.AsyncClient, auth: TokenFactory, seeded: Session) -> None:
    for params, message in (({"from": "9999-12-31"}, "outside 2000-01-01..2100-12-31"),
                            ({"to": "gisteren"}, "is not a date")):
        response = await client.get("/api/v1/ibis/incidents.csv", params=params, headers=auth("admin"))
        assert response.status_code == 422 and message in response.text, response.text

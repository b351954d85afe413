"""The decision record (issue 15 part 6): a PDF whose text, read back with pypdf, holds
the reference, the protocol, the questions and answers, the referrals, the follow-ups
with their status and the review; scoped like the incident; a neutral-category record
prints nothing that names orientation or religion."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import httpx
from pypdf import PdfReader
from sqlalchemy.orm import Session

from .conftest import TokenFactory

Payload = Callable[..., dict[str, Any]]
REVEALING = re.compile(r"lhbt|lgbt|\bcoc\b|roze|homo|lesb|bisek|transg|orient|geloof|bekeer|bekering|religi",
                       re.IGNORECASE)


def pdf_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


async def _record(client: httpx.AsyncClient, auth: TokenFactory, payload: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/v1/incidents", json=payload, headers=auth("service"))
    assert response.status_code == 201, response.text
    return response.json()


async def test_the_pdf_holds_the_decision_its_follow_ups_and_review(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Payload
) -> None:
    incident = await _record(client, auth, incident_payload(conversation_id="record-egg"))
    counsellor = auth("counsellor", "TERAPEL", sub="stf-7c1a")
    called = next(f for f in incident["follow_ups"] if f["action"] == "Veilig Thuis gebeld")
    done = await client.post(f"/api/v1/follow-ups/{called['id']}/events", json={"status": "gedaan"},
                             headers=counsellor)
    assert done.status_code == 201
    supervisor = auth("supervisor", "TERAPEL", sub="sup-record")
    review = await client.post(f"/api/v1/incidents/{incident['id']}/review-events",
                               json={"status": "in_behandeling"}, headers=supervisor)
    assert review.status_code == 201

    response = await client.get(f"/api/v1/incidents/{incident['id']}/record.pdf", headers=supervisor)
    text = pdf_text(response)
    assert f"dossier-{incident['reference']}.pdf" in response.headers["content-disposition"]
    assert incident["reference"] in text
    assert "Eergerelateerd geweld - versie 1.0.0" in text
    # The question as the protocol asks it, and the answer given.
    assert "Is er op dit moment direct gevaar voor de bewoner of voor anderen?" in text
    assert "ja (bron: Handelingsprotocol" in text
    assert "Meld de acute of structurele onveiligheid direct bij Veilig Thuis" in text  # the advice
    assert "Veilig Thuis 0800-2000" in text and "Politie" in text  # the referrals
    # The police's number with its note, as the chat gives it: 112 is for emergencies only.
    assert "Politie 112 (spoed; geen spoed: 0900-8844)" in text
    assert "Veilig Thuis gebeld: Gedaan" in text  # a follow-up and its status
    assert "Risico-inschatting bij de politie gevraagd: Open" in text
    assert "In behandeling - sup-record" in text  # the review history
    assert "Contactpersoon veiligheid" in text  # the key positions of the advice

    # The counsellor who recorded it reads it too; the service role does not; nor does another location.
    assert (await client.get(f"/api/v1/incidents/{incident['id']}/record.pdf", headers=counsellor)).status_code == 200
    for headers, code in ((auth("supervisor", "BUDEL"), 404), (auth("contact_person", "BUDEL"), 404),
                          (auth("counsellor", "TERAPEL", sub="stf-other"), 404), (auth("service"), 403)):
        response = await client.get(f"/api/v1/incidents/{incident['id']}/record.pdf", headers=headers)
        assert response.status_code == code, headers


async def test_a_neutral_category_record_names_nothing_revealing(
    client: httpx.AsyncClient, auth: TokenFactory, seeded: Session, incident_payload: Payload
) -> None:
    payload = incident_payload(conversation_id="record-neutral", location="BUDEL", protocol="algemene_veiligheid",
                               protocol_version="1.1.0", acute=False, referrals=["politie"],
                               steps=[{"step": "acuut_gevaar", "answer": "nee"},
                                      {"step": "toestemming_registratie", "answer": "nee"},
                                      {"step": "wie_dreigt", "answer": "medebewoners"}],
                               outcome="steun_op_locatie")  # fmt: skip
    incident = await _record(client, auth, payload)
    response = await client.get(f"/api/v1/incidents/{incident['id']}/record.pdf",
                                headers=auth("supervisor", "BUDEL"))
    text = pdf_text(response)
    assert incident["reference"] in text and "Veiligheid van een bewoner" in text
    assert "neutrale categorie" in text and "Wie dreigt medebewoners" in text and "Politie" in text
    assert not REVEALING.findall(text), text

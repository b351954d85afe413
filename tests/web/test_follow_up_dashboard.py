"""The dashboard shows the confirmed follow-ups next to the norms (issue 15, part 5);
the referral norms, which count advice only, are labelled "geadviseerd"."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy.orm import Session

from api.follow_ups.models import FollowUpEvent
from api.models_base import utcnow
from tests.api.factories import make_follow_up, make_incident

from .conftest import login


async def test_dashboard_has_confirmed_actions_and_advice_labelled(client: httpx.AsyncClient, seeded: Session) -> None:
    now = utcnow()
    for done_after in (timedelta(hours=2), None):
        incident = make_incident(seeded, created_at=now - timedelta(hours=30), location="TERAPEL")
        follow_up = make_follow_up(seeded, incident, due_at=incident.created_at + timedelta(hours=24))
        if done_after is not None:
            seeded.add(FollowUpEvent(follow_up_id=follow_up.id, seq=1, status="gedaan", actor="stf-own",
                                     created_at=incident.created_at + done_after))  # fmt: skip
    seeded.flush()
    assert (await login(client, "supervisor.terapel", "supervisor-demo")).status_code == 303
    page = await client.get("/dashboard")
    assert page.status_code == 200, page.text
    html = page.text
    row = re.search(r'<table class="data" id="follow-ups-table">.*?</table>', html, re.S)
    assert row, "no follow-ups table on the dashboard"
    table = row.group(0)
    assert 'data-location="TERAPEL"' in table
    assert re.search(r'data-col="veilig_thuis_in_time">50%<span class="cell-sub">1 van 2', table), table
    assert 'data-col="overdue">1<' in table
    per_norm = re.search(r'<table class="data" id="follow-up-norms-table">.*?</table>', html, re.S)
    assert per_norm, "no per-action table on the dashboard"
    assert re.search(r'<tr data-norm="veilig_thuis_binnen_24_uur">\s*<th scope="row">Veilig Thuis gebeld binnen 24 '
                     r'uur</th>\s*<td class="num" data-col="in_time">50%<span class="cell-sub">1 van 2',
                     per_norm.group(0)), per_norm.group(0)
    assert "Veilig Thuis binnen 24 uur (geadviseerd)" in html
    assert "Beoordeeld binnen 5 werkdagen (geadviseerd)" not in html  # a review is done, not advised

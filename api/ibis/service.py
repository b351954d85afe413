"""IBIS rows: one per incident, only coded fields (ids, dates, statuses), no free text.

The IBIS category comes from knowledge/ibis_mapping.yml; while a mapping is marked
``check`` the row says "verifiëren" next to it (IBIS's categories are not public).
An incident filed under the neutral category exports the neutral category's mapping,
so the export names no more than the record does.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import access
from api.audit.service import record_read
from api.auth.schemas import User
from api.follow_ups import service as follow_ups
from api.follow_ups.models import FollowUp
from api.handovers.service import current_places, latest_handovers
from api.incidents.models import Incident
from api.incidents.service import _latest_status
from api.knowledge_ref import get_knowledge
from knowledge.ibis import IbisCategory, load_ibis_mapping

#: The period export's ceiling: more is a narrower period (422), not a timeout.
MAX_ROWS = 10_000
COLUMNS = (
    "referentie", "vastgelegd_op", "locatie", "locatie_nu", "ibis_categorie", "ibis_categorie_status",
    "registratie", "protocolversie", "acuut", "doorverwezen", "uitkomst", "beoordeling",
    "vervolgacties_open", "vervolgacties_gedaan", "vervolgacties_niet_gedaan", "vervolgacties_vervallen",
)  # fmt: skip


@lru_cache(maxsize=1)
def mapping() -> dict[str, IbisCategory]:
    return load_ibis_mapping(get_knowledge())


class TooMany(Exception):
    pass


def _row(incident: Incident, review_status: str | None, place: str, statuses: Counter[str]) -> dict[str, Any]:
    category = mapping()[incident.protocol]
    return {
        "referentie": incident.reference, "vastgelegd_op": incident.created_at, "locatie": incident.location,
        "locatie_nu": place, "ibis_categorie": category.category,
        "ibis_categorie_status": "verifiëren" if category.check else "bevestigd",
        "registratie": incident.protocol, "protocolversie": incident.protocol_version, "acuut": incident.acute,
        "doorverwezen": list(incident.referrals), "uitkomst": incident.outcome,
        "beoordeling": review_status or "nieuw",
        **{f"vervolgacties_{status}": statuses[status] for status in ("open", "gedaan", "niet_gedaan", "vervallen")},
    }  # fmt: skip


def rows(session: Session, user: User, *, incident_id: Any = None, location: str | None = None,
         date_from: datetime | None = None, date_to: datetime | None = None) -> list[dict[str, Any]]:
    """The rows ``user`` may export (read scope of the incident, api/access.py), oldest first."""
    stmt = select(Incident, _latest_status()).where(access.incident_filter(user, Incident, latest_handovers()))
    if incident_id is not None:
        stmt = stmt.where(Incident.id == incident_id)
    if location is not None:
        stmt = stmt.where(Incident.location == location.strip().upper())
    if date_from is not None:
        stmt = stmt.where(Incident.created_at >= date_from)
    if date_to is not None:
        stmt = stmt.where(Incident.created_at < date_to)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if total > MAX_ROWS:
        raise TooMany(f"{total} incidents in this period; the export holds at most {MAX_ROWS}: choose a shorter period")
    found = session.execute(stmt.order_by(Incident.created_at, Incident.id)).all()
    ids = [incident.id for incident, _ in found]
    statuses: dict[Any, Counter[str]] = {}
    if ids:
        for incident_id_, status in session.execute(
            select(FollowUp.incident_id, follow_ups.latest_status()).where(FollowUp.incident_id.in_(ids))
        ):  # fmt: skip
            statuses.setdefault(incident_id_, Counter())[status or "open"] += 1
    places = current_places(session, ids)
    record_read(session, user, "ibis_export", ids)  # audit (issue 6): who exported which incidents
    return [_row(incident, status, places.get(incident.id, (incident.location, None))[0],
                 statuses.get(incident.id, Counter())) for incident, status in found]  # fmt: skip

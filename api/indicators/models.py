"""Indexes the norms and indicators need on tables owned by other packages.

Declared here (and created in migration 0002) so that the incidents package keeps
its own models untouched: an ``Index`` built from mapped columns attaches itself
to their table.
"""

from __future__ import annotations

from sqlalchemy import Index

from api.incidents.models import Incident, IncidentReviewEvent

#: Latest status per incident (ORDER BY id DESC LIMIT 1) and first time a status
#: was reached (MIN(created_at) WHERE status = ...), both by index only.
ix_review_events_incident_id_id = Index(
    "ix_incident_review_events_incident_id_id", IncidentReviewEvent.incident_id, IncidentReviewEvent.id
)
ix_review_events_incident_status_created = Index(
    "ix_incident_review_events_incident_id_status_created_at",
    IncidentReviewEvent.incident_id,
    IncidentReviewEvent.status,
    IncidentReviewEvent.created_at,
)
#: Per-period counts per location and protocol.
ix_incidents_location_protocol_created_at = Index(
    "ix_incidents_location_protocol_created_at", Incident.location, Incident.protocol, Incident.created_at
)

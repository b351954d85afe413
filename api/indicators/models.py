"""The indicators' rollup tables, and the indexes the norms and indicators need on
tables owned by other packages.

The indexes on other packages' tables are declared here (and created in migration
0002) so that the incidents package keeps its own models untouched: an ``Index``
built from mapped columns attaches itself to their table. The rollup tables are
created in migration 0004 and kept by ``api.indicators.rollup``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from api.incidents.models import Incident, IncidentReviewEvent
from api.models_base import Base

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


class IndicatorDay(Base):
    """Rollup: per UTC day of recording, location and protocol, the additive
    indicator counts of its incidents (and the guidance sessions started that day).

    Why a rollup table and not a materialised view: a materialised view is only
    refreshed whole (``REFRESH MATERIALIZED VIEW`` rescans a million incidents), so
    its figures would lag the writes; this table is kept in the write's own
    transaction by ``api.indicators.rollup`` and always equals the direct query.
    A year for all locations is ~7,300 rows instead of ~500,000 incidents."""

    __tablename__ = "indicator_days"

    day: Mapped[int] = mapped_column(Integer, primary_key=True)  # days since 1970-01-01 (UTC)
    location: Mapped[str] = mapped_column(String(64), primary_key=True)
    protocol: Mapped[str] = mapped_column(String(64), primary_key=True)
    incidents: Mapped[int] = mapped_column(Integer, default=0)
    sessions: Mapped[int] = mapped_column(Integer, default=0)
    reviewed: Mapped[int] = mapped_column(Integer, default=0)
    review_hours_sum: Mapped[float] = mapped_column(Float, default=0.0)
    open_corrections: Mapped[int] = mapped_column(Integer, default=0)


class IndicatorNormDay(Base):
    """Rollup per day, location, protocol and norm. ``late`` counts deviations that
    no longer depend on the clock; incidents still waiting (applies - met - late)
    become deviations once "now" passes the day's deadline, decided at read time
    because every incident of one day shares its working-day deadline."""

    __tablename__ = "indicator_norm_days"

    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    location: Mapped[str] = mapped_column(String(64), primary_key=True)
    protocol: Mapped[str] = mapped_column(String(64), primary_key=True)
    norm_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    applies: Mapped[int] = mapped_column(Integer, default=0)
    met: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[int] = mapped_column(Integer, default=0)


#: Upper bounds (hours, exclusive) of the review-time buckets: 2^(1/8) apart from
#: 15 minutes to beyond a year, so a bucket holds a few per cent of the values.
REVIEW_BUCKET_BOUNDS: tuple[float, ...] = tuple(0.25 * 2 ** (k / 8) for k in range(125))


class IndicatorReviewTime(Base):
    """Hours from recording to the first 'afgehandeld', one row per reviewed incident.
    A median is not additive: ``rollup_read.medians`` finds the bucket of the middle
    rank from ``IndicatorReviewHistogram`` and reads only that bucket's rows here."""

    __tablename__ = "indicator_review_times"
    __table_args__ = (
        # Covering: the partial first/last day of a period, by index only.
        Index("ix_indicator_review_times_created_at", "created_at", postgresql_include=["location", "bucket", "hours"]),
        # Covering: the rows of one bucket of one location in a period, by index only.
        Index("ix_indicator_review_times_location_bucket_created_at", "location", "bucket", "created_at",
              postgresql_include=["hours"]),
    )  # fmt: skip

    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    location: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column()
    day: Mapped[int] = mapped_column(Integer)
    #: Index into REVIEW_BUCKET_BOUNDS (computed by the database from ``hours``, so
    #: bucket order is hours order on every path).
    bucket: Mapped[int] = mapped_column(Integer)
    hours: Mapped[float] = mapped_column(Float)


class IndicatorReviewHistogram(Base):
    """How many review times fall in each bucket, per day and location."""

    __tablename__ = "indicator_review_histogram"

    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    location: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    reviews: Mapped[int] = mapped_column(Integer, default=0)


class IndicatorRollupState(Base):
    """One row: the fingerprint of the norms the rollup was built with. Another
    fingerprint (knowledge/norms.yml changed) means: read directly until rebuilt."""

    __tablename__ = "indicator_rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    norms_fingerprint: Mapped[str] = mapped_column(String(64))

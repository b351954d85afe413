"""Indicator payloads."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from api.models_base import as_utc


class NormInfo(BaseModel):
    id: str
    title: str
    description: str


class CountBlock(BaseModel):
    total: int
    per_protocol: dict[str, int]


class NormCounts(BaseModel):
    applicable: int = Field(description="incidents the norm applies to")
    met: int
    deviations: int
    pending: int = Field(description="applicable, not yet met and not yet late (a review not yet due)")
    share_met: float | None = Field(description="met / (met + deviations); null when nothing is decided yet")


class ReviewBlock(BaseModel):
    reviewed: int = Field(description="incidents that reached 'afgehandeld'")
    median_hours: float | None = Field(description="median hours from recording to 'afgehandeld'")
    avg_hours: float | None


class IndicatorRow(BaseModel):
    period: str | None = Field(description="first day of the week/month (YYYY-MM-DD); null in totals")
    location: str
    sessions: CountBlock
    incidents: CountBlock
    norms: dict[str, NormCounts]
    review: ReviewBlock
    open_corrections: int = Field(description="incidents of the period whose latest status is correctie_gevraagd")


class Indicators(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    date_from: datetime = Field(serialization_alias="from")
    date_to: datetime = Field(serialization_alias="to")
    granularity: str
    norms: list[NormInfo]
    rows: list[IndicatorRow]
    totals: list[IndicatorRow] = Field(description="per location over the whole period")

    @field_serializer("date_from", "date_to")
    def _utc(self, value: datetime) -> str:
        return as_utc(value).isoformat()

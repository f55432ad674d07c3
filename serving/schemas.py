"""Request bodies of the service, validated item by item so one bad event names its field and the others in
its batch are kept (the clickstream contract of ``expectations/clickstream_events.json``)."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from models.pricing.synth import EVENT_TYPES

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]


class Event(BaseModel):
    """One clickstream event, as ``pricing_models`` ingests it."""

    model_config = ConfigDict(extra="forbid", strict=False)
    sessionId: str = Field(min_length=1, max_length=200)
    userId: str = Field(max_length=200)
    experimentId: str = Field(max_length=200)
    eventType: EventType
    productId: int = Field(ge=-1)
    category: str | None = None
    price: float | None = Field(default=None, ge=0)
    timestamp: int = Field(ge=946_684_800_000, le=4_102_444_800_000)  # 2000-01-01 .. 2100-01-01, in ms
    userAgent: str = Field(max_length=2000)
    referrer: str | None = None
    pageDepth: int = Field(ge=0)
    scrollDepth: float = Field(ge=0, le=1)

    @field_validator("price", "scrollDepth")
    @classmethod
    def finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v


class EventBatch(BaseModel):
    events: list[dict[str, Any]] = Field(max_length=10_000)


class Click(BaseModel):
    impression_id: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class CtrRows(BaseModel):
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)


def validate_events(raw: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(valid events as dicts, rejections as {index, field, error}) for one batch."""
    good, bad = [], []
    for i, item in enumerate(raw):
        try:
            good.append(Event.model_validate(item).model_dump())
        except ValidationError as exc:
            first = exc.errors()[0]
            bad.append({"index": i, "field": ".".join(str(p) for p in first["loc"]) or "(event)",
                        "error": first["msg"]})
    return good, bad

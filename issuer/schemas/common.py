"""Shared API schema pieces: pages, problem documents (for OpenAPI), health."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from issuer.text import check_text


class ApiModel(BaseModel):
    """Base of request bodies: unknown fields are refused, and so are control characters in
    any string field (issuer/text.py)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        return check_text(value)


class HealthOut(BaseModel):
    """Health answer."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: str


class JobOut(BaseModel):
    """A periodic job of the job runner: when it last succeeded; stale after several periods
    without success (reported only, never a reason to be unready)."""

    job: str
    last_success: datetime | None
    stale: bool


class ReadyOut(BaseModel):
    """Readiness answer: ready, and how the periodic jobs stand."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ready",
                    "jobs": [
                        {
                            "job": "plate_indexes",
                            "last_success": "2026-05-04T10:15:00Z",
                            "stale": False,
                        }
                    ],
                }
            ]
        }
    )

    status: str
    jobs: list[JobOut]


class ProblemOut(BaseModel):
    """RFC 9457 problem details with the stable `code`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:buergerid:problem:not_found",
                    "title": "Not found",
                    "status": 404,
                    "code": "not_found",
                    "instance": "/api/v1/residents/0b5f…",
                }
            ]
        }
    )

    type: str
    title: str
    status: int
    code: str
    instance: str
    detail: str | None = None
    errors: list[dict[str, Any]] | None = None


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ProblemOut, "description": "missing or invalid credential"},
    403: {"model": ProblemOut, "description": "insufficient scope"},
    404: {"model": ProblemOut, "description": "not found for this tenant"},
    422: {"model": ProblemOut, "description": "invalid request"},
}

LimitQuery = Field(default=50, ge=1, le=500)

"""Errors of the issuer: one family, every instance carries a stable code and an HTTP status.

    IssuerError                 a request was refused (never raised for our own bugs)
    ├── InvalidRequest          400/422 malformed or semantically invalid input
    ├── Unauthenticated         401 missing, unknown, wrong, expired or revoked credential
    ├── Forbidden               403 authenticated, but the scope or role does not allow it
    ├── NotFound                404 no such object *for this tenant* (never says whether it exists)
    ├── Conflict                409 state conflict (duplicate, idempotency key in flight,
    │                               a permit change its state does not allow, a stale version)
    ├── Refused                 422 an application failed rules; `errors` lists every rule code
    ├── PayloadTooLarge         413 body or import beyond the configured bound
    ├── TooManyRequests         429 a rate limit is reached (`Retry-After` says until when)
    ├── UnsupportedMediaType    415 a body in a format we do not read
    └── Unavailable             503 a dependency (database, keys) is not ready
        └── NoSigningKey        503 no key to sign with (missing ring, no active key, no x5c)

Each class answers with its default code or one of the codes listed with it in `ErrorCode`:
the permit services, for example, raise `Conflict(ErrorCode.ILLEGAL_TRANSITION)` and
`InvalidRequest(ErrorCode.PAYMENT_MISMATCH)`.

`ErrorCode` values are the contract: clients switch on `code`, never on `title` or `detail`.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    """Stable problem codes (the `code` member of every problem+json body)."""

    INVALID_REQUEST = "invalid_request"
    INVALID_FIELD = "invalid_field"
    INVALID_HEADER = "invalid_header"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    UNAUTHENTICATED = "unauthenticated"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    TENANT_REQUIRED = "tenant_required"
    OPERATOR_REQUIRED = "operator_required"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    ALREADY_EXISTS = "already_exists"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_IN_PROGRESS = "idempotency_in_progress"
    IDEMPOTENCY_RECORD_UNREADABLE = "idempotency_record_unreadable"
    APPLICATION_REFUSED = "application_refused"
    REQUEST_TOO_LARGE = "request_too_large"
    IMPORT_TOO_LARGE = "import_too_large"
    INVALID_PLATE = "invalid_plate"
    INVALID_ENROLMENT = "invalid_enrolment"
    INVALID_CLIENT = "invalid_client"
    UNAVAILABLE = "unavailable"
    INTERNAL_ERROR = "internal_error"
    TOO_MANY_AUTHENTICATION_FAILURES = "too_many_authentication_failures"
    AUTHENTICATION_BUSY = "authentication_busy"
    NOT_READY = "not_ready"
    KEY_RING_EXISTS = "key_ring_exists"
    KEY_RING_UNUSABLE = "key_ring_unusable"
    # permits and fees
    PERMIT_NOT_FOUND = "permit_not_found"  # 404
    ILLEGAL_TRANSITION = "illegal_transition"  # 409: e.g. resume an active permit
    STALE_VERSION = "stale_version"  # 409: `expected_version` differs
    RULES_INVALID = "rules_invalid"  # 422
    INVALID_WINDOWS = "invalid_windows"  # 422
    FEE_SCHEDULE_INVALID = "fee_schedule_invalid"  # 422
    FEE_NOT_APPLICABLE = "fee_not_applicable"  # 422: the schedule needs length/width etc.
    PAYMENT_MISMATCH = "payment_mismatch"  # 422: amount differs from the recorded fee
    EXTENSION_TOO_LONG = "extension_too_long"  # 422: beyond now + the type's max validity
    VALIDITY_BEYOND_KEY = "validity_beyond_key"  # 422: a token would outlive its signing key
    NO_SIGNING_KEY = "no_signing_key"  # 503
    PLATE_INDEX_NOT_BUILT = "plate_index_not_built"


TITLES: dict[ErrorCode, str] = {
    ErrorCode.INVALID_REQUEST: "The request is not valid",
    ErrorCode.INVALID_FIELD: "A value contains a control character",
    ErrorCode.INVALID_HEADER: "The CSV header is not valid",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "Unsupported media type",
    ErrorCode.UNAUTHENTICATED: "Authentication required",
    ErrorCode.INSUFFICIENT_SCOPE: "The credential lacks the required scope",
    ErrorCode.TENANT_REQUIRED: "A tenant credential is required",
    ErrorCode.OPERATOR_REQUIRED: "An operator credential is required",
    ErrorCode.NOT_FOUND: "Not found",
    ErrorCode.METHOD_NOT_ALLOWED: "Method not allowed",
    ErrorCode.CONFLICT: "Conflict",
    ErrorCode.ALREADY_EXISTS: "The object already exists",
    ErrorCode.IDEMPOTENCY_KEY_REUSED: "Idempotency-Key reused with a different request",
    ErrorCode.IDEMPOTENCY_IN_PROGRESS: "A request with this Idempotency-Key is in progress",
    ErrorCode.IDEMPOTENCY_RECORD_UNREADABLE: "Stored answer to this Idempotency-Key unreadable",
    ErrorCode.APPLICATION_REFUSED: "The application was refused",
    ErrorCode.REQUEST_TOO_LARGE: "Request body too large",
    ErrorCode.IMPORT_TOO_LARGE: "Import too large",
    ErrorCode.INVALID_PLATE: "The licence plate is not valid",
    ErrorCode.INVALID_ENROLMENT: "Enrolment code unknown, used or expired, or request invalid",
    ErrorCode.INVALID_CLIENT: "Client authentication failed",
    ErrorCode.UNAVAILABLE: "Service unavailable",
    ErrorCode.INTERNAL_ERROR: "Internal server error",
    ErrorCode.TOO_MANY_AUTHENTICATION_FAILURES: "Too many failed authentications; retry later",
    ErrorCode.AUTHENTICATION_BUSY: "Too many authentications in progress; retry later",
    ErrorCode.NOT_READY: "Not ready",
    ErrorCode.KEY_RING_EXISTS: "A key ring for this AGS exists without a tenant",
    ErrorCode.KEY_RING_UNUSABLE: "The key ring cannot serve this tenant",
    ErrorCode.PERMIT_NOT_FOUND: "Permit not found",
    ErrorCode.ILLEGAL_TRANSITION: "The permit's state does not allow this change",
    ErrorCode.STALE_VERSION: "The permit changed since the expected version",
    ErrorCode.RULES_INVALID: "The rule set is not valid",
    ErrorCode.INVALID_WINDOWS: "The time windows are not valid",
    ErrorCode.FEE_SCHEDULE_INVALID: "The fee schedule is not valid",
    ErrorCode.FEE_NOT_APPLICABLE: "The fee schedule cannot price this permit",
    ErrorCode.PAYMENT_MISMATCH: "The amount differs from the recorded fee",
    ErrorCode.EXTENSION_TOO_LONG: "The extension is longer than the permit type allows",
    ErrorCode.VALIDITY_BEYOND_KEY: "The validity ends after the signing key",
    ErrorCode.NO_SIGNING_KEY: "No signing key available",
    ErrorCode.PLATE_INDEX_NOT_BUILT: "No plate index built yet; the job runner builds it",
}

PROBLEM_TYPE_PREFIX = "urn:buergerid:problem:"


def problem_type(code: ErrorCode) -> str:
    """The RFC 9457 `type` URI of a code."""
    return PROBLEM_TYPE_PREFIX + code.value


class IssuerError(Exception):
    """A refused request; `code` is stable, `detail` must never carry personal data."""

    status: ClassVar[int] = 400
    default_code: ClassVar[ErrorCode] = ErrorCode.INVALID_REQUEST

    def __init__(
        self,
        code: ErrorCode | None = None,
        detail: str = "",
        *,
        errors: Sequence[dict[str, Any]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code or self.default_code
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers or {}
        super().__init__(f"{self.code}: {detail}" if detail else str(self.code))

    @property
    def title(self) -> str:
        """Short human summary of the code."""
        return TITLES.get(self.code, self.code.value)

    @property
    def type_uri(self) -> str:
        """RFC 9457 `type` member."""
        return problem_type(self.code)


class InvalidRequest(IssuerError):
    """Malformed or semantically invalid input."""

    status = 422
    default_code = ErrorCode.INVALID_REQUEST


class Unauthenticated(IssuerError):
    """Missing, unknown, wrong, expired or revoked credential (one answer for all)."""

    status = 401
    default_code = ErrorCode.UNAUTHENTICATED

    def __init__(self, code: ErrorCode | None = None, detail: str = "") -> None:
        super().__init__(code, detail, headers={"WWW-Authenticate": 'Bearer realm="buergerid"'})


class Forbidden(IssuerError):
    """Authenticated, but not allowed."""

    status = 403
    default_code = ErrorCode.INSUFFICIENT_SCOPE


class NotFound(IssuerError):
    """No such object for this tenant; the same answer whether it exists elsewhere or not."""

    status = 404
    default_code = ErrorCode.NOT_FOUND


class Conflict(IssuerError):
    """The request conflicts with the current state."""

    status = 409
    default_code = ErrorCode.CONFLICT


class Refused(IssuerError):
    """An application failed one or more rules; `errors` lists each by code."""

    status = 422
    default_code = ErrorCode.APPLICATION_REFUSED


class PayloadTooLarge(IssuerError):
    """A body or import beyond the configured bound."""

    status = 413
    default_code = ErrorCode.REQUEST_TOO_LARGE


class TooManyRequests(IssuerError):
    """A rate limit is reached; `Retry-After` says how many seconds to wait."""

    status = 429
    default_code = ErrorCode.TOO_MANY_AUTHENTICATION_FAILURES

    def __init__(self, code: ErrorCode | None = None, *, retry_after_seconds: int) -> None:
        super().__init__(code, headers={"Retry-After": str(max(1, retry_after_seconds))})


class UnsupportedMediaType(IssuerError):
    """A body in a format we do not read."""

    status = 415
    default_code = ErrorCode.UNSUPPORTED_MEDIA_TYPE


class Unavailable(IssuerError):
    """The database or the keys are not ready."""

    status = 503
    default_code = ErrorCode.UNAVAILABLE


class NoSigningKey(Unavailable):
    """No key signs this now: the ring is missing or unreadable, no key is active for the
    purpose, or a required certificate chain cannot be had."""

    default_code = ErrorCode.NO_SIGNING_KEY

"""Pure ASGI middleware, one concern per module.

Order (outermost first): RequestIdMiddleware → BodyLimitMiddleware → IdempotencyMiddleware → app.

    request_id    X-Request-ID and the access log
    body_limit    the request body size limit
    idempotency   Idempotency-Key: spooling, hashing, the claim in the database, sealed answers
    common        the problem answer over ASGI, route templates, the logger
"""

from __future__ import annotations

from issuer.middleware.body_limit import IMPORT_PATH_PREFIX, BodyLimitMiddleware, RequestTooLarge
from issuer.middleware.common import route_template
from issuer.middleware.idempotency import (
    IDEMPOTENCY_SCOPE_KEY,
    IdempotencyContext,
    IdempotencyMiddleware,
    IdempotentReplay,
    claim_idempotency_key,
    hash_idempotency_key,
    idempotency_secret,
    install_idempotency_handler,
    open_answer,
    purge_idempotency_records,
    seal_answer,
)
from issuer.middleware.request_id import REQUEST_ID_HEADER, RequestIdMiddleware

__all__ = [
    "IDEMPOTENCY_SCOPE_KEY",
    "IMPORT_PATH_PREFIX",
    "REQUEST_ID_HEADER",
    "BodyLimitMiddleware",
    "IdempotencyContext",
    "IdempotencyMiddleware",
    "IdempotentReplay",
    "RequestIdMiddleware",
    "RequestTooLarge",
    "claim_idempotency_key",
    "hash_idempotency_key",
    "idempotency_secret",
    "install_idempotency_handler",
    "open_answer",
    "purge_idempotency_records",
    "route_template",
    "seal_answer",
]

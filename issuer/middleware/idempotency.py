"""Idempotency-Key replay.

Idempotency (draft-ietf-httpapi-idempotency-key-header): for a POST with `Idempotency-Key`
the body is spooled (bounded by the body limit, memory-capped, then disk) and hashed; the
authentication dependency (`deps.py`) then *claims* (client, key) with a unique constraint
in its own committed transaction, so a concurrent duplicate finds the claim, waits for the
first answer (`idempotency_wait_seconds`) and gets it, or 409 `idempotency_in_progress` if the
first is still running then; a retry after completion gets the stored first answer; the same
key with another body gets 422 `idempotency_key_reused`. The claim is made only after the
credential verified, so nobody can poison another client's keys.

Secrets at rest: answers can hold live secrets (an offer's pre-authorized code and tx_code), so
a record keeps only HMAC-SHA256(server secret, key), the request hash keyed the same way (the
bodies hold personal data), and the answer sealed with AES-256-GCM under
a key derived (HKDF-SHA256) from the server secret *and* the raw Idempotency-Key, with the
record's id, client, key hash, status and content type as associated data. A database dump
alone, or the server secret with a guessed key, opens nothing. A record that does not open
(tampered, or the server secret changed) fails closed: 409 `idempotency_record_unreadable`,
never a second execution.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from issuer.db.models import IdempotencyRecord
from issuer.errors import Conflict, ErrorCode, InvalidRequest
from issuer.middleware.common import _send_problem, log
from issuer.settings import resolve_server_secret

_IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
IDEMPOTENCY_SCOPE_KEY = "buergerid.idempotency"
# a claim whose request never finished (crashed worker) may be taken over after this
STALE_CLAIM = timedelta(minutes=2)
_MAX_STORED_RESPONSE_BYTES = 1024 * 1024
_SPOOL_MEMORY_BYTES = 1024 * 1024
_SEAL_VERSION = b"\x01"
_SEAL_NONCE_BYTES = 12
_KEY_HASH_LABEL = b"buergerid/idempotency-key-hash/v1\0"
_REQUEST_HASH_LABEL = b"buergerid/idempotency-request-hash/v1\0"
_HKDF_SALT = b"buergerid/idempotency-answer/v1"


def idempotency_secret(app: Any) -> bytes:
    """The app's server secret (resolved once, then kept on `app.state`)."""
    state = app.state
    secret: bytes | None = getattr(state, "idempotency_secret", None)
    if secret is None:
        secret = resolve_server_secret(state.settings)
        state.idempotency_secret = secret
    return secret


def hash_idempotency_key(secret: bytes, key: str) -> str:
    """HMAC-SHA256 of an Idempotency-Key under the server secret, hex (what a record keeps)."""
    return hmac.new(secret, _KEY_HASH_LABEL + key.encode(), hashlib.sha256).hexdigest()


@dataclass(slots=True)
class IdempotencyContext:
    """What the middleware learnt about a POST with an Idempotency-Key (in the ASGI scope).

    `key` and `secret` live only in memory: they hash the key and seal the stored answer.
    """

    key: str = field(repr=False)
    request_hash: str
    secret: bytes = field(repr=False)
    record_id: int | None = None  # set by the claim in deps.py
    client_id: uuid.UUID | None = None  # set by the claim
    key_hash: str = field(init=False)

    def __post_init__(self) -> None:
        self.key_hash = hash_idempotency_key(self.secret, self.key)


class UnreadableRecord(Exception):
    """A stored answer did not open (tampered, or another server secret)."""


def _answer_aad(
    record_id: int, client_id: uuid.UUID, key_hash: str, status: int, content_type: str | None
) -> bytes:
    parts = (str(record_id), str(client_id), key_hash, str(status), content_type or "")
    return _SEAL_VERSION + b"\0".join(p.encode("utf-8") for p in parts)


def _answer_key(ctx: IdempotencyContext, client_id: uuid.UUID) -> AESGCM:
    """AES-256-GCM under HKDF-SHA256(ikm = server secret, info = client + raw key)."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=_HKDF_SALT,
        info=client_id.bytes + b"\0" + ctx.key.encode(),
    )
    return AESGCM(hkdf.derive(ctx.secret))


def seal_answer(
    ctx: IdempotencyContext,
    *,
    record_id: int,
    client_id: uuid.UUID,
    status: int,
    content_type: str | None,
    body: bytes,
) -> bytes:
    """version (1) || nonce (12) || AES-256-GCM(body) with the record's fields as AAD."""
    nonce = os.urandom(_SEAL_NONCE_BYTES)
    aad = _answer_aad(record_id, client_id, ctx.key_hash, status, content_type)
    return _SEAL_VERSION + nonce + _answer_key(ctx, client_id).encrypt(nonce, body, aad)


def open_answer(
    ctx: IdempotencyContext,
    *,
    record_id: int,
    client_id: uuid.UUID,
    status: int,
    content_type: str | None,
    sealed: bytes,
) -> bytes:
    """The stored answer's body, or `UnreadableRecord`."""
    head = len(_SEAL_VERSION) + _SEAL_NONCE_BYTES
    if len(sealed) < head + 16 or not sealed.startswith(_SEAL_VERSION):
        raise UnreadableRecord()
    aad = _answer_aad(record_id, client_id, ctx.key_hash, status, content_type)
    try:
        return _answer_key(ctx, client_id).decrypt(sealed[1:head], sealed[head:], aad)
    except InvalidTag as exc:
        raise UnreadableRecord() from exc


class IdempotentReplay(Exception):
    """Raised by the claim when a completed first answer exists; rendered as that answer."""

    def __init__(self, status_code: int, content_type: str | None, body: bytes) -> None:
        super().__init__("idempotent replay")
        self.status_code = status_code
        self.content_type = content_type
        self.body = body


def install_idempotency_handler(app: FastAPI) -> None:
    """Render `IdempotentReplay` as the stored response."""

    @app.exception_handler(IdempotentReplay)
    async def _replay(_request: Request, exc: IdempotentReplay) -> Response:
        return Response(
            exc.body,
            status_code=exc.status_code,
            media_type=exc.content_type,
            headers={"Idempotent-Replayed": "true"},
        )


def _try_insert_claim(
    factory: sessionmaker[Session],
    ctx: IdempotencyContext,
    client_id: uuid.UUID,
    tenant_id: int | None,
    now: Any,
) -> bool:
    try:
        with factory() as session, session.begin():
            record = IdempotencyRecord(
                tenant_id=tenant_id,
                client_id=client_id,
                key_hash=ctx.key_hash,
                request_hash=ctx.request_hash,
                created_at=now,
            )
            session.add(record)
            session.flush()
            ctx.record_id = record.id
            ctx.client_id = client_id
        return True
    except IntegrityError:
        return False


def _inspect_claim(
    factory: sessionmaker[Session], ctx: IdempotencyContext, client_id: uuid.UUID, now: Any
) -> bool:
    """Raise for a reused key or a stored answer; True if the claim was taken over (stale),
    False while the first request is still running (or the claim vanished)."""
    with factory() as session, session.begin():
        existing = session.scalars(
            select(IdempotencyRecord).where(
                IdempotencyRecord.client_id == client_id,
                IdempotencyRecord.key_hash == ctx.key_hash,
            )
        ).first()
        if existing is None:  # released by a failed first request: claim again
            return False
        if existing.request_hash != ctx.request_hash:
            raise InvalidRequest(ErrorCode.IDEMPOTENCY_KEY_REUSED)
        if existing.status_code is not None:
            try:
                body = open_answer(
                    ctx,
                    record_id=existing.id,
                    client_id=client_id,
                    status=existing.status_code,
                    content_type=existing.content_type,
                    sealed=existing.response_body or b"",
                )
            except UnreadableRecord:
                # fail closed: never run the request a second time
                log.warning("idempotency_record_unreadable", extra={"record": existing.id})
                raise Conflict(ErrorCode.IDEMPOTENCY_RECORD_UNREADABLE) from None
            raise IdempotentReplay(existing.status_code, existing.content_type, body)
        if existing.created_at > now - STALE_CLAIM:
            return False
        # the first request died without an answer: take the claim over
        taken = session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.id == existing.id,
                IdempotencyRecord.created_at == existing.created_at,
                IdempotencyRecord.status_code.is_(None),
            )
            .values(created_at=now)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return False
        ctx.record_id = existing.id
        ctx.client_id = client_id
        return True


def claim_idempotency_key(
    factory: sessionmaker[Session],
    ctx: IdempotencyContext,
    *,
    client_id: uuid.UUID,
    tenant_id: int | None,
    now: Any,
    wait_seconds: float = 0.0,
) -> None:
    """Claim (client, key), or raise: the stored answer (replay), a reused key (422), or,
    if the first request is still running after `wait_seconds`, 409 in progress.

    Runs in a worker thread (sync dependency): waiting polls the claim every 50 ms.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        if _try_insert_claim(factory, ctx, client_id, tenant_id, now):
            return
        if _inspect_claim(factory, ctx, client_id, now):
            return
        if time.monotonic() >= deadline:
            raise Conflict(ErrorCode.IDEMPOTENCY_IN_PROGRESS, headers={"Retry-After": "1"})
        time.sleep(0.05)


def purge_idempotency_records(session: Session, *, before: datetime) -> int:
    """Delete stored answers created before `before` (a retention job calls this, e.g. daily
    with now - 24 h); returns the number of rows removed."""
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _finish_claim(
    factory: sessionmaker[Session],
    ctx: IdempotencyContext,
    status: int,
    content_type: str | None,
    body: bytes | None,
) -> None:
    """Store the sealed answer, or (`body` None) release the claim."""
    record_id = ctx.record_id
    assert record_id is not None
    with factory() as session, session.begin():
        if body is None or ctx.client_id is None:
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
        else:
            sealed = seal_answer(
                ctx,
                record_id=record_id,
                client_id=ctx.client_id,
                status=status,
                content_type=content_type,
                body=body,
            )
            session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.id == record_id)
                .values(status_code=status, content_type=content_type, response_body=sealed)
            )


class IdempotencyMiddleware:
    """Spools and hashes POST bodies with an Idempotency-Key; stores the first answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key = None
        for name, value in scope["headers"]:
            if name == b"idempotency-key":
                key = value.decode("latin-1")
        if key is None:
            await self.app(scope, receive, send)
            return
        if not _IDEMPOTENCY_KEY_RE.match(key):
            await _send_problem(send, 400, ErrorCode.INVALID_REQUEST, scope["path"])
            return

        secret = idempotency_secret(scope["app"])
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY_BYTES)
        try:
            # keyed, so a stored hash cannot confirm a guessed body (bodies hold personal data)
            digest = hmac.new(secret, _REQUEST_HASH_LABEL, hashlib.sha256)
            digest.update(scope["method"].encode() + b"\0" + scope["path"].encode() + b"\0")
            digest.update(scope.get("query_string", b"") + b"\0")
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                digest.update(chunk)
                spool.write(chunk)
                if not message.get("more_body", False):
                    break
            spool.seek(0)
            ctx = IdempotencyContext(key=key, request_hash=digest.hexdigest(), secret=secret)
            scope[IDEMPOTENCY_SCOPE_KEY] = ctx
            await self._run(scope, receive, send, spool, ctx)
        finally:
            spool.close()

    async def _run(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        spool: Any,
        ctx: IdempotencyContext,
    ) -> None:
        replay_done = False
        total = _spool_size(spool)

        async def replay_receive() -> Message:
            nonlocal replay_done
            if replay_done:
                return await receive()
            chunk = spool.read(64 * 1024)
            more = bool(chunk) and spool.tell() < total
            if not more:
                replay_done = True
            return {"type": "http.request", "body": chunk, "more_body": more}

        start: Message | None = None
        chunks: list[bytes] = []
        size = 0

        async def buffering_send(message: Message) -> None:
            nonlocal start, size
            if ctx.record_id is None:
                await send(message)
                return
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if message.get("more_body", False):
                    return
                assert start is not None
                await self._store(scope, ctx, start, b"".join(chunks) if size else b"")
                await send(start)
                await send({"type": "http.response.body", "body": b"".join(chunks)})
                return
            await send(message)

        try:
            await self.app(scope, replay_receive, buffering_send)
        except BaseException:
            if ctx.record_id is not None and start is None:
                await self._release(scope, ctx)
            raise

    async def _store(
        self, scope: Scope, ctx: IdempotencyContext, start: Message, body: bytes
    ) -> None:
        assert ctx.record_id is not None
        status = int(start["status"])
        content_type = None
        for name, value in start.get("headers", []):
            if name == b"content-type":
                content_type = value.decode("latin-1")
        keep = status < 500 and len(body) <= _MAX_STORED_RESPONSE_BYTES
        factory = scope["app"].state.session_factory
        try:
            await anyio.to_thread.run_sync(
                _finish_claim, factory, ctx, status, content_type, body if keep else None
            )
        except Exception as exc:  # the answer still goes out; a retry then re-runs
            log.error("idempotency_store_failed", extra={"exc_type": type(exc).__name__})

    async def _release(self, scope: Scope, ctx: IdempotencyContext) -> None:
        assert ctx.record_id is not None
        factory = scope["app"].state.session_factory
        try:
            await anyio.to_thread.run_sync(_finish_claim, factory, ctx, 0, None, None)
        except Exception as exc:
            log.error("idempotency_release_failed", extra={"exc_type": type(exc).__name__})


def _spool_size(spool: Any) -> int:
    pos = spool.tell()
    spool.seek(0, 2)
    end = spool.tell()
    spool.seek(pos)
    return int(end)

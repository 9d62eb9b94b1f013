"""The trust-bundle builder (docs/formats.md, "Trust bundle"): every tenant's keys and
status lists, signed by the root.

`build_trust_bundle` takes the issuers (their rings or explicit key lists, and their current
Status List Tokens), the bundle's times and the root signer (or the root ring, which then
also supplies `anchors_next`: its pending keys), and returns the COSE_Sign1 bytes a handheld
syncs. It refuses (`BuildError`, code `bad_input`) what a handheld would refuse or could not
use: a repeated issuer, empty name or url, times out of order, a status list token that no
published key of its issuer verifies, a payload the verifier's decoder would reject.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from keys.errors import BuildError, KeysCode
from keys.lifecycle import Purpose
from keys.ring import KeyRing
from keys.signer import Signer, sign_cose
from verifier import VerifierError
from verifier.formats import (
    TYP_TRUST_BUNDLE,
    BundleKey,
    IssuerEntry,
    PublicKey,
    TrustBundle,
    decode_status_list_cwt,
    encode_bundle_payload,
    thumbprint,
    verify_sign1,
)


@dataclass(frozen=True, slots=True)
class IssuerSource:
    """One tenant for the bundle: its ring (or key list) and its Status List Tokens (CWT)."""

    issuer_id: str
    name: str
    url: str
    keys: KeyRing | Sequence[BundleKey]
    status_tokens: Mapping[int, bytes] = field(default_factory=dict)


IssuerInput = (
    IssuerSource | tuple[str, str, str, KeyRing | Sequence[BundleKey], Mapping[int, bytes]]
)


def issuer_from_ring(ring: KeyRing, status_tokens: Mapping[int, bytes]) -> IssuerSource:
    """An `IssuerSource` whose id, name and url come from the ring's metadata."""
    return IssuerSource(ring.issuer_id, ring.name, ring.url, ring, dict(status_tokens))


def _source(item: IssuerInput) -> IssuerSource:
    if isinstance(item, IssuerSource):
        return item
    issuer_id, name, url, keys, status = item
    return IssuerSource(issuer_id, name, url, keys, status)


def _bundle_keys(keys: KeyRing | Sequence[BundleKey], now: int) -> tuple[BundleKey, ...]:
    if isinstance(keys, KeyRing):
        return tuple(keys.bundle_keys(now))
    return tuple(keys)


def _check_status_token(
    issuer_id: str, number: int, token: bytes, keys: Sequence[BundleKey]
) -> None:
    """The token must verify with a published key of its issuer whose window covers its iat,
    as a handheld checks it (docs/verifier.md, "The checks, step by step", step 9)."""
    where = f"{issuer_id}: status list {number!r}"
    if type(number) is not int or number < 0 or not isinstance(token, bytes):
        raise BuildError(KeysCode.BAD_INPUT, where)
    try:
        msg, claims = decode_status_list_cwt(token)
    except VerifierError as exc:
        raise BuildError(KeysCode.BAD_INPUT, f"{where} is malformed") from exc
    for key in keys:
        if key.kid[:8] != msg.kid or key.alg != msg.alg:
            continue
        if not key.nbf <= claims.iat < key.sign_until:
            continue
        try:
            verify_sign1(msg, key.key)
        except VerifierError:
            continue
        return
    raise BuildError(KeysCode.BAD_INPUT, f"{where} is not signed by a published key")


def build_trust_bundle(
    *,
    issuers: Sequence[IssuerInput],
    seq: int,
    now: int,
    fresh_seconds: int,
    valid_seconds: int,
    root: Signer | KeyRing,
    anchors_next: Sequence[PublicKey] = (),
) -> bytes:
    """Build and sign a trust bundle: COSE_Sign1 with content type TYP_TRUST_BUNDLE.

    `iat` = now, `fresh_until` = now + fresh_seconds, `exp` = now + valid_seconds. With a
    root `KeyRing`, the bundle is signed by its active `bundle` key and `anchors_next` also
    lists its pending keys (root rotation); with a `Signer`, only the `anchors_next` given.
    """
    if type(seq) is not int or seq < 0:
        raise BuildError(KeysCode.BAD_INPUT, "seq is an unsigned integer")
    if not 0 < fresh_seconds <= valid_seconds:
        raise BuildError(KeysCode.BAD_INPUT, "need 0 < fresh_seconds <= valid_seconds")
    if isinstance(root, KeyRing):
        signer = root.signer_for(now, Purpose.BUNDLE)
        announced = [*root.anchor_keys(now), *anchors_next]
    else:
        signer = root
        announced = list(anchors_next)
    unique: dict[bytes, PublicKey] = {}
    for key in announced:
        unique.setdefault(thumbprint(key), key)
    unique.pop(signer.thumbprint, None)  # the signing anchor is already pinned

    entries: dict[str, IssuerEntry] = {}
    for item in issuers:
        source = _source(item)
        if source.issuer_id in entries:
            raise BuildError(KeysCode.BAD_INPUT, f"issuer {source.issuer_id} given twice")
        if not source.issuer_id or not source.name or not source.url:
            raise BuildError(KeysCode.BAD_INPUT, f"issuer {source.issuer_id!r}: id, name and url")
        keys = _bundle_keys(source.keys, now)
        for number, token in source.status_tokens.items():
            _check_status_token(source.issuer_id, number, token, keys)
        entries[source.issuer_id] = IssuerEntry(
            issuer_id=source.issuer_id,
            name=source.name,
            url=source.url,
            keys=keys,
            status=dict(source.status_tokens),
        )
    bundle = TrustBundle(
        seq=seq,
        iat=now,
        fresh_until=now + fresh_seconds,
        exp=now + valid_seconds,
        issuers=entries,
        anchors_next=tuple(unique.values()),
    )
    try:
        payload = encode_bundle_payload(bundle)
    except ValueError as exc:
        raise BuildError(KeysCode.BAD_INPUT, str(exc)) from exc
    return sign_cose(signer, payload, content_type=TYP_TRUST_BUNDLE)

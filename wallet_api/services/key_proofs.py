"""The proven keys of a credential request (OpenID4VCI 1.0 §8.2, Appendix F): `jwt` proofs,
each possibly with a `key_attestation` header, or one `attestation` proof.

- `jwt`: every proof is checked (`proofs.validate_proof`); all carry the same c_nonce,
  consumed once; keys are distinct. A `key_attestation` header is verified whenever it is
  present (Appendix D, `attestations.verify_key_attestation`): it must list the proof's
  key (Appendix F.1: the proof is "signed by a key contained in the attestation") and
  carry the same c_nonce. With key attestations required, a proof without one is refused;
  a deployment without wallet-provider trust anchors (and no requirement) ignores them.
- `attestation`: exactly one key attestation whose `nonce` is a c_nonce; each attested key
  gets a credential (Appendix F.3), up to the batch size.
- `iss` of a proof is the client_id of an attested wallet and absent for anonymous access
  (Appendix F.1).

Every refusal is `invalid_proof`, or `invalid_nonce` for the c_nonce (§8.3.1.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from sqlalchemy.orm import Session

from wallet_api.errors import CredentialError
from wallet_api.services.attestations import verify_key_attestation
from wallet_api.services.nonces import consume_nonce
from wallet_api.services.proofs import ProvenKey, validate_proof

JWT = "jwt"
ATTESTATION = "attestation"
PROOF_TYPES = (JWT, ATTESTATION)


def _refuse(description: str) -> CredentialError:
    return CredentialError("invalid_proof", description)


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """What a tenant demands of proof keys, and whom it trusts to attest them."""

    require_attestation: bool
    anchors: tuple[x509.Certificate, ...]
    accepted_storage: tuple[str, ...]
    batch_size: int
    client_id: str | None  # the attested wallet's client_id; None: anonymous access


def _check_issuer(key: ProvenKey, client_id: str | None) -> None:
    if key.issuer is None:
        return
    if client_id is None:
        raise _refuse("iss must be omitted for anonymous pre-authorized access")
    if key.issuer != client_id:
        raise _refuse("iss is not the client_id of the token")


def _jwt_keys(
    proofs: Sequence[object], *, audience: str, now: int, policy: KeyPolicy
) -> list[ProvenKey]:
    keys = [validate_proof(p, audience=audience, now=now) for p in proofs]
    for key in keys:
        _check_issuer(key, policy.client_id)
        if key.key_attestation is None:
            if policy.require_attestation:
                raise _refuse("a key attestation is required for every proof key")
            continue
        if not policy.anchors and not policy.require_attestation:
            continue  # a deployment without wallet-provider anchors evaluates none
        attested = verify_key_attestation(
            key.key_attestation,
            anchors=policy.anchors,
            accepted_storage=policy.accepted_storage,
            now=now,
            refuse=_refuse,
        )
        if key.thumbprint not in attested.keys:
            raise _refuse("the key attestation does not cover the proof key")
        if attested.nonce != key.nonce:
            raise CredentialError("invalid_nonce", "the key attestation's nonce is not the c_nonce")
    return keys


def _attested_keys(proofs: Sequence[object], *, now: int, policy: KeyPolicy) -> list[ProvenKey]:
    if len(proofs) != 1:
        raise _refuse("the attestation proof type carries exactly one key attestation")
    attested = verify_key_attestation(
        proofs[0],
        anchors=policy.anchors,
        accepted_storage=policy.accepted_storage,
        now=now,
        refuse=_refuse,
    )
    if attested.nonce is None:
        raise CredentialError("invalid_nonce", "the key attestation carries no c_nonce")
    if len(attested.keys) > policy.batch_size:
        raise _refuse("more attested keys than the batch size")
    return [
        ProvenKey(jwk=jwk, thumbprint=jkt, nonce=attested.nonce, iat=now)
        for jkt, jwk in attested.keys.items()
    ]


def proven_keys(
    proof_type: str,
    proofs: Sequence[object],
    *,
    audience: str,
    now: datetime,
    session: Session,
    policy: KeyPolicy,
) -> list[ProvenKey]:
    """Check the proofs of one request and consume their c_nonce once; one key per credential."""
    at = int(now.timestamp())
    if proof_type == JWT:
        keys = _jwt_keys(proofs, audience=audience, now=at, policy=policy)
    elif proof_type == ATTESTATION:
        keys = _attested_keys(proofs, now=at, policy=policy)
    else:
        raise _refuse("unsupported proof type")
    if len({k.nonce for k in keys}) != 1:
        raise CredentialError("invalid_nonce", "all proofs of a request carry the same c_nonce")
    if len({k.thumbprint for k in keys}) != len(keys):
        raise _refuse("each proof must use a different key")
    consume_nonce(session, nonce=keys[0].nonce, now=now)
    return keys

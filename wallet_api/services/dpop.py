"""DPoP (RFC 9449): proofs checked at the token endpoint and at every resource the access
token opens (credential, deferred credential, notification, devices), with server nonces.

- `DpopNonces`: stateless server nonces (§8, §9): base64url(issued-at ‖ HMAC-SHA256 under a
  key derived from the server secret), valid for `NONCE_TTL_SECONDS`; every worker with
  the same secret accepts every other worker's nonce, no database write.
- `check_proof`: the checks of §4.3 in order: one header, a compact JWS with `typ`
  dpop+jwt, ES256, a public P-256 `jwk` (no private members) that verifies the signature;
  `jti`, `htm` = the request's method, `htu` = the request's URL without query and
  fragment (scheme and host compared case-insensitively, default port dropped, §4.3
  step 9), `iat` inside the window, the server nonce (§8: a missing or stale one is
  `use_dpop_nonce` with a fresh `DPoP-Nonce`), and at a resource `ath` = base64url of
  the SHA-256 of the access token (§4.2) and the key the token is bound to (§7.1).
- Replay (§11.1): the `jti` per key is remembered in the database until the proof's
  `iat` window has passed (`replay.remember_once`).

Time is a parameter.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy.orm import Session, sessionmaker

from wallet_api.errors import OAuthError
from wallet_api.services.replay import remember_once, replay_digest
from wallet_api.services.signed_jwts import (
    int_claim,
    p256_jwk,
    peek_header,
    str_claim,
    verify_es256,
)

DPOP_TYP = "dpop+jwt"
NONCE_HEADER = "DPoP-Nonce"
MAX_PROOF_CHARS = 4096
MAX_JTI_CHARS = 256
NONCE_TTL_SECONDS = 300
# a proof's iat may be this far in the past (the nonce bounds it too) or in the future
IAT_MAX_AGE_SECONDS = 300
IAT_MAX_SKEW_SECONDS = 60
_NONCE_BYTES = 8 + 16
_DEFAULT_PORTS = {"https": 443, "http": 80}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def access_token_hash(access_token: str) -> str:
    """`ath`: base64url of the SHA-256 of the access token's ASCII (RFC 9449 §4.2)."""
    return _b64url(hashlib.sha256(access_token.encode("ascii")).digest())


class DpopNonces:
    """Server nonces for DPoP proofs; see the module docstring."""

    def __init__(self, server_secret: bytes, ttl_seconds: int = NONCE_TTL_SECONDS) -> None:
        self._key = hmac.new(server_secret, b"buergerid dpop nonce v1", hashlib.sha256).digest()
        self._ttl = ttl_seconds

    def _mac(self, issued: bytes) -> bytes:
        return hmac.new(self._key, issued, hashlib.sha256).digest()[:16]

    def issue(self, now: int) -> str:
        """A nonce valid from `now` for the configured time."""
        issued = now.to_bytes(8, "big")
        return _b64url(issued + self._mac(issued))

    def is_valid(self, value: object, now: int) -> bool:
        """Whether `value` is a nonce of this server that has not yet expired at `now`."""
        if not isinstance(value, str) or len(value) != 32:
            return False
        try:
            raw = base64.urlsafe_b64decode(value + "==")
        except (binascii.Error, ValueError):
            return False
        if len(raw) != _NONCE_BYTES or _b64url(raw) != value:
            return False
        issued, mac = raw[:8], raw[8:]
        if not hmac.compare_digest(mac, self._mac(issued)):
            return False
        at = int.from_bytes(issued, "big")
        return at - IAT_MAX_SKEW_SECONDS <= now < at + self._ttl


@dataclass(frozen=True, slots=True)
class DpopProof:
    """A checked DPoP proof: the key (and its thumbprint, `jkt`) and the proof's `jti`/`iat`."""

    jwk: dict[str, str]
    jkt: str
    jti: str
    iat: int


def normalized_url(url: str) -> str:
    """Scheme and host lower-cased, default port dropped, no query or fragment (RFC 3986
    §6.2.2 and §6.2.3, as RFC 9449 §4.3 asks for `htu`)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


def check_proof(
    headers: list[str],
    *,
    method: str,
    url: str,
    now: int,
    nonces: DpopNonces,
    refuse: Callable[[str], OAuthError],
    use_nonce: Callable[[str], OAuthError],
    access_token: str | None = None,
) -> DpopProof:
    """Check the DPoP header values of one request (§4.3); raise `refuse(...)` or, for the
    nonce, `use_nonce(...)` (both carry a fresh `DPoP-Nonce` when the caller adds it)."""
    if len(headers) != 1:
        raise refuse("exactly one DPoP header is required")
    proof = headers[0].strip()
    header = peek_header(proof, max_chars=MAX_PROOF_CHARS, refuse=refuse)
    if header.get("typ") != DPOP_TYP:
        raise refuse("typ must be dpop+jwt")
    if any(name in header for name in ("kid", "x5c", "x5u", "jku")):
        raise refuse("the key is given as jwk only")
    jwk, jkt = p256_jwk(header.get("jwk"), refuse)  # JWK decoding (signed_jwts.p256_jwk)
    claims = verify_es256(proof, jwk, refuse)
    jti = str_claim(claims, "jti", refuse, max_chars=MAX_JTI_CHARS)
    if claims.get("htm") != method:
        raise refuse("htm is not the request's method")
    htu = claims.get("htu")
    if not isinstance(htu, str) or len(htu) > 2048 or normalized_url(htu) != normalized_url(url):
        raise refuse("htu is not the request's URL")
    iat = int_claim(claims, "iat", refuse, required=True)
    assert iat is not None
    if not now - IAT_MAX_AGE_SECONDS <= iat <= now + IAT_MAX_SKEW_SECONDS:
        raise refuse("iat is outside the accepted window")
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str) or not hmac.compare_digest(
            ath.encode("ascii", "replace"), access_token_hash(access_token).encode("ascii")
        ):
            raise refuse("ath does not match the access token")
    if not nonces.is_valid(claims.get("nonce"), now):
        raise use_nonce("a fresh server nonce is required")
    return DpopProof(jwk=jwk, jkt=jkt, jti=jti, iat=iat)


def remember(
    sessions: sessionmaker[Session],
    proof: DpopProof,
    *,
    now: datetime,
    refuse: Callable[[str], OAuthError],
) -> None:
    """Refuse a proof whose `jti` this key used before (§11.1)."""
    digest = replay_digest("dpop", proof.jkt, proof.jti)
    until = datetime.fromtimestamp(
        proof.iat + IAT_MAX_AGE_SECONDS + IAT_MAX_SKEW_SECONDS, now.tzinfo
    )
    if not remember_once(
        sessions, digest, expires_at=max(until, now + timedelta(seconds=1)), now=now
    ):
        raise refuse("the proof was used before")

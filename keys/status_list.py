"""Status List Tokens (docs/formats.md) signed with a key of the ring: CWT and JWT forms.

The wire formats are `verifier`'s; these functions take `alg` and `kid` from the signer so
that a token can never name another key. The issuer calls `build_status_list_tokens` with
`ring.signer_for(now, Purpose.STATUS)` and the key's certificate chain, if it has one.
"""

from __future__ import annotations

from collections.abc import Sequence

from keys.signer import Signer
from verifier.formats import (
    JOSE_NAMES,
    StatusList,
    StatusListToken,
    encode_status_list_cwt,
    encode_status_list_jwt,
)


def sign_status_list_cwt(signer: Signer, token: StatusListToken) -> bytes:
    """The Status List Token as COSE_Sign1 CWT (`application/statuslist+cwt`)."""
    return encode_status_list_cwt(token, alg=signer.alg, kid=signer.cose_kid, sign=signer.sign)


def sign_status_list_jwt(
    signer: Signer, token: StatusListToken, *, x5c: Sequence[str] | None = None
) -> str:
    """The Status List Token as compact JWT (`typ: statuslist+jwt`, JWS kid of the signer);
    `x5c` (base64 DER, leaf first) goes into the header when given (HAIP 1.0)."""
    return encode_status_list_jwt(
        token,
        kid=signer.jws_kid,
        sign=signer.sign,
        alg=JOSE_NAMES[signer.alg],
        x5c=list(x5c) if x5c else None,
    )


def build_status_list_tokens(
    signer: Signer,
    *,
    uri: str,
    issuer: str,
    bits: int,
    data: bytes,
    iat: int,
    exp: int,
    ttl: int,
    x5c: Sequence[str] | None = None,
) -> tuple[bytes, str]:
    """Both forms of one list's token: `sub` = `uri`, `iss` = `issuer`, the raw list `data`
    of `bits`-bit statuses; the JWT carries `x5c` when given."""
    token = StatusListToken(
        sub=uri, iat=iat, exp=exp, ttl=ttl, status_list=StatusList(bits, data), iss=issuer
    )
    return sign_status_list_cwt(signer, token), sign_status_list_jwt(signer, token, x5c=x5c)

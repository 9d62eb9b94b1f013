"""Signing Status List Tokens (DESIGN §3.3) with a key of the ring: CWT and JWT forms.

The wire formats are `verifier`'s; these two functions only take `alg` and `kid` from the
signer so that a token can never name another key. The issuer calls them with
`ring.signer_for(now, KeyType.STATUS)`.
"""

from __future__ import annotations

from keys.signer import Signer
from verifier.formats import (
    JOSE_NAMES,
    StatusListToken,
    encode_status_list_cwt,
    encode_status_list_jwt,
)


def sign_status_list_cwt(signer: Signer, token: StatusListToken) -> bytes:
    """The Status List Token as COSE_Sign1 CWT (`application/statuslist+cwt`)."""
    return encode_status_list_cwt(token, alg=signer.alg, kid=signer.cose_kid, sign=signer.sign)


def sign_status_list_jwt(signer: Signer, token: StatusListToken) -> str:
    """The Status List Token as compact JWT (`typ: statuslist+jwt`, JWS kid of the signer)."""
    return encode_status_list_jwt(
        token, kid=signer.jws_kid, sign=signer.sign, alg=JOSE_NAMES[signer.alg]
    )

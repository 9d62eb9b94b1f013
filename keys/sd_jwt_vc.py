"""The SD-JWT VC builder (docs/sd-jwt.md): the issuer's claims, signed by one of its keys.

The caller supplies the claims (plain values and `verifier.Sd` markers for what the holder may
disclose), the wallet's proven device key (`cnf.jwk`) and chooses the key:
`ring.signer_for(now, Purpose.CREDENTIAL)`. `alg` and `kid` (base64url of the key's
thumbprint) come from the signer; `x5c`, the key's certificate chain, goes into the header
when given (HAIP 1.0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from keys.signer import Signer
from verifier.formats import JOSE_NAMES
from verifier.sdjwt import issue_sd_jwt


def build_sd_jwt_vc(
    signer: Signer,
    claims: Mapping[Any, Any],
    *,
    holder_jwk: Mapping[str, Any],
    decoys: int,
    x5c: Sequence[str] | None = None,
) -> str:
    """The issued form `<JWT>~<disclosure>~...~` with `typ: dc+sd-jwt` and `decoys` decoy
    digests in every `_sd` array."""
    return issue_sd_jwt(
        claims,
        sign=signer.sign,
        alg=JOSE_NAMES[signer.alg],
        kid=signer.jws_kid,
        holder_jwk=holder_jwk,
        decoys=decoys,
        extra_header={"x5c": list(x5c)} if x5c else None,
    )

"""Presentations of a stored SD-JWT VC: the chosen claims plus a KB-JWT by the device key.

A thin layer over `verifier.sdjwt` so the wallet's HTTP client and CLI never build
SD-JWT structures themselves. The verifier's `aud` and `nonce` come from its request;
`iat` is the wallet's clock, passed in.
"""

from __future__ import annotations

from collections.abc import Iterable

from mobile_sdk_stub.device import DeviceKey
from verifier.sdjwt import ClaimPath, disclosable_paths, present_sd_jwt


def build_presentation(
    sd_jwt: str,
    disclose: Iterable[ClaimPath],
    *,
    device: DeviceKey,
    aud: str,
    nonce: str,
    iat: int,
    include_subtree: bool = True,
) -> str:
    """`<JWT>~<chosen Disclosures>~<KB-JWT>` for one verifier request.

    `disclose` lists claim paths such as `("plates",)` or `("address", "locality")`; every
    Disclosure on the way to a claim is included, and with `include_subtree` everything
    below it. Claims that are not selectively disclosable are always visible.
    """
    if not aud or not nonce:
        raise ValueError("a presentation is bound to the verifier's aud and nonce")
    return present_sd_jwt(
        sd_jwt,
        disclose,
        include_subtree=include_subtree,
        holder_sign=device.sign,
        holder_alg="ES256",
        aud=aud,
        nonce=nonce,
        iat=iat,
    )


def choosable_claims(sd_jwt: str) -> tuple[ClaimPath, ...]:
    """The claim paths of a credential the holder may show or withhold (for a consent UI)."""
    return disclosable_paths(sd_jwt)

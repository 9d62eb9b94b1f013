"""Presenting an issued SD-JWT (RFC 9901 §4.3, §5.2): the holder's choice of Disclosures
and, with a holder key, the KB-JWT. Also the list of claims a wallet may show or withhold."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from verifier._errors import DecodeError, Reason
from verifier._keys import Sign
from verifier.sdjwt._encoding import digest
from verifier.sdjwt._key_binding import kb_jwt
from verifier.sdjwt._parsing import (
    MAX_DEPTH,
    MAX_DISCLOSURES,
    MAX_TOKEN_CHARS,
    decode_disclosure,
    parse,
)
from verifier.sdjwt._processing import ClaimPath


def _holder_index(sd_jwt: str) -> tuple[str, list[tuple[ClaimPath, tuple[str, ...]]]]:
    """Every claim path of an issued SD-JWT with the Disclosures it needs, in order."""
    parsed = parse(sd_jwt, MAX_TOKEN_CHARS, MAX_DISCLOSURES)
    by_digest = {digest(d): decode_disclosure(d) for d in parsed.disclosures}
    index: list[tuple[ClaimPath, tuple[str, ...]]] = []

    def walk(node: Any, path: ClaimPath, needs: tuple[str, ...]) -> None:
        if len(path) > MAX_DEPTH:
            raise DecodeError(Reason.TOO_LARGE, "claims nested too deeply")
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "_sd" or (not path and key == "_sd_alg"):
                    continue
                index.append(((*path, key), needs))
                walk(value, (*path, key), needs)
            digests = node.get("_sd", [])
            for hashed in digests if isinstance(digests, list) else []:
                found = by_digest.get(hashed) if isinstance(hashed, str) else None
                if found is not None and found.name is not None:
                    claim_path = (*path, found.name)
                    index.append((claim_path, (*needs, found.text)))
                    walk(found.value, claim_path, (*needs, found.text))
        elif isinstance(node, list):
            position = 0
            for element in node:
                if isinstance(element, dict) and len(element) == 1 and "..." in element:
                    hashed = element["..."]
                    found = by_digest.get(hashed) if isinstance(hashed, str) else None
                    if found is None or found.name is not None:
                        continue  # decoy
                    element_path = (*path, position)
                    index.append((element_path, (*needs, found.text)))
                    walk(found.value, element_path, (*needs, found.text))
                else:
                    index.append(((*path, position), needs))
                    walk(element, (*path, position), needs)
                position += 1

    walk(parsed.payload, (), ())
    return parsed.jwt, index


def disclosable_paths(sd_jwt: str) -> tuple[ClaimPath, ...]:
    """The claim paths of an issued SD-JWT that the holder may show or withhold (not verified).

    For a wallet's consent screen; the issuer signature is checked when the credential is
    received (`verify_sd_jwt_vc` with `require_key_binding=False`).
    """
    _, index = _holder_index(sd_jwt)
    needs_of = dict(index)
    return tuple(path for path, needs in index if needs and needs_of.get(path[:-1], ()) != needs)


def present_sd_jwt(
    sd_jwt: str,
    disclose: Iterable[ClaimPath],
    *,
    include_subtree: bool = True,
    holder_sign: Sign | None = None,
    holder_alg: str = "ES256",
    aud: str | None = None,
    nonce: str | None = None,
    iat: int | None = None,
) -> str:
    """Present an issued SD-JWT with the chosen claims and, with `holder_sign`, a KB-JWT.

    Each path discloses the claim and every Disclosure on the way to it; with
    `include_subtree` also everything below it. Array indexes count the elements as
    issued. Paths that are not in the credential raise `ValueError`.
    """
    jwt, index = _holder_index(sd_jwt)
    chosen: set[str] = set()
    known = {path for path, _ in index}
    for wanted in disclose:
        wanted = tuple(wanted)
        if wanted not in known:
            raise ValueError(f"claim path {wanted!r} is not in the credential")
        for path, needs in index:
            if path == wanted or (include_subtree and path[: len(wanted)] == wanted):
                chosen.update(needs)
    ordered: list[str] = []
    for _, needs in index:
        for text in needs:
            if text in chosen and text not in ordered:
                ordered.append(text)
    presentation = "~".join([jwt, *ordered, ""])
    if holder_sign is None:
        return presentation
    if aud is None or nonce is None or iat is None:
        raise ValueError("a KB-JWT needs aud, nonce and iat")
    return presentation + kb_jwt(
        presentation, sign=holder_sign, alg=holder_alg, aud=aud, nonce=nonce, iat=iat
    )

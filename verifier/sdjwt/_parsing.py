"""Reading an SD-JWT as received (RFC 9901 §4 and §8): bounded, strict, not yet verified.

``parse`` takes the compact serialization ``<JWT>~<Disclosure>~…~[<KB-JWT>]`` or the JWS
JSON serialization (flattened or general) and returns its parts with the exact text the
KB-JWT's ``sd_hash`` covers. Size and count bounds are checked before any work that grows
with the input. A caller that must look at the header or the claims to choose the issuer
key reads them from the parsed form and passes that form to verification, so the
presentation is decoded once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verifier._errors import DecodeError, Reason
from verifier._keys import b64url_decode
from verifier.sdjwt._encoding import json_loads, jws_header, split_jws

MAX_TOKEN_CHARS = 64 * 1024
MAX_DISCLOSURES = 512
MAX_DEPTH = 32
"""Deepest nesting of claims, counted in object keys and array indexes from the top."""
MAX_JSON_SIGNATURES = 4


@dataclass(frozen=True, slots=True)
class Signed:
    """One signature of the issuer-signed JWT: header, signing input, signature bytes."""

    header: dict[str, Any]
    signing_input: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class ParsedSdJwt:
    """A presentation split into its parts, NOT verified.

    ``header`` and ``payload`` may be read to choose the issuer key; they are trusted only
    after ``verify_sd_jwt`` (or ``verify_sd_jwt_vc``) accepted this object. Do not change
    them: verification checks the signature over the bytes they were decoded from.
    """

    jwt: str
    payload: dict[str, Any]
    signatures: tuple[Signed, ...]
    disclosures: tuple[str, ...]
    kb_jwt: str | None
    sd_hash_input: str

    @property
    def header(self) -> dict[str, Any]:
        """The protected header of the (first) issuer signature, NOT verified."""
        return self.signatures[0].header


@dataclass(frozen=True, slots=True)
class Disclosure:
    """A decoded Disclosure: ``name`` is None for an array element."""

    text: str
    salt: str
    name: str | None
    value: Any


def parse_sd_jwt(
    presentation: str, *, max_chars: int = MAX_TOKEN_CHARS, max_disclosures: int = MAX_DISCLOSURES
) -> ParsedSdJwt:
    """A presentation read once, bounded and strict, NOT verified; ``DecodeError``.

    For a caller that picks the issuer key from ``header`` (``kid``, ``x5c``) or the claims
    (``iss``, ``vct``) and then passes the result to ``verify_sd_jwt``/``verify_sd_jwt_vc``.
    """
    return parse(presentation, max_chars, max_disclosures)


def parse(presentation: str, max_chars: int, max_disclosures: int) -> ParsedSdJwt:
    """The parts of a compact or JSON-serialized SD-JWT; ``DecodeError`` with its reason."""
    if not isinstance(presentation, str):
        raise TypeError("presentation must be str")
    if len(presentation) > max_chars:
        raise DecodeError(Reason.TOO_LARGE, "presentation too long")
    if presentation.startswith("{"):
        return _parse_json(presentation, max_disclosures)
    if not presentation.isascii():
        raise DecodeError(Reason.BAD_SD_JWT, "not ASCII")
    # the issuer-signed JWT is most of the text: found, not split (str.find runs through
    # it at memchr's speed); only the short rest is split into Disclosures and KB-JWT, at
    # most one part more than allowed (cheaper than counting the separators first)
    end_of_jwt = presentation.find("~")
    if end_of_jwt < 0:
        raise DecodeError(Reason.BAD_SD_JWT, "no '~' separator")
    rest = presentation[end_of_jwt + 1 :].split("~", max_disclosures + 1)
    if len(rest) > max_disclosures + 1:
        raise DecodeError(Reason.TOO_LARGE, "too many Disclosures")
    jwt = presentation[:end_of_jwt]
    *disclosures, last = rest
    if "" in disclosures:
        raise DecodeError(Reason.BAD_SD_JWT, "empty Disclosure")
    header, payload, signing_input, signature = split_jws(jwt, Reason.BAD_JWS)
    return ParsedSdJwt(
        jwt=jwt,
        payload=payload,
        signatures=(Signed(header, signing_input, signature),),
        disclosures=tuple(disclosures),
        kb_jwt=last or None,
        sd_hash_input=presentation[: len(presentation) - len(last)],
    )


def _parse_json(presentation: str, max_disclosures: int) -> ParsedSdJwt:
    """RFC 9901 §8: flattened or general JWS JSON serialization.

    Disclosures and the KB-JWT ride in the unprotected header of the first signature;
    `sd_hash` covers that signature in compact form plus the Disclosures.
    """
    document = json_loads(presentation.encode("utf-8"), Reason.BAD_SD_JWT)
    if not isinstance(document, dict) or not isinstance(document.get("payload"), str):
        raise DecodeError(Reason.BAD_SD_JWT, "not a JWS JSON serialization")
    entries = document.get("signatures", [document])
    if isinstance(entries, list) and len(entries) > MAX_JSON_SIGNATURES:
        raise DecodeError(Reason.TOO_LARGE, "too many signatures")
    if (
        not isinstance(entries, list)
        or not entries
        or ("signatures" in document and ("protected" in document or "signature" in document))
    ):
        raise DecodeError(Reason.BAD_SD_JWT, "signatures must be a non-empty array")
    payload_b64 = document["payload"]
    payload = json_loads(b64url_decode(payload_b64, reason=Reason.BAD_JWS), Reason.BAD_JWS)
    if not isinstance(payload, dict):
        raise DecodeError(Reason.BAD_JWS, "payload must be a JSON object")
    signed: list[Signed] = []
    disclosures: list[str] = []
    kb_jwt: str | None = None
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise DecodeError(Reason.BAD_SD_JWT, "signature entry must be an object")
        protected_b64, signature_b64 = entry.get("protected"), entry.get("signature")
        unprotected = (
            dict(entry.get("header", {})) if isinstance(entry.get("header", {}), dict) else None
        )
        if (
            not isinstance(protected_b64, str)
            or not isinstance(signature_b64, str)
            or unprotected is None
        ):
            raise DecodeError(Reason.BAD_JWS, "protected, signature and header")
        found_disclosures = unprotected.pop("disclosures", None)
        found_kb = unprotected.pop("kb_jwt", None)
        if position == 0:
            if not isinstance(found_disclosures, list) or not all(
                isinstance(d, str) and d and d.isascii() and "~" not in d for d in found_disclosures
            ):
                raise DecodeError(Reason.BAD_SD_JWT, "disclosures must be an array of strings")
            if len(found_disclosures) > max_disclosures:
                raise DecodeError(Reason.TOO_LARGE, "too many Disclosures")
            if found_kb is not None and (not isinstance(found_kb, str) or not found_kb.isascii()):
                raise DecodeError(Reason.BAD_SD_JWT, "kb_jwt must be a string")
            disclosures, kb_jwt = found_disclosures, found_kb or None
        elif found_disclosures is not None or found_kb is not None:
            raise DecodeError(Reason.BAD_SD_JWT, "disclosures only in the first signature")
        protected = jws_header(protected_b64, Reason.BAD_JWS)
        if not isinstance(protected, dict) or set(protected) & set(unprotected):
            raise DecodeError(Reason.BAD_JWS, "protected header")
        if not protected_b64.isascii() or not payload_b64.isascii():
            raise DecodeError(Reason.BAD_JWS, "not ASCII")
        signing_input = (protected_b64 + "." + payload_b64).encode("ascii")
        signature = b64url_decode(signature_b64, reason=Reason.BAD_JWS)
        signed.append(Signed({**unprotected, **protected}, signing_input, signature))
    first = entries[0]
    jwt = first["protected"] + "." + payload_b64 + "." + first["signature"]
    return ParsedSdJwt(
        jwt=jwt,
        payload=payload,
        signatures=tuple(signed),
        disclosures=tuple(disclosures),
        kb_jwt=kb_jwt,
        sd_hash_input="~".join([jwt, *disclosures, ""]),
    )


def disclosure_content(text: str) -> list[Any]:
    """One Disclosure (RFC 9901 §4.2) checked: ``[salt, value]`` or ``[salt, name, value]``."""
    content = json_loads(b64url_decode(text, reason=Reason.BAD_DISCLOSURE), Reason.BAD_DISCLOSURE)
    if not isinstance(content, list) or len(content) not in (2, 3):
        raise DecodeError(Reason.BAD_DISCLOSURE, "a Disclosure is an array of 2 or 3")
    if not isinstance(content[0], str):
        raise DecodeError(Reason.BAD_DISCLOSURE, "salt must be a string")
    if len(content) == 3:
        if not isinstance(content[1], str):
            raise DecodeError(Reason.BAD_DISCLOSURE, "claim name must be a string")
        # RFC 9901 §7.1 step 3.3.2.2: these names are never claim names
        if content[1] in ("_sd", "..."):
            raise DecodeError(Reason.BAD_DISCLOSURE, "reserved claim name in Disclosure")
    return content


def decode_disclosure(text: str) -> Disclosure:
    """One Disclosure (RFC 9901 §4.2): ``[salt, value]`` or ``[salt, name, value]``."""
    content = disclosure_content(text)
    if len(content) == 2:
        return Disclosure(text, content[0], None, content[1])
    return Disclosure(text, content[0], content[1], content[2])

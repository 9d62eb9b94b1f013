"""Token Status List (draft-ietf-oauth-status-list): the list and its tokens.

A :class:`StatusList` is an immutable view over the uncompressed bytes: entry ``i`` sits in
byte ``i // (8 / bits)`` at bit offset ``(i % (8 / bits)) * bits`` from the least
significant bit. ``lst`` is the ZLIB (RFC 1950) stream of those bytes; we write it at level 9
and inflate it with a hard output bound. Status List Tokens come as a CWT (COSE_Sign1, tag
18, content type ``application/statuslist+cwt``) or a JWT (``typ: statuslist+jwt``).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from verifier._cbor import dumps, loads
from verifier._cose import PERMIT_PROFILE, CoseProfile, Sign1, decode_sign1, encode_sign1
from verifier._errors import DecodeError, Reason
from verifier._jws import decode_jws, encode_jws, peek_jws_header
from verifier._keys import Alg, PublicKey, Sign, b64url_decode, b64url_encode

TYP_STATUS_LIST_CWT = "application/statuslist+cwt"
TYP_STATUS_LIST_JWT = "statuslist+jwt"
BITS = (1, 2, 4, 8)
MAX_STATUS_LIST_BYTES = 1 << 20
"""Largest uncompressed list accepted: 2^20 entries at 8 bits (2^22 entries at 2 bits)."""
MAX_STATUS_LIST_TOKEN_BYTES = 2 * MAX_STATUS_LIST_BYTES
"""Largest Status List Token (CWT bytes or JWT characters) accepted."""
MAX_URI_CHARS = 2048

# CWT claim keys (RFC 8392, draft-ietf-oauth-status-list §6.2)
CLAIM_ISS, CLAIM_SUB, CLAIM_EXP, CLAIM_IAT = 1, 2, 4, 6
CLAIM_TTL, CLAIM_STATUS_LIST = 65534, 65533


class StatusValue(IntEnum):
    """Status values (docs/formats.md); 3 is the draft's application-specific value."""

    VALID = 0
    INVALID = 1
    SUSPENDED = 2


def _bad(detail: str) -> DecodeError:
    return DecodeError(Reason.BAD_STATUS_LIST, detail)


class StatusList:
    """An immutable status list: ``bits`` per entry over the uncompressed bytes."""

    __slots__ = ("_bits_shift", "_data", "_mask", "_per_byte_shift", "_slot_mask", "bits")

    def __init__(self, bits: int, data: bytes) -> None:
        """Wrap the uncompressed bytes (``ValueError`` for bits outside 1, 2, 4, 8)."""
        if bits not in BITS:
            raise ValueError("bits must be 1, 2, 4 or 8")
        self.bits = bits
        self._data = bytes(data)
        self._mask = (1 << bits) - 1
        self._bits_shift = bits.bit_length() - 1  # log2(bits)
        self._per_byte_shift = 3 - self._bits_shift  # log2(8 / bits)
        self._slot_mask = (1 << self._per_byte_shift) - 1

    @property
    def size(self) -> int:
        """Number of entries (the byte length times 8 / bits)."""
        return len(self._data) << self._per_byte_shift

    def __len__(self) -> int:
        return self.size

    @property
    def data(self) -> bytes:
        """The uncompressed bytes."""
        return self._data

    def get(self, idx: int) -> int:
        """The value at ``idx``; ``DecodeError(STATUS_UNKNOWN)`` when ``idx`` is out of range."""
        if not 0 <= idx < len(self._data) << self._per_byte_shift:
            raise DecodeError(Reason.STATUS_UNKNOWN, "index out of range")
        byte = self._data[idx >> self._per_byte_shift]
        return (byte >> ((idx & self._slot_mask) << self._bits_shift)) & self._mask

    def __iter__(self) -> Iterator[int]:
        return map(self.get, range(self.size))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StatusList):
            return NotImplemented
        return self.bits == other.bits and self._data == other._data

    def __hash__(self) -> int:
        return hash((self.bits, self._data))

    def __repr__(self) -> str:
        return f"StatusList(bits={self.bits}, size={self.size})"

    @classmethod
    def from_values(cls, bits: int, size: int, values: Mapping[int, int]) -> StatusList:
        """A list of ``size`` entries, all 0 except ``values`` (``ValueError`` on misuse)."""
        if bits not in BITS or size <= 0 or (size * bits) % 8:
            raise ValueError("size must fill whole bytes and bits be 1, 2, 4 or 8")
        empty = cls(bits, bytes(size * bits // 8))
        return empty.with_values(values)

    def with_values(self, values: Mapping[int, int]) -> StatusList:
        """A copy with ``values`` applied in order (``ValueError`` for a bad index or value)."""
        data = bytearray(self._data)
        for idx, value in values.items():
            if not 0 <= idx < self.size or not 0 <= value <= self._mask:
                raise ValueError("index or value out of range")
            shift = (idx & self._slot_mask) << self._bits_shift
            pos = idx >> self._per_byte_shift
            data[pos] = (data[pos] & ~(self._mask << shift) & 0xFF) | (value << shift)
        return StatusList(self.bits, bytes(data))

    def to_lst(self) -> bytes:
        """The ZLIB stream of the list at level 9 (reproduces the draft's vectors)."""
        return zlib.compress(self._data, 9)

    @classmethod
    def from_lst(
        cls, bits: int, lst: bytes, *, max_bytes: int = MAX_STATUS_LIST_BYTES
    ) -> StatusList:
        """Inflate ``lst`` with the output bounded by ``max_bytes``; ``BAD_STATUS_LIST``."""
        if type(bits) is not int or bits not in BITS:
            raise _bad("bits must be 1, 2, 4 or 8")
        if not isinstance(lst, bytes):
            raise _bad("lst is not bytes")
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(lst, max_bytes)
        except zlib.error:
            raise _bad("lst is not a ZLIB stream") from None
        if not inflater.eof:
            raise _bad("lst is truncated or inflates beyond the bound")
        if inflater.unused_data:
            raise _bad("bytes after the ZLIB stream")
        if not data:
            raise _bad("empty list")
        return cls(bits, data)


@dataclass(frozen=True, slots=True)
class StatusListToken:
    """The claims of a Status List Token (``exp``/``ttl`` optional, ``iss`` JWT-style)."""

    sub: str
    iat: int
    exp: int | None
    ttl: int | None
    status_list: StatusList
    iss: str | None = None


def _uint(value: object, name: str) -> int:
    if type(value) is not int or not 0 <= value < 2**63:
        raise _bad(f"{name} is not an unsigned integer")
    return value


def _uri(value: object, name: str) -> str:
    if type(value) is not str or not 0 < len(value) <= MAX_URI_CHARS:
        raise _bad(f"{name} is not a URI")
    return value


def _token_from(
    claims: Mapping[Any, Any], keys: tuple[Any, ...], lst_decode: Any
) -> StatusListToken:
    iss_key, sub_key, iat_key, exp_key, ttl_key, list_key = keys
    status = claims.get(list_key)
    if not isinstance(status, Mapping):
        raise _bad("no status_list")
    token = StatusListToken(
        sub=_uri(claims.get(sub_key), "sub"),
        iat=_uint(claims.get(iat_key), "iat"),
        exp=_uint(claims[exp_key], "exp") if exp_key in claims else None,
        ttl=_uint(claims[ttl_key], "ttl") if ttl_key in claims else None,
        status_list=StatusList.from_lst(status.get("bits", 0), lst_decode(status.get("lst"))),
        iss=_uri(claims[iss_key], "iss") if iss_key in claims else None,
    )
    if token.exp is not None and token.exp <= token.iat:
        raise _bad("exp is not after iat")
    return token


_CWT_KEYS = (CLAIM_ISS, CLAIM_SUB, CLAIM_IAT, CLAIM_EXP, CLAIM_TTL, CLAIM_STATUS_LIST)
_JWT_KEYS = ("iss", "sub", "iat", "exp", "ttl", "status_list")


def _check_lst_bytes(value: object) -> bytes:
    if type(value) is not bytes:
        raise _bad("lst is not a byte string")
    return value


def _check_lst_text(value: object) -> bytes:
    if type(value) is not str:
        raise _bad("lst is not text")
    return b64url_decode(value, reason=Reason.BAD_STATUS_LIST)


def status_list_claims(t: StatusListToken) -> dict[int, Any]:
    """The CWT claims map of a Status List Token."""
    claims: dict[int, Any] = {}
    if t.iss is not None:
        claims[CLAIM_ISS] = t.iss
    claims[CLAIM_SUB] = t.sub
    claims[CLAIM_IAT] = t.iat
    if t.exp is not None:
        claims[CLAIM_EXP] = t.exp
    if t.ttl is not None:
        claims[CLAIM_TTL] = t.ttl
    claims[CLAIM_STATUS_LIST] = {"bits": t.status_list.bits, "lst": t.status_list.to_lst()}
    return claims


def encode_status_list_cwt(t: StatusListToken, *, alg: Alg, kid: bytes, sign: Sign) -> bytes:
    """A signed Status List Token as CWT (protected ``{1, 4, 16: statuslist+cwt}``)."""
    return encode_sign1(
        dumps(status_list_claims(t)),
        alg=alg,
        kid=kid,
        sign=sign,
        content_type=TYP_STATUS_LIST_CWT,
    )


def decode_status_list_cwt(
    data: bytes, *, profile: CoseProfile = PERMIT_PROFILE
) -> tuple[Sign1, StatusListToken]:
    """Parse (NOT verify) a Status List Token CWT; the caller verifies the ``Sign1``."""
    msg = decode_sign1(
        data, reason=Reason.BAD_STATUS_LIST, profile=profile, max_bytes=MAX_STATUS_LIST_TOKEN_BYTES
    )
    if msg.content_type != TYP_STATUS_LIST_CWT:
        raise _bad("content type is not application/statuslist+cwt")
    claims = loads(
        msg.payload, reason=Reason.BAD_STATUS_LIST, max_bytes=MAX_STATUS_LIST_TOKEN_BYTES
    )
    if type(claims) is not dict:
        raise _bad("claims are not a map")
    return msg, _token_from(claims, _CWT_KEYS, _check_lst_bytes)


def encode_status_list_jwt(
    t: StatusListToken,
    *,
    kid: str,
    sign: Sign,
    alg: str = "ES256",
    x5c: Sequence[str] | None = None,
) -> str:
    """A signed Status List Token as JWT (``typ: statuslist+jwt``, ``lst`` base64url); `x5c`
    adds the signing key's certificate chain to the header."""
    claims: dict[str, Any] = {}
    if t.iss is not None:
        claims["iss"] = t.iss
    claims["sub"] = t.sub
    claims["iat"] = t.iat
    if t.exp is not None:
        claims["exp"] = t.exp
    if t.ttl is not None:
        claims["ttl"] = t.ttl
    claims["status_list"] = {
        "bits": t.status_list.bits,
        "lst": b64url_encode(t.status_list.to_lst()),
    }
    header: dict[str, Any] = {"alg": alg, "kid": kid, "typ": TYP_STATUS_LIST_JWT}
    if x5c:
        header["x5c"] = list(x5c)
    return encode_jws(header, json.dumps(claims, separators=(",", ":")).encode("utf-8"), sign)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result


def _no_floats(text: str) -> Any:
    raise ValueError("floats are not allowed")


def decode_status_list_jwt(token: str, key: PublicKey) -> StatusListToken:
    """Verify and decode a Status List Token JWT (BAD_JWS, BAD_SIGNATURE, BAD_STATUS_LIST)."""
    if isinstance(token, str) and len(token) > MAX_STATUS_LIST_TOKEN_BYTES:
        raise _bad("token too large")
    if peek_jws_header(token).get("typ") != TYP_STATUS_LIST_JWT:
        raise _bad("typ is not statuslist+jwt")
    _, payload = decode_jws(token, key)
    try:
        claims = json.loads(
            payload.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_float=_no_floats,
            parse_constant=_no_floats,
        )
    except (ValueError, RecursionError):
        raise _bad("payload is not strict JSON") from None
    if not isinstance(claims, dict):
        raise _bad("payload is not an object")
    return _token_from(claims, _JWT_KEYS, _check_lst_text)

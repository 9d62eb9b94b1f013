"""COSE_Sign1 (RFC 9052 §4.2): build, parse and verify single-signer messages.

Our own messages (permit QR, status list, trust bundle, plate index) follow
``PERMIT_PROFILE``: CBOR tag 18, protected header ``{1: alg, 4: kid[, 16: content type]}``
with a bstr ``kid`` and ``alg`` in ``PERMIT_ALGS`` (checked in that order, step 3 of the
offline check in docs/verifier.md: a missing kid is ``bad_cose`` whatever the alg),
unprotected header ``{}`` (refused otherwise), empty external AAD. ``CONFORMANCE_PROFILE``
widens decoding for third-party suites (DCC, COSE working group): untagged messages, tag 61
(CWT) around tag 18, a kid in the unprotected header or none, and every algorithm of
``Alg``. Neither profile accepts ``alg`` outside the protected header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from verifier._cbor import dumps, loads
from verifier._errors import DecodeError, Reason
from verifier._keys import PERMIT_ALGS, Alg, AnyPublicKey, Sign, verify_signature

MAX_COSE_BYTES = 4 * 1024 * 1024
"""Largest COSE_Sign1 :func:`decode_sign1` accepts (QR tokens are far smaller: 1,000 chars)."""

TAG_SIGN1 = 18
TAG_CWT = 61
HEADER_ALG = 1
HEADER_CRIT = 2
HEADER_KID = 4
HEADER_CONTENT_TYPE = 16

_SIGNATURE1 = b"\x6aSignature1"


@dataclass(frozen=True, slots=True)
class CoseProfile:
    """What :func:`decode_sign1` accepts beyond the wire grammar of RFC 9052."""

    algorithms: frozenset[Alg] = PERMIT_ALGS
    require_tag: bool = True
    """True: exactly tag 18. False: also untagged, and tag 61 (CWT) around tag 18."""
    require_kid: bool = True
    """True: a bstr kid must be present; False: a missing kid reads as ``b""``."""
    kid_in_unprotected: bool = False
    """True: the protected kid first, else the unprotected one (DCC rule)."""
    empty_unprotected: bool = False
    """True: the unprotected header must be the empty map (docs/formats.md): anything in it is
    unsigned and would make one message readable as many different byte strings."""


PERMIT_PROFILE = CoseProfile(empty_unprotected=True)
CONFORMANCE_PROFILE = CoseProfile(
    algorithms=frozenset(Alg),
    require_tag=False,
    require_kid=False,
    kid_in_unprotected=True,
)


@dataclass(frozen=True, slots=True)
class Sign1:
    """A parsed, not yet verified COSE_Sign1 message."""

    protected_bytes: bytes
    protected: Mapping[int, Any]
    unprotected: Mapping[Any, Any]
    payload: bytes
    signature: bytes
    alg: Alg
    kid: bytes
    content_type: str | None  # label 16 when it is text; an integer content type reads as None


_BSTR_HEADERS = [bytes((0x40 | n,)) for n in range(24)] + [bytes((0x58, n)) for n in range(24, 256)]


def _bstr_header(n: int) -> bytes:
    if n < 0x100:
        return _BSTR_HEADERS[n]
    if n < 0x10000:
        return b"\x59" + n.to_bytes(2, "big")
    if n < 0x100000000:
        return b"\x5a" + n.to_bytes(4, "big")
    return b"\x5b" + n.to_bytes(8, "big")


_SIG_STRUCTURE_HEAD = b"\x84" + _SIGNATURE1


def sig_structure(protected_bytes: bytes, payload: bytes, external_aad: bytes = b"") -> bytes:
    """The CBOR ``["Signature1", protected, external_aad, payload]`` (RFC 9052 §4.4)."""
    return b"".join(
        (
            _SIG_STRUCTURE_HEAD,
            _bstr_header(len(protected_bytes)),
            protected_bytes,
            _bstr_header(len(external_aad)),
            external_aad,
            _bstr_header(len(payload)),
            payload,
        )
    )


# protected headers by (alg, kid, content type): the same bytes for every message one key
# signs (a few keys per process; bounded all the same)
_PROTECTED: dict[tuple[int, bytes, str | None], bytes] = {}
_MAX_PROTECTED = 256


def _protected_header(alg: Alg, kid: bytes, content_type: str | None) -> bytes:
    """The encoded protected header ``{1: alg, 4: kid[, 16: content_type]}``."""
    key = (int(alg), bytes(kid), content_type)
    protected = _PROTECTED.get(key)
    if protected is None:
        header: dict[int, Any] = {HEADER_ALG: key[0], HEADER_KID: key[1]}
        if content_type is not None:
            header[HEADER_CONTENT_TYPE] = content_type
        protected = dumps(header)
        if len(_PROTECTED) < _MAX_PROTECTED:
            _PROTECTED[key] = protected
    return protected


# tag 18, an array of 4 (RFC 8949: d2 = major type 6, value 18; 84 = array, 4 items)
_SIGN1_HEAD = b"\xd2\x84"
_EMPTY_MAP = b"\xa0"


def encode_sign1(
    payload: bytes,
    *,
    alg: Alg,
    kid: bytes,
    sign: Sign,
    content_type: str | None = None,
) -> bytes:
    """A tagged COSE_Sign1 with protected ``{1: alg, 4: kid[, 16: content_type]}``, signed.

    Written directly, ``18([protected, {}, payload, signature])``: three byte strings and an
    empty map have one encoding each, the same as :func:`verifier._cbor.dumps` gives."""
    protected = _protected_header(alg, kid, content_type)
    payload = bytes(payload)
    signature = bytes(sign(sig_structure(protected, payload)))
    return b"".join(
        (
            _SIGN1_HEAD,
            _bstr_header(len(protected)),
            protected,
            _EMPTY_MAP,
            _bstr_header(len(payload)),
            payload,
            _bstr_header(len(signature)),
            signature,
        )
    )


def decode_sign1(
    data: bytes,
    *,
    reason: Reason = Reason.BAD_COSE,
    profile: CoseProfile = PERMIT_PROFILE,
    max_bytes: int = MAX_COSE_BYTES,
) -> Sign1:
    """Parse a COSE_Sign1 (not verified); ``DecodeError(reason)``, or ``UNSUPPORTED_ALG``."""
    obj = loads(data, reason=reason, max_bytes=max_bytes)
    if type(obj) is cbor2.CBORTag:
        if obj.tag == TAG_CWT and not profile.require_tag:
            obj = obj.value
            if type(obj) is not cbor2.CBORTag:
                raise DecodeError(reason, "tag 61 without tag 18 inside")
        if obj.tag != TAG_SIGN1:
            raise DecodeError(reason, "not tag 18")
        obj = obj.value
    elif profile.require_tag:
        raise DecodeError(reason, "not tag 18")
    if type(obj) is not list or len(obj) != 4:
        raise DecodeError(reason, "not an array of 4")
    protected_bytes, unprotected, payload, signature = obj
    if not (
        type(protected_bytes) is bytes
        and type(unprotected) is dict
        and type(payload) is bytes
        and type(signature) is bytes
    ):
        raise DecodeError(reason, "not bstr, map, bstr, bstr")
    protected = loads(protected_bytes, reason=reason) if protected_bytes else {}
    if type(protected) is not dict:
        raise DecodeError(reason, "protected header is not a map")
    if unprotected and not protected.keys().isdisjoint(unprotected.keys()):
        raise DecodeError(reason, "header label both protected and unprotected")
    if HEADER_CRIT in protected or HEADER_CRIT in unprotected:
        raise DecodeError(reason, "critical header parameters are not supported")  # RFC 9052 §3.1
    if unprotected and profile.empty_unprotected:
        raise DecodeError(reason, "unprotected header is not empty")
    # step 3 of the offline check (docs/verifier.md): a bstr kid (bad_cose), then a
    # supported alg (unsupported_alg)
    kid = protected.get(HEADER_KID)
    if kid is None and profile.kid_in_unprotected:
        kid = unprotected.get(HEADER_KID)
    if kid is None and not profile.require_kid:
        kid = b""
    if type(kid) is not bytes:
        raise DecodeError(reason, "no bstr kid")
    if HEADER_ALG not in protected:
        raise DecodeError(reason, "no protected alg")
    alg = protected[HEADER_ALG]
    if type(alg) is not int or alg not in profile.algorithms:
        raise DecodeError(Reason.UNSUPPORTED_ALG, "algorithm not supported")
    content_type = protected.get(HEADER_CONTENT_TYPE)
    return Sign1(
        protected_bytes=protected_bytes,
        protected=protected,
        unprotected=unprotected,
        payload=payload,
        signature=signature,
        alg=Alg(alg),
        kid=kid,
        content_type=content_type if type(content_type) is str else None,
    )


PermitParts = tuple[bytes, bytes, bytes, Alg, bytes]
"""``(protected_bytes, payload, signature, alg, kid)`` of a permit token."""

# The bytes our encoder writes for a permit token are fixed everywhere but in the alg byte,
# the kid, the payload and the signature:
#
#     d2 84                     tag 18, array of 4
#     4d a2 01 26|27 04 48 ...  protected: bstr of 13 bytes, {1: -7|-8, 4: 8-byte kid}
#     a0                        unprotected: {}
#     40..57 | 58 nn | 59 nnnn  payload bstr head (shortest form), then the payload
#     58 40 ...                 signature: bstr of 64 bytes, the last item
#
# so such a message is read by comparing those bytes, without decoding CBOR; any other
# message goes through decode_sign1, which gives the same parts or the same refusal (a
# property test compares the two). This buys about 15 µs per token: QR text → verdict
# is 1.37 bare verifies with it and 1.59 without (bench/verify.py, ES256).
_PERMIT_HEAD = b"\xd2\x84\x4d\xa2\x01"
_PERMIT_ALGS = {0x26: Alg.ES256, 0x27: Alg.EDDSA}
_PERMIT_KID_HEAD = b"\x04\x48"
_UNPROTECTED_EMPTY = b"\xa0"
_SIGNATURE_HEAD = b"\x58\x40"


def _permit_shape(data: bytes) -> PermitParts | None:
    """The parts of a message of exactly our encoder's shape, else None."""
    if (
        type(data) is not bytes
        or len(data) < 84  # the shortest: an empty payload
        or data[:5] != _PERMIT_HEAD
        or data[5] not in _PERMIT_ALGS
        or data[6:8] != _PERMIT_KID_HEAD
        or data[16:17] != _UNPROTECTED_EMPTY
    ):
        return None
    head = data[17]
    if 0x40 <= head < 0x58:
        start = 18
        end = start + head - 0x40
    elif head == 0x58 and data[18] >= 24:
        start = 19
        end = start + data[18]
    elif head == 0x59 and data[18] != 0:
        start = 20
        end = start + int.from_bytes(data[18:20], "big")
    else:
        return None  # not the shortest head: decode_sign1 decides
    if len(data) != end + 66 or data[end : end + 2] != _SIGNATURE_HEAD:
        return None
    return data[3:16], data[start:end], data[end + 2 :], _PERMIT_ALGS[data[5]], data[8:16]


def decode_permit_parts(data: bytes) -> PermitParts:
    """``decode_sign1(data)`` with ``PERMIT_PROFILE`` and ``BAD_COSE``, as the parts that
    ``verify()`` needs: ``(protected_bytes, payload, signature, alg, kid)``."""
    parts = _permit_shape(data)
    if parts is None:
        msg = decode_sign1(data)
        parts = (msg.protected_bytes, msg.payload, msg.signature, msg.alg, msg.kid)
    return parts


def verify_sign1(msg: Sign1, key: AnyPublicKey, *, external_aad: bytes = b"") -> None:
    """Verify the signature of a parsed COSE_Sign1; ``SignatureError(BAD_SIGNATURE)``."""
    verify_signature(
        key,
        msg.alg,
        sig_structure(msg.protected_bytes, msg.payload, external_aad),
        msg.signature,
    )

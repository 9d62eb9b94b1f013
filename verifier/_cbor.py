"""Strict, bounded CBOR (RFC 8949) on top of ``cbor2``, and deterministic encoding.

Decoding first walks the item headers (a structural pre-scan, not a codec) and refuses
indefinite lengths, reserved additional-information values, declared lengths beyond the
input, nesting deeper than ``max_depth``, tags outside an allow-list and trailing bytes;
``cbor2`` then produces the values, and the number of map entries it produced (counted by an
``object_hook``) is compared with the number declared on the wire, which catches duplicate
map keys (however they are spelled, e.g. ``1`` and ``1.0``). Every failure is
``DecodeError(reason)``.

Encoding is RFC 8949 §4.2.1 core deterministic encoding: preferred (shortest) argument
encodings, definite lengths, and map keys sorted by the bytewise lexicographic order of their
encodings. ``cbor2``'s ``canonical=True`` sorts length-first (RFC 7049 §3.9), which differs
for mixed keys (``{1, 24, -1}`` is ``1, -1, 24`` length-first but ``1, 24, -1`` bytewise),
so maps are re-ordered here before ``cbor2`` writes them in insertion order.
"""

from __future__ import annotations

import io
import itertools
import threading
from collections.abc import Mapping
from typing import Any

import cbor2

from verifier._errors import DecodeError, Reason

MAX_DEPTH = 16
"""Deepest nesting of arrays, maps and tags :func:`loads` accepts (step 3 of the check)."""
MAX_CBOR_BYTES = 4 * 1024 * 1024
"""Largest CBOR input :func:`loads` accepts by default (a trust bundle is the biggest)."""
COSE_TAGS = frozenset({16, 17, 18, 61, 96, 97, 98})
"""Tags :func:`loads` lets through by default: the COSE message tags and CWT (RFC 8392)."""

__all__ = ["COSE_TAGS", "MAX_CBOR_BYTES", "MAX_DEPTH", "dumps", "loads", "loads_deterministic"]


def _canonicalise(obj: object) -> object:
    if isinstance(obj, Mapping):
        items = [(_encode(k := _canonicalise(key)), k, _canonicalise(v)) for key, v in obj.items()]
        items.sort(key=lambda item: item[0])
        for (a, _, _), (b, _, _) in itertools.pairwise(items):
            if a == b:
                raise ValueError("duplicate map key after encoding")
        return {k: v for _, k, v in items}
    if isinstance(obj, list | tuple):
        return [_canonicalise(item) for item in obj]
    if isinstance(obj, cbor2.CBORTag):
        return cbor2.CBORTag(obj.tag, _canonicalise(obj.value))
    if isinstance(obj, float):
        raise TypeError("floats are not part of our wire formats")
    return obj


def dumps(obj: object) -> bytes:
    """Deterministically encoded CBOR (RFC 8949 §4.2.1, bytewise key order) of ``obj``."""
    return _encode(_canonicalise(obj))


def dumps_in_key_order(obj: object) -> bytes:
    """CBOR of ``obj`` written as it is, each map in its insertion order: deterministic
    (equal to :func:`dumps`) only for a value whose maps are already in bytewise key order
    and which holds no float — the caller builds it so and checks its types. The permit
    claims of every QR token skip :func:`dumps`' walk of the value this way."""
    return _encode(obj)


_BSTR_CONTENT_OFFSET = {0x58: 2, 0x59: 3, 0x5A: 5, 0x5B: 9}


def _check_bignum(data: bytes, pos: int) -> None:
    """Deterministic CBOR: a bignum (tag 2 or 3) only for a value beyond 64 bits (RFC 8949
    §3.4.3 and §4.2.1), so its bstr has more than 8 bytes and no leading zero byte."""
    ib = data[pos]
    if 0x49 <= ib <= 0x57:
        first = data[pos + 1]
    elif ib in _BSTR_CONTENT_OFFSET:
        first = data[pos + _BSTR_CONTENT_OFFSET[ib]]  # the length is checked when scanned
    else:
        raise ValueError("bignum that fits in an integer, or not over a bstr")
    if first == 0:
        raise ValueError("bignum with a leading zero byte")


def _scan(
    data: bytes, max_depth: int, tags: frozenset[int] | None, deterministic: bool = False
) -> int:
    """Walk the item headers; returns the number of map entries declared. Raises ValueError.

    ``deterministic``: also refuse arguments not in their shortest form and bignums for values
    that fit in an integer (RFC 8949 §4.2.1; floats are not checked).
    """
    n = len(data)
    pos = 0
    stack: list[int] = []
    remaining = 1
    pairs = 0
    try:
        while True:
            ib = data[pos]  # IndexError past the end: truncated
            pos += 1
            ai = ib & 31
            if ai < 24:
                val = ai
            elif ai == 24:
                val = data[pos]
                pos += 1
                if deterministic and val < 24 and ib < 0xE0:
                    raise ValueError("argument not in its shortest form")
            elif ai < 28:
                size = 1 << (ai - 24)
                if pos + size > n:
                    raise ValueError("truncated")
                val = int.from_bytes(data[pos : pos + size], "big")
                pos += size
                if deterministic and ib < 0xE0 and val >> (4 * size) == 0:
                    raise ValueError("argument not in its shortest form")
            else:
                raise ValueError("indefinite length or reserved value")
            major = ib >> 5
            if major < 2:
                remaining -= 1
            elif major < 4:
                if val > n - pos:
                    raise ValueError("string beyond the input")
                pos += val
                remaining -= 1
            elif major == 7:
                if ai == 24 and val < 32:
                    raise ValueError("simple value in two bytes below 32")
                remaining -= 1
            else:
                if major == 4:
                    count = val
                elif major == 5:
                    count = 2 * val
                    pairs += val
                else:  # tag
                    if tags is not None and val not in tags:
                        raise ValueError("tag not allowed")
                    if deterministic and (val == 2 or val == 3):
                        _check_bignum(data, pos)
                    count = 1
                if count:
                    if count > n - pos:
                        raise ValueError("container beyond the input")
                    stack.append(remaining)
                    if len(stack) > max_depth:
                        raise ValueError("nested too deeply")
                    remaining = count
                    continue
                remaining -= 1
            while not remaining:
                if not stack:
                    if pos != n:
                        raise ValueError("trailing bytes")
                    return pairs
                remaining = stack.pop() - 1
    except IndexError:
        raise ValueError("truncated") from None


# bytes that can open a nesting level: array (0x80-0x9f), map (0xa0-0xbf), tag (0xc0-0xdb)
_NESTING = bytes(1 if 0x80 <= b <= 0xDB else 0 for b in range(256))


def _round_trip(data: bytes, max_depth: int) -> Any:
    """Fast path: the value if ``cbor2`` re-encodes it to exactly ``data``, else ``None``.

    Byte-identical re-encoding proves definite lengths, preferred argument encodings, no
    duplicate keys (they shrink the map) and no trailing bytes. Nesting deeper than
    ``max_depth`` needs more than ``max_depth`` bytes in 0x80-0xdb; with fewer, depth is safe.
    Anything else (including valid but non-preferred encodings) goes to the full scan.
    """
    if data.translate(_NESTING).count(1) > max_depth:
        return None
    try:
        value = _decode(data)
        if _encode(value) == data:
            return value
    except Exception:  # anything unusual: let the full scan decide and name the failure
        return None
    return None


_local = threading.local()
# Tags 25, 28, 29 and 256 (string references, shared values) keep state in a decoder from one
# item to the next; they need a tag argument of one byte or more (heads 0xd8-0xdb). Input
# without such a byte goes to a per-thread decoder, which therefore never holds such state;
# other input gets a fresh decoder.
_STATEFUL_TAG_HEADS = bytes(1 if 0xD8 <= b <= 0xDB else 0 for b in range(256))


def _decode(data: bytes) -> Any:
    """``cbor2.loads(data)``, through a per-thread decoder when no stateful tag can occur."""
    if data.translate(_STATEFUL_TAG_HEADS).count(1):
        return cbor2.loads(data)
    decoder: cbor2.CBORDecoder
    try:
        decoder = _local.decoder
    except AttributeError:
        decoder = _local.decoder = cbor2.CBORDecoder(io.BytesIO(b""), read_size=4096)
    try:
        return decoder.decode_from_bytes(data)
    except BaseException:
        del _local.decoder  # never reuse a decoder left in an unknown state
        raise


def _encode(value: object) -> bytes:
    """``cbor2.dumps(value)`` through a per-thread encoder (its set-up costs ~5 µs a call)."""
    out: io.BytesIO
    encoder: cbor2.CBOREncoder
    try:
        out, encoder = _local.encoder
    except AttributeError:
        out = io.BytesIO()
        encoder = cbor2.CBOREncoder(out)
        _local.encoder = (out, encoder)
    out.seek(0)
    out.truncate()
    try:
        encoder.encode(value)
    except BaseException:
        del _local.encoder  # never reuse an encoder left in an unknown state
        raise
    encoded = out.getvalue()
    if len(encoded) > 65_536:  # do not keep a large buffer alive in the thread
        del _local.encoder
    return encoded


def loads(
    data: bytes,
    *,
    max_depth: int = MAX_DEPTH,
    reason: Reason = Reason.BAD_CBOR,
    max_bytes: int = MAX_CBOR_BYTES,
    tags: frozenset[int] | None = COSE_TAGS,
) -> Any:
    """Decode exactly one strict, bounded CBOR item; any failure is ``DecodeError(reason)``.

    ``tags``: the tags allowed (default: the COSE tags); ``None`` allows every tag and turns
    on a re-encoding fast path (used for claims sets, whose values are type-checked after).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(reason, "not bytes")
    if len(data) > max_bytes:
        raise DecodeError(reason, "input too large")
    data = bytes(data)
    if tags is None:
        value = _round_trip(data, max_depth)
        if value is not None:
            return value
    return _scanned_loads(data, max_depth, reason, tags, False)


def _scanned_loads(
    data: bytes, max_depth: int, reason: Reason, tags: frozenset[int] | None, deterministic: bool
) -> Any:
    """The general path: the header scan, then ``cbor2`` with map entries counted."""
    try:
        pairs = _scan(data, max_depth, tags, deterministic)
    except ValueError as exc:
        raise DecodeError(reason, str(exc)) from None
    if not pairs:
        try:
            return cbor2.loads(data)
        except Exception as exc:  # cbor2 raises a zoo (CBORDecodeError, ValueError, ...)
            raise DecodeError(reason, "undecodable CBOR") from exc
    counted = [0]

    def count(_decoder: object, mapping: Any) -> Any:  # every decoded map, keys included
        counted[0] += len(mapping)
        return mapping

    try:
        value = cbor2.loads(data, object_hook=count)
    except Exception as exc:  # cbor2 raises a zoo (CBORDecodeError, ValueError, ...)
        raise DecodeError(reason, "undecodable CBOR") from exc
    if counted[0] != pairs:
        raise DecodeError(reason, "duplicate map key")
    return value


# nesting heads (arrays, maps, tags) -> 1, heads of possibly stateful tags -> 2, others -> 0
_HEADS = bytes(2 if 0xD8 <= b <= 0xDB else 1 if 0x80 <= b <= 0xDB else 0 for b in range(256))


def loads_deterministic(
    data: bytes,
    *,
    reason: Reason,
    max_bytes: int = MAX_CBOR_BYTES,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """One strict, bounded CBOR item that must also be deterministically encoded as far as
    values go (RFC 8949 §4.2.1: shortest arguments, definite lengths, no bignum for a value
    that fits in an integer; map key order and float widths are not checked). Every tag is
    allowed. Any failure is ``DecodeError(reason)``.

    Fast path: ``cbor2`` decodes and re-encodes the value; byte-identical output proves all
    of the above plus no duplicate keys and no trailing bytes. Anything else takes the header
    scan with the same rules, which names the failure (or accepts, e.g. a short float).
    """
    if type(data) is not bytes:
        if not isinstance(data, bytearray | memoryview):
            raise DecodeError(reason, "not bytes")
        data = bytes(data)
    if len(data) > max_bytes:
        raise DecodeError(reason, "input too large")
    heads = data.translate(_HEADS)
    stateful = heads.count(2)
    if not stateful and heads.count(1) <= max_depth:  # depth safe; a per-thread decoder is too
        try:
            decoder = _local.decoder
        except AttributeError:
            decoder = _local.decoder = cbor2.CBORDecoder(io.BytesIO(b""), read_size=4096)
        try:
            value = decoder.decode_from_bytes(data)
        except Exception:  # let the scan decide and name the failure
            del _local.decoder  # never reuse a decoder left in an unknown state
        else:
            try:
                encoder = _local.bare_encoder
            except AttributeError:
                encoder = _local.bare_encoder = cbor2.CBOREncoder(io.BytesIO())
            try:
                # encode_to_bytes writes into a buffer of its own: nothing large stays behind
                if encoder.encode_to_bytes(value) == data:
                    return value
            except Exception:
                del _local.bare_encoder  # never reuse an encoder left in an unknown state
    return _scanned_loads(data, max_depth, reason, None, True)

"""The compact plate index form: same answers as the strict decode, bound to the signed
bytes, and anything damaged or foreign is refused with a reason (then decoded strictly)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.verifier_internals import PLATE_CACHE_SUFFIX as CACHE_SUFFIX
from tests.support.verifier_internals import plate_cache as _plate_cache
from tests.vectors import own_vectors_root
from verifier import DataDir, DecodeError, Reason
from verifier.formats import decode_plate_index_payload

VECTORS = json.loads((own_vectors_root() / "verify.json").read_text(encoding="utf-8"))
SPEC = VECTORS["stores"]["main"]
INDEX_BLOB = bytes.fromhex(SPEC["sync"][1])
NOW = VECTORS["cases"][0]["now"]


def strict_index() -> object:
    import cbor2

    return decode_plate_index_payload(cbor2.loads(INDEX_BLOB).value[2])


def cache_bytes() -> bytes:
    return _plate_cache.encode(strict_index(), _plate_cache.digest(INDEX_BLOB))  # type: ignore[arg-type]


def test_round_trip_gives_the_same_index() -> None:
    strict = strict_index()
    cached = _plate_cache.decode(cache_bytes(), _plate_cache.digest(INDEX_BLOB))
    assert (cached.iss, cached.iat, cached.exp, cached.salt) == (
        strict.iss, strict.iat, strict.exp, strict.salt,  # type: ignore[attr-defined]
    )  # fmt: skip
    assert set(cached.entries) == set(strict.entries)  # type: ignore[attr-defined]
    for key, entries in strict.entries.items():  # type: ignore[attr-defined]
        assert cached.entries[key] == entries
    assert len(cached.entries) == len(strict.entries)  # type: ignore[attr-defined]


def test_a_cache_for_other_bytes_is_refused() -> None:
    with pytest.raises(DecodeError) as info:
        _plate_cache.decode(cache_bytes(), _plate_cache.digest(INDEX_BLOB + b"x"))
    assert info.value.reason is Reason.BAD_PLATE_INDEX


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_are_refused_with_a_reason(data: bytes) -> None:
    with pytest.raises(DecodeError):
        _plate_cache.decode(data, data[8:40].ljust(32, b"\0"))


def test_a_damaged_cache_falls_back_to_the_strict_decode(tmp_path: Path) -> None:
    from verifier import verify_plate

    data_dir = DataDir(tmp_path / "d")
    data_dir.add_anchor(bytes.fromhex(SPEC["anchors"][0]))
    for blob in SPEC["sync"]:
        data_dir.sync_bytes(bytes.fromhex(blob))
    caches = sorted(data_dir.plates_dir.glob(f"*{CACHE_SUFFIX}"))
    assert len(caches) == 2 and all(c.stat().st_mode & 0o777 == 0o600 for c in caches)
    before = verify_plate("GE-AB 1234", data_dir.load(), NOW).to_json()
    for cache in caches:
        cache.write_bytes(b"BIDPIX1\ngarbage")
    assert verify_plate("GE-AB 1234", data_dir.load(), NOW).to_json() == before
    for cache in caches:
        cache.unlink()
    assert verify_plate("GE-AB 1234", data_dir.load(), NOW).to_json() == before
    # syncing the same index again writes its compact form back
    data_dir.sync_bytes(bytes.fromhex(SPEC["sync"][1]))
    assert len(list(data_dir.plates_dir.glob(f"*{CACHE_SUFFIX}"))) == 1

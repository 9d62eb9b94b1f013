"""The direct plate index encoder writes exactly the bytes of the generic deterministic encoder."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.verifier_internals import plate_entry_list as _entry_list
from verifier.formats import (
    PlateEntry,
    PlateIndex,
    decode_plate_index_payload,
    encode_plate_index_payload,
    plate_key,
    plate_keyer,
)
from verifier.formats import cbor_dumps as dumps

_times = st.integers(min_value=0, max_value=2**40)
_odd_ints = st.sampled_from([-1, 0, 2**63 - 1, 2**63, 2**64 - 1])
_entry = st.builds(
    PlateEntry,
    st.integers(min_value=1, max_value=2**33) | _odd_ints,
    st.integers(min_value=0, max_value=2**31) | _odd_ints,
    st.integers(min_value=0, max_value=2**20),
    _times | _odd_ints,
    _times | _odd_ints,
    st.lists(
        st.sampled_from(["A3", "B1", "Z9", "ALT", "a3", " B1", ""]), min_size=0, max_size=3
    ).map(tuple),
    st.sampled_from(["BEW", "HW", "GEW", "XYZ", "bew"]),
)


def _generic(p: PlateIndex) -> bytes:
    return dumps(
        {
            "v": p.v,
            "iss": p.iss,
            "iat": p.iat,
            "exp": p.exp,
            "salt": p.salt,
            "entries": {k: [_entry_list(e) for e in v] for k, v in p.entries.items()},
        }
    )


@settings(max_examples=150, deadline=None)
@given(
    entries=st.dictionaries(
        st.binary(min_size=12, max_size=12), st.lists(_entry, min_size=1, max_size=4), max_size=40
    ),
    iat=_times | _odd_ints,
    salt=st.binary(min_size=16, max_size=16),
)
def test_direct_encoder_equals_generic_dumps(
    entries: dict[bytes, list[PlateEntry]], iat: int, salt: bytes
) -> None:
    index = PlateIndex(
        iss="05513000",
        iat=iat,
        exp=iat + 86400,
        salt=salt,
        entries={k: tuple(v) for k, v in entries.items()},
    )
    try:
        generic = _generic(index)
        decode_plate_index_payload(generic)
    except Exception:
        with pytest.raises(ValueError):
            encode_plate_index_payload(index)
        return
    assert encode_plate_index_payload(index) == generic


def test_plate_key_is_hmac_sha256_truncated() -> None:
    salt = bytes(range(16))
    want = hmac.new(salt, b"GE-AB 100", hashlib.sha256).digest()[:12]
    assert plate_key(salt, "GE-AB 100") == want
    assert len(plate_key(salt, "CC:X1")) == 12
    keyer = plate_keyer(salt)
    for plate in ("GE-AB 100", "CC:X1", "GE-AB 100", "B-Ä 1"):
        assert keyer(plate) == plate_key(salt, plate)

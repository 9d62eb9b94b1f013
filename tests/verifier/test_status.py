"""Status lists and Status List Tokens (draft-ietf-oauth-status-list): encoding, bounds,
hostile input."""

from __future__ import annotations

import zlib

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.verifier_examples import EC_PRIVATE as PRIVATE
from tests.support.verifier_examples import STATUS_LIST as LIST
from tests.support.verifier_examples import STATUS_TOKEN as TOKEN
from tests.support.verifier_internals import MAX_STATUS_LIST_BYTES
from verifier import DecodeError, Reason, SignatureError
from verifier.formats import (
    TYP_STATUS_LIST_CWT,
    Alg,
    StatusList,
    StatusValue,
    cose_kid,
    decode_status_list_cwt,
    decode_status_list_jwt,
    encode_status_list_cwt,
    encode_status_list_jwt,
    jws_kid,
    software_signer,
    verify_sign1,
)

KEY = PRIVATE.public_key()
SIGN = software_signer(PRIVATE)


def test_get_and_bounds() -> None:
    assert LIST.size == len(LIST) == 2**17
    assert [LIST.get(i) for i in (0, 1, 7, 90_210, 2**17 - 1)] == [1, 0, 2, 1, 3]
    assert LIST.get(7) == StatusValue.SUSPENDED
    for idx in (-1, 2**17):
        with pytest.raises(DecodeError) as info:
            LIST.get(idx)
        assert info.value.reason is Reason.STATUS_UNKNOWN
    with pytest.raises(ValueError):
        LIST.with_values({0: 4})
    with pytest.raises(ValueError):
        StatusList.from_values(3, 8, {})
    assert LIST.with_values({0: 0}).get(0) == 0 and LIST.get(0) == 1  # immutable


def test_lst_round_trip_and_bounded_inflate() -> None:
    assert StatusList.from_lst(2, LIST.to_lst()) == LIST
    bomb = zlib.compress(bytes(MAX_STATUS_LIST_BYTES + 1), 9)
    assert len(bomb) < 2000
    for lst in (
        bomb,
        b"",
        b"\x78\xda",
        zlib.compress(b""),
        zlib.compress(b"\x00") + b"\x00",
        b"x" * 10,
    ):
        with pytest.raises(DecodeError) as info:
            StatusList.from_lst(2, lst)
        assert info.value.reason is Reason.BAD_STATUS_LIST
    with pytest.raises(DecodeError):
        StatusList.from_lst(3, LIST.to_lst())
    assert StatusList.from_lst(8, zlib.compress(bytes(MAX_STATUS_LIST_BYTES))).size == 2**20


def test_cwt_round_trip() -> None:
    data = encode_status_list_cwt(TOKEN, alg=Alg.ES256, kid=cose_kid(KEY), sign=SIGN)
    msg, token = decode_status_list_cwt(data)
    assert token == TOKEN
    assert msg.content_type == TYP_STATUS_LIST_CWT
    assert msg.protected == {1: -7, 4: cose_kid(KEY), 16: TYP_STATUS_LIST_CWT}
    assert set(cbor2.loads(msg.payload)) == {2, 6, 4, 65534, 65533}
    verify_sign1(msg, KEY)


def test_jwt_round_trip() -> None:
    jwt = encode_status_list_jwt(TOKEN, kid=jws_kid(KEY), sign=SIGN)
    assert decode_status_list_jwt(jwt, KEY) == TOKEN
    with pytest.raises(SignatureError):
        decode_status_list_jwt(jwt, ec.derive_private_key(3, ec.SECP256R1()).public_key())


def test_cwt_without_content_type_is_refused() -> None:
    from verifier.formats import cbor_dumps as dumps
    from verifier.formats import encode_sign1, status_list_claims

    data = encode_sign1(dumps(status_list_claims(TOKEN)), alg=Alg.ES256, kid=b"k", sign=SIGN)
    with pytest.raises(DecodeError) as info:
        decode_status_list_cwt(data)
    assert info.value.reason is Reason.BAD_STATUS_LIST


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from([1, 2, 4, 8]).flatmap(
        lambda bits: st.tuples(
            st.just(bits),
            st.dictionaries(st.integers(0, 1023), st.integers(0, 2**bits - 1), max_size=50),
        )
    )
)
def test_values_round_trip(case: tuple[int, dict[int, int]]) -> None:
    bits, values = case
    status = StatusList.from_values(bits, 1024, values)
    again = StatusList.from_lst(bits, status.to_lst())
    assert again == status
    assert all(again.get(i) == values.get(i, 0) for i in range(1024))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_lst_fails_with_reason(data: bytes) -> None:
    try:
        StatusList.from_lst(2, data)
    except DecodeError as exc:
        assert exc.reason is Reason.BAD_STATUS_LIST

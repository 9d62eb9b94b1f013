"""Every format, mutated: a valid encoding with a few bytes or characters changed decodes or is
refused with the format's own reason, never with anything else; a signed or bound one is
always refused.

Each format keeps the edits that suit it: flipped bytes for signed binary formats, bytes set
to any value for plain CBOR, characters replaced, inserted or deleted for text formats.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.verifier_examples import (
    BUNDLE,
    CARE,
    EC_KEY,
    EC_PRIVATE,
    PLATE_INDEX,
    RESIDENT,
    SD_PRESENTED,
    STATUS_TOKEN,
    cbor_values,
    sd_verify_vc,
)
from tests.support.verifier_internals import plate_cache
from tests.vectors import own_vectors_root
from verifier import DecodeError, Reason, VerifierError
from verifier.formats import (
    Alg,
    cbor_dumps,
    cbor_loads,
    cose_kid,
    decode_bundle_payload,
    decode_claims_map,
    decode_jws,
    decode_permit_claims,
    decode_plate_index_payload,
    decode_sign1,
    decode_status_list_cwt,
    encode_bundle_payload,
    encode_jws,
    encode_permit_payload,
    encode_plate_index_payload,
    encode_sign1,
    encode_status_list_cwt,
    software_signer,
    verify_sign1,
)

SIGN = software_signer(EC_PRIVATE)
KID = cose_kid(EC_KEY)

# The plate index of the shared verification vectors, signed, and its compact cache form.
_VECTORS = json.loads((own_vectors_root() / "verify.json").read_text(encoding="utf-8"))
INDEX_BLOB = bytes.fromhex(_VECTORS["stores"]["main"]["sync"][1])
INDEX_DIGEST = plate_cache.digest(INDEX_BLOB)
INDEX_CACHE = plate_cache.encode(
    decode_plate_index_payload(cbor_loads(INDEX_BLOB).value[2]), INDEX_DIGEST
)


@dataclass(frozen=True)
class Format:
    """One format: valid encodings, what checks one, and how it may be edited."""

    name: str
    valid: tuple[Any, ...] | st.SearchStrategy[Any]  # valid encodings, or a strategy of them
    check: Callable[[Any], object]
    error: type[VerifierError]
    reasons: frozenset[Reason] | None  # None: any reason of the error family
    must_fail: bool  # signed or bound to its bytes: a changed input never passes
    edits: tuple[str, ...]
    alphabet: str = ""
    max_edits: int = 1


FORMATS = [
    Format(
        "cbor",
        cbor_values.map(cbor_dumps),
        cbor_loads,
        DecodeError,
        frozenset({Reason.BAD_CBOR}),
        must_fail=False,
        edits=("set",),
    ),
    Format(
        "permit_claims",
        (encode_permit_payload(RESIDENT), encode_permit_payload(CARE)),
        lambda data: decode_permit_claims(decode_claims_map(data)),
        DecodeError,
        frozenset({Reason.BAD_CLAIMS}),
        must_fail=False,
        edits=("set",),
    ),
    Format(
        "cose_sign1",
        tuple(
            encode_sign1(payload, alg=Alg.ES256, kid=KID, sign=SIGN)
            for payload in (
                cbor_dumps({1: "05513000", 6: 1_700_000_000, 4: 1_800_000_000}),
                encode_permit_payload(CARE),
            )
        ),
        lambda data: verify_sign1(decode_sign1(data), EC_KEY),
        VerifierError,
        None,
        must_fail=True,
        edits=("xor",),
        max_edits=3,
    ),
    Format(
        "status_list_cwt",
        (encode_status_list_cwt(STATUS_TOKEN, alg=Alg.ES256, kid=KID, sign=SIGN),),
        lambda data: verify_sign1(decode_status_list_cwt(data)[0], EC_KEY),
        VerifierError,
        None,
        must_fail=True,
        edits=("xor",),
    ),
    Format(
        "trust_bundle",
        (encode_bundle_payload(BUNDLE),),
        decode_bundle_payload,
        DecodeError,
        frozenset({Reason.BAD_BUNDLE}),
        must_fail=False,
        edits=("xor",),
    ),
    Format(
        "plate_index",
        (encode_plate_index_payload(PLATE_INDEX),),
        decode_plate_index_payload,
        DecodeError,
        frozenset({Reason.BAD_PLATE_INDEX}),
        must_fail=False,
        edits=("xor",),
    ),
    Format(
        "plate_index_cache",
        (INDEX_CACHE,),
        lambda data: plate_cache.decode(data, INDEX_DIGEST),
        DecodeError,
        None,
        must_fail=True,
        edits=("xor",),
    ),
    Format(
        "jws",
        (encode_jws({"alg": "ES256"}, b"payload", SIGN),),
        lambda text: decode_jws(text, EC_KEY),
        VerifierError,
        None,
        must_fail=True,
        edits=("replace",),
        alphabet="AZaz09-_.=+/ ",
    ),
    Format(
        "sd_jwt_vc_presentation",
        (SD_PRESENTED,),
        sd_verify_vc,
        VerifierError,
        None,
        must_fail=True,
        edits=("delete", "replace", "insert"),
        alphabet='AZaz09-_.~={}"[] \x00é',
    ),
]


def _mutated(data: st.DataObject, fmt: Format, original: bytes | str) -> bytes | str:
    value: list[Any] = list(original)
    for _ in range(data.draw(st.integers(1, fmt.max_edits), label="edits")):
        if not value:
            break
        at = data.draw(st.integers(0, len(value) - 1), label="at")
        edit = data.draw(st.sampled_from(fmt.edits), label="edit")
        if edit == "xor":
            value[at] ^= data.draw(st.integers(1, 255), label="xor")
        elif edit == "set":
            value[at] = data.draw(st.integers(0, 255), label="byte")
        elif edit == "delete":
            del value[at]
        else:
            char = data.draw(st.sampled_from(fmt.alphabet), label="char")
            if edit == "replace":
                value[at] = char
            else:
                value.insert(at, char)
    return bytes(value) if isinstance(original, bytes) else "".join(value)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_mutated_encoding_decodes_or_is_refused_with_its_reason(
    fmt: Format, data: st.DataObject
) -> None:
    valid = fmt.valid if isinstance(fmt.valid, st.SearchStrategy) else st.sampled_from(fmt.valid)
    original = data.draw(valid, label="valid")
    mutated = _mutated(data, fmt, original)
    try:
        fmt.check(mutated)
    except VerifierError as exc:
        assert isinstance(exc, fmt.error), exc
        assert isinstance(exc.reason, Reason)
        assert fmt.reasons is None or exc.reason in fmt.reasons, exc.reason
        return
    assert not fmt.must_fail or mutated == original, f"a changed {fmt.name} passed"


@pytest.mark.parametrize(
    "fmt", [f for f in FORMATS if isinstance(f.valid, tuple)], ids=lambda f: f.name
)
def test_the_examples_are_valid(fmt: Format) -> None:
    assert isinstance(fmt.valid, tuple)
    for example in fmt.valid:
        fmt.check(example)

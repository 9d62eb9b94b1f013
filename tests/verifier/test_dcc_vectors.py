"""The 107 EU DCC test cases through our Base45, zlib and COSE layers (third-party vectors
dcc/, located by tests.vectors).

Steps as in the vectors README: ``EXPECTEDUNPREFIX`` (``HC1:`` + ``BASE45``),
``EXPECTEDB45DECODE`` (our strict Base45 gives ``COMPRESSED``), ``EXPECTEDCOMPRESSION``
(bounded inflate gives ``COSE``) and ``EXPECTEDVERIFY`` (our COSE_Sign1 layer with
``CONFORMANCE_PROFILE``: the kid, protected first, equals SHA-256(DSC DER)[:8] **and** the
signature verifies with the DSC key; PS256 and the other DCC algorithms go through the one
``verify_signature`` wrapper). Where a case omits an intermediate field, the value is carried
forward from the previous step of our own pipeline (``COMPRESSED`` := Base45 decode of
``BASE45``; ``COSE`` := inflate of that). None of these four steps depends on time; each case
is still evaluated at its own ``VALIDATIONCLOCK`` (never the wall clock), which is parsed here.
Deliberate differences are ``xfail(strict=True)`` with the reason (docs/formats.md).
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography import x509

from tests.vectors import load_index, load_json
from verifier import VerifierError
from verifier.formats import CONFORMANCE_PROFILE, b45decode, decode_sign1, verify_sign1

INDEX = load_index("dcc")["files"]
STEPS = ("EXPECTEDUNPREFIX", "EXPECTEDB45DECODE", "EXPECTEDCOMPRESSION", "EXPECTEDVERIFY")
MAX_INFLATED_BYTES = 64 * 1024
DECISIONS = {
    ("common/2DCode/raw/CO20.json", "EXPECTEDVERIFY"): "alg only in the unprotected header: "
    "RFC 9052 §3.1 requires alg to be integrity-protected where possible; we refuse",
    ("common/2DCode/raw/CO21.json", "EXPECTEDVERIFY"): "kid in both header buckets: RFC 9052 §3 "
    "forbids a label in both; we refuse instead of preferring the protected one",
    ("ES/2DCode/raw/401.json", "EXPECTEDVERIFY"): "declares ES256 but is signed with a P-384 "
    "key (96-byte signature); we bind alg to curve. Upstream known issue #228",
}


def _clock(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:  # 15 files carry no offset; upstream reads them as UTC
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    raw = inflater.decompress(data, MAX_INFLATED_BYTES)
    if not inflater.eof or inflater.unused_data:
        raise zlib.error("truncated, oversized or trailing data")
    return raw


def _run_step(step: str, case: dict[str, Any], now: int) -> bool:
    """One step of the DCC harness through our layers; True when the step succeeds."""
    assert now > 1_600_000_000  # 2020-09: every case is evaluated at its own 2021/2022 clock
    try:
        if step == "EXPECTEDUNPREFIX":
            return case["PREFIX"].startswith("HC1:") and case["PREFIX"][4:] == case["BASE45"]
        compressed = b45decode(case["BASE45"]) if "BASE45" in case else None
        if step == "EXPECTEDB45DECODE":
            assert compressed is not None
            if "COMPRESSED" in case:
                return compressed == bytes.fromhex(case["COMPRESSED"])
            return bool(_inflate(compressed))
        if "COMPRESSED" in case:
            compressed = bytes.fromhex(case["COMPRESSED"])
        if step == "EXPECTEDCOMPRESSION":
            assert compressed is not None
            inflated = _inflate(compressed)
            return "COSE" not in case or inflated == bytes.fromhex(case["COSE"])
        assert step == "EXPECTEDVERIFY"
        if "COSE" in case:
            cose = bytes.fromhex(case["COSE"])
        else:
            assert compressed is not None
            cose = _inflate(compressed)
        der = base64.b64decode(case["TESTCTX"]["CERTIFICATE"])
        key: Any = x509.load_der_x509_certificate(der).public_key()
        msg = decode_sign1(cose, profile=CONFORMANCE_PROFILE)
        verify_sign1(msg, key)
        return msg.kid == hashlib.sha256(der).digest()[:8]
    except (VerifierError, zlib.error):
        return False


def _params() -> list[Any]:
    params = []
    for entry in INDEX:
        for step, expected in entry["expected"].items():
            if step not in STEPS:
                continue
            reason = DECISIONS.get((entry["path"], step))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(
                pytest.param(entry, step, expected, id=f"{entry['path']}:{step}", marks=marks)
            )
    return params


def test_index_covers_107_cases() -> None:
    assert len(INDEX) == 107
    assert all(isinstance(entry["expected"], dict) for entry in INDEX)


@pytest.mark.parametrize(("entry", "step", "expected"), _params())
def test_dcc_step(entry: dict[str, Any], step: str, expected: bool) -> None:
    case = load_json(f"dcc/{entry['path']}")
    now = _clock(case["TESTCTX"]["VALIDATIONCLOCK"])
    assert case["EXPECTEDRESULTS"][step] is expected
    assert _run_step(step, case, now) is expected

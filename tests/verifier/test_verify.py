"""verify() and verify_plate() beyond the vectors: purity, error discipline, parameters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.verifier_internals import claims_module as _claims
from tests.support.verifier_internals import in_windows
from tests.support.verifier_stores import fresh_dir, load_vector_generator, vector_generator
from tests.vectors import own_vectors_root
from verifier import (
    Context,
    DataDir,
    Notice,
    Outcome,
    Reason,
    TrustStore,
    ZoneError,
    verify,
    verify_plate,
)

VECTORS = json.loads((own_vectors_root() / "verify.json").read_text(encoding="utf-8"))
CASES = {c["name"]: c for c in VECTORS["cases"]}
NOW = CASES["valid_es256"]["now"]
VALID = CASES["valid_es256"]["input"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> TrustStore:
    spec = VECTORS["stores"]["main"]
    data_dir = DataDir(tmp_path_factory.mktemp("verify"))
    for anchor in spec["anchors"]:
        data_dir.add_anchor(bytes.fromhex(anchor))
    for blob in spec["sync"]:
        data_dir.sync_bytes(bytes.fromhex(blob))
    return data_dir.load()


def test_a_bug_propagates(store: TrustStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("our bug")

    monkeypatch.setattr(_claims, "decode_permit_claims", broken)
    with pytest.raises(RuntimeError):
        verify(VALID, store, NOW)


def test_pure_same_answer_every_time(store: TrustStore) -> None:
    first = verify(VALID, store, NOW).to_json()
    assert all(verify(VALID, store, NOW).to_json() == first for _ in range(5))


def test_leeway_is_a_parameter(store: TrustStore) -> None:
    text = CASES["nbf_within_leeway"]["input"]
    assert verify(text, store, NOW).outcome is Outcome.VALID
    assert verify(text, store, NOW, leeway_seconds=0).reason is Reason.NOT_YET_VALID


def test_early_failures_show_no_permit_but_the_bundle(store: TrustStore) -> None:
    verdict = verify(CASES["signature_flipped_bit"]["input"], store, NOW + 2 * 86400)
    assert verdict.reason is Reason.BAD_SIGNATURE and verdict.permit is None
    assert verdict.bundle is not None and verdict.bundle.age_s == NOW + 2 * 86400 - store.iat
    assert verdict.warnings == (Notice.BUNDLE_STALE,)


def test_late_failures_show_the_permit(store: TrustStore) -> None:
    verdict = verify(CASES["status_revoked"]["input"], store, NOW)
    assert verdict.reason is Reason.REVOKED
    assert verdict.permit is not None and verdict.permit.plates == ("GE-AB 1234",)


def test_officer_typos_never_match(store: TrustStore) -> None:
    assert verify(VALID, store, NOW, Context(plate="???")).reason is Reason.WRONG_PLATE
    assert verify_plate("???", store, NOW).reason is Reason.NO_PERMIT


def test_a_zone_that_is_no_zone_checks_nothing(store: TrustStore) -> None:
    for zone in ("%%", "0551300:A3", "05513000:%%", ""):
        with pytest.raises(ZoneError) as info:
            verify(VALID, store, NOW, Context(zone=zone))
        assert info.value.reason is Reason.BAD_ZONE
        with pytest.raises(ZoneError):
            verify_plate("GE-AB 1234", store, NOW, zone=zone)


def test_a_bare_zone_code_needs_a_municipality_when_two_cities_are_synced(
    store: TrustStore,
) -> None:
    assert len(store.issuers) == 2
    with pytest.raises(ZoneError) as info:
        verify(VALID, store, NOW, Context(zone="A3"))
    assert info.value.reason is Reason.AMBIGUOUS_ZONE
    with pytest.raises(ZoneError) as info:
        verify_plate("GE-AB 1234", store, NOW, zone="A3")
    assert info.value.reason is Reason.AMBIGUOUS_ZONE
    valid = verify(VALID, store, NOW, Context(zone="A3", municipality="05513000"))
    assert valid.outcome is Outcome.VALID
    assert valid.zone is not None and (valid.zone.municipality, valid.zone.code) == (
        "05513000",
        "A3",
    )
    assert valid.zone.name == store.issuers["05513000"].name
    assert "zone" not in valid.to_json()  # the JSON contract is unchanged


def test_a_bare_zone_code_takes_the_only_issuer(tmp_path: Path) -> None:
    G = vector_generator()
    one = G.bundle(1, G.ROOT1, issuers={G.ISS_A: G.issuer_a_entry()})
    store = fresh_dir(tmp_path, one).load()
    assert list(store.issuers) == [G.ISS_A]
    verdict = verify(VALID, store, NOW, Context(zone="a3"))
    assert verdict.outcome is Outcome.VALID and verdict.zone is not None
    assert verdict.zone.municipality == G.ISS_A


def test_times_outside_the_calendar_are_outside_every_window() -> None:
    assert in_windows([(127, 0, 1440)], NOW)
    assert not in_windows([(127, 0, 1440)], 2**62)
    assert not in_windows([(127, 0, 1440)], -(2**62))


def test_plate_verdict_shape(store: TrustStore) -> None:
    data = verify_plate("ge-ab 1234", store, NOW).to_json()
    assert data["permit"]["plates"] == ["GE-AB 1234"] and data["permit"]["iat"] is None


def test_loaded_store_is_not_changed_by_checks(store: TrustStore, tmp_path: Path) -> None:
    before = (store.seq, dict(store.status), dict(store.keys), dict(store.plate_indexes))
    for case in VECTORS["cases"]:
        if case["store"] == "main" and case["kind"] == "qr":
            verify(case["input"], store, case["now"])
    assert before == (store.seq, dict(store.status), dict(store.keys), dict(store.plate_indexes))


def _resigned(payload: bytes) -> str:
    gen = load_vector_generator()
    return str(gen.qr(gen.sign1(payload, gen.A1)))


def test_claims_must_be_deterministic_integers(store: TrustStore) -> None:
    from verifier.formats import b45decode, decode_sign1

    payload = decode_sign1(b45decode(VALID[5:])).payload
    assert verify(_resigned(payload), store, NOW).outcome is Outcome.VALID
    exp = payload[payload.index(b"\x04\x1a") + 2 :][:4]
    for spelled in (b"\x04\x1b" + bytes(4) + exp, b"\x04\xc2\x44" + exp):  # 8 bytes; bignum
        text = _resigned(payload.replace(b"\x04\x1a" + exp, spelled))
        assert verify(text, store, NOW).reason is Reason.BAD_CLAIMS

"""Digital-only permits by plate: several indexes, key withdrawal, rollback, many plates."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.support.verifier_stores import fresh_dir, vector_generator
from verifier import Outcome, Reason, TrustError, verify_plate

G = vector_generator()
NOW = G.NOW


def test_same_plate_in_two_municipalities(tmp_path: Path) -> None:
    revoked_in_a = G.plate_index(G.A1, G.ISS_A, {"RE-X 7E": [G.entry(1, 5)]}, seed="s1")
    data_dir = fresh_dir(
        tmp_path,
        G.bundle(1, G.ROOT1),
        revoked_in_a,
        G.plate_index(G.B_BEW, G.ISS_B, G.PLATES_B, seed="s2"),
    )
    store = data_dir.load()
    verdict = verify_plate("re x 7e", store, NOW)
    assert verdict.outcome is Outcome.VALID and verdict.permit is not None
    assert verdict.permit.issuer == G.ISS_B  # the valid entry wins over A's revoked one
    only_a = verify_plate("re x 7e", store, NOW, zone=f"{G.ISS_A}:A3")
    assert only_a.reason is Reason.REVOKED


def test_withdrawn_key_makes_its_index_unusable(tmp_path: Path) -> None:
    data_dir = fresh_dir(
        tmp_path, G.bundle(1, G.ROOT1), G.plate_index(G.A1, G.ISS_A, G.PLATES_A, seed="p")
    )
    assert verify_plate("GE-AB 1234", data_dir.load(), NOW).outcome is Outcome.VALID
    issuer_a = G.issuer_a_entry()
    issuer_a["keys"] = [k for k in issuer_a["keys"] if k["kid"] != G.A1.thumbprint]
    issuer_a["status"] = {n: t for n, t in issuer_a["status"].items() if n != 1}
    data_dir.sync_bytes(G.bundle(2, G.ROOT1, issuers={G.ISS_A: issuer_a}))
    verdict = verify_plate("GE-AB 1234", data_dir.load(), NOW)
    assert verdict.reason is Reason.NO_PLATE_INDEX


def test_older_plate_index_is_refused(tmp_path: Path) -> None:
    newer = G.plate_index(G.A1, G.ISS_A, G.PLATES_A, seed="n", iat=NOW - 60)
    older = G.plate_index(G.A1, G.ISS_A, G.PLATES_A, seed="o", iat=NOW - 7200)
    data_dir = fresh_dir(tmp_path, G.bundle(1, G.ROOT1), newer)
    stored = (data_dir.plates_dir).iterdir().__next__().read_bytes()
    with pytest.raises(TrustError) as info:
        data_dir.sync_bytes(older)
    assert info.value.reason is Reason.BUNDLE_ROLLBACK
    assert next(data_dir.plates_dir.iterdir()).read_bytes() == stored


def test_many_plates(tmp_path: Path) -> None:
    rng = random.Random(5)
    plates = {f"GE-{a}{b} {n}": [G.entry(n * 100 + i, 10)]
              for i, (a, b, n) in enumerate((chr(65 + i % 26), chr(65 + i // 26 % 26), 1 + i % 999)
                                            for i in range(2000))}  # fmt: skip
    data_dir = fresh_dir(
        tmp_path, G.bundle(1, G.ROOT1), G.plate_index(G.A1, G.ISS_A, plates, seed="m")
    )
    store = data_dir.load()
    for plate in rng.sample(sorted(plates), 50):
        verdict = verify_plate(plate.lower(), store, NOW)
        assert verdict.outcome is Outcome.VALID
        assert verdict.permit is not None and verdict.permit.number == plates[plate][0][0]
    assert verify_plate("GE-ZZ 9999", store, NOW).reason is Reason.NO_PERMIT

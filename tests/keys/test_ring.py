"""The key ring: creation, keys in files and in a token, signer choice, rotation, withdrawal."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keys.errors import KeyFileError, KeyRingError, KeysCode, KeysError
from keys.lifecycle import KeyState, Purpose, RotationPolicy
from keys.ring import Backend, KeyRing, RingKind
from keys.storage.pkcs11 import Pkcs11Token
from tests.keys.conftest import CHEAP_KDF, T0, SoftHsm
from verifier import PermitType
from verifier.formats import Alg, verify_signature

PASS = "ring passphrase"
DAY = 86_400
POLICY = RotationPolicy(fresh_seconds=DAY, max_token_seconds=30 * DAY, sign_seconds=90 * DAY)


def _ring(tmp_path: Path, kind: RingKind = RingKind.ISSUER) -> KeyRing:
    return KeyRing.create(tmp_path / "ring", "05513000", kind=kind, passphrase=PASS, kdf=CHEAP_KDF)


def _add(ring: KeyRing, nbf: int = T0, **kw: object) -> str:
    info = ring.add_key(nbf=nbf, sign_until=nbf + 90 * DAY, exp=nbf + 120 * DAY, **kw)  # type: ignore[arg-type]
    return info.kid


def test_create_and_open(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    assert ring.issuer_id == "05513000" and ring.kind is RingKind.ISSUER
    again = KeyRing.open(tmp_path / "ring")
    assert again.records(T0) == []
    assert stat.S_IMODE((tmp_path / "ring" / "ring.json").stat().st_mode) == 0o600


def test_create_twice_is_refused(tmp_path: Path) -> None:
    _ring(tmp_path)
    with pytest.raises(KeyRingError) as info:
        _ring(tmp_path)
    assert info.value.code is KeysCode.RING_EXISTS


def test_open_missing(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError) as info:
        KeyRing.open(tmp_path / "nothing")
    assert info.value.code is KeysCode.RING_NOT_FOUND


@pytest.mark.parametrize("alg", [Alg.ES256, Alg.EDDSA], ids=["es256", "ed25519"])
def test_add_key_and_sign(tmp_path: Path, alg: Alg) -> None:
    ring = _ring(tmp_path)
    kid = _add(ring, alg=alg)
    (record,) = ring.records(T0)
    assert record.kid == kid and record.alg == alg and record.backend is Backend.FILE
    assert record.state is KeyState.ACTIVE
    key_file = tmp_path / "ring" / "keys" / f"{kid}.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # a fresh process: opened from disk with the passphrase
    reopened = KeyRing.open(tmp_path / "ring", passphrase=PASS)
    signer = reopened.signer_for(T0, PermitType.BEW)
    assert signer.jws_kid == kid
    verify_signature(record.public_key, alg, b"m", signer.sign(b"m"))


def test_metadata_holds_no_private_key(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    _add(ring)
    doc = json.loads((tmp_path / "ring" / "ring.json").read_text())
    assert "d" not in doc["keys"][0]["public_key"]
    assert set(doc["keys"][0]) >= {"kid", "alg", "nbf", "sign_until", "exp", "types", "backend"}


def test_signing_needs_the_passphrase(tmp_path: Path) -> None:
    _add(_ring(tmp_path))
    ring = KeyRing.open(tmp_path / "ring")
    assert len(ring.records(T0)) == 1  # reading needs no secret
    with pytest.raises(KeyRingError) as info:
        ring.signer_for(T0, "BEW")
    assert info.value.code is KeysCode.PASSPHRASE_REQUIRED


def test_wrong_passphrase(tmp_path: Path) -> None:
    _add(_ring(tmp_path))
    with pytest.raises(KeyFileError) as info:
        KeyRing.open(tmp_path / "ring", passphrase="nope").signer_for(T0, "BEW")
    assert info.value.code is KeysCode.KEY_FILE_DECRYPT


def test_swapped_key_file_is_detected(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    a, b = _add(ring), _add(ring, nbf=T0 - 10)
    keys_dir = tmp_path / "ring" / "keys"
    (keys_dir / f"{a}.key").replace(tmp_path / "a.key")
    (keys_dir / f"{b}.key").replace(keys_dir / f"{a}.key")
    with pytest.raises(KeyRingError) as info:
        KeyRing.open(tmp_path / "ring", passphrase=PASS).signer(a)
    assert info.value.code is KeysCode.KEY_MISMATCH


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (T0 - 1, None),  # pending only
        (T0, "first"),
        (T0 + 90 * DAY - 1, "first"),
        (T0 + 90 * DAY, "second"),  # handover exactly at sign_until
    ],
)
def test_signer_for_picks_the_active_key(tmp_path: Path, now: int, expected: str | None) -> None:
    ring = _ring(tmp_path)
    kids = {"first": _add(ring), "second": _add(ring, nbf=T0 + 90 * DAY)}
    if expected is None:
        with pytest.raises(KeyRingError) as info:
            ring.signer_for(now, "BEW")
        assert info.value.code is KeysCode.NO_ACTIVE_KEY
    else:
        assert ring.signer_for(now, "BEW").jws_kid == kids[expected]


@pytest.mark.parametrize("now", [T0, T0 + 90 * DAY - 1, T0 + 90 * DAY])
def test_active_signer_is_active_and_signer_for_from_one_reading(
    tmp_path: Path, now: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ring = _ring(tmp_path)
    _add(ring)
    _add(ring, nbf=T0 + 90 * DAY)
    expected = (ring.active(now, "BEW"), ring.signer_for(now, "BEW").jws_kid)
    reads: list[object] = []
    read = ring.storage.read_if_changed
    monkeypatch.setattr(
        ring.storage, "read_if_changed", lambda known: reads.append(known) or read(known)
    )
    info, signer = ring.active_signer(now, "BEW")
    assert (info, signer.jws_kid) == expected
    assert info.kid == signer.jws_kid
    assert len(reads) == 1


def test_overlapping_active_keys_newest_signs(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    _add(ring)
    newer = _add(ring, nbf=T0 + 10)
    assert ring.signer_for(T0 + 10, "status").jws_kid == newer


def test_types_restrict_signing(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    status_only = _add(ring, types=["status"])
    assert ring.signer_for(T0, "status").jws_kid == status_only
    with pytest.raises(KeyRingError) as info:
        ring.signer_for(T0, "BEW")
    assert info.value.code is KeysCode.NO_ACTIVE_KEY


def test_unknown_purpose(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    _add(ring)
    with pytest.raises(KeyRingError) as info:
        ring.signer_for(T0, "parking")
    assert info.value.code is KeysCode.BAD_TYPES


def test_bundle_type_only_in_root_rings(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    with pytest.raises(KeyRingError) as info:
        _add(ring, types=["bundle"])
    assert info.value.code is KeysCode.BAD_TYPES
    root = KeyRing.create(
        tmp_path / "root", "operator", kind=RingKind.ROOT, passphrase=PASS, kdf=CHEAP_KDF
    )
    kid = _add(root)
    assert root.find(kid, T0).types == (Purpose.BUNDLE,)
    with pytest.raises(KeyRingError) as info:
        _add(root, types=["BEW"])
    assert info.value.code is KeysCode.BAD_TYPES


def test_withdraw(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    kid = _add(ring)
    withdrawn = ring.withdraw(kid[:8], T0 + 5)
    assert withdrawn.state is KeyState.WITHDRAWN and withdrawn.withdrawn_at == T0 + 5
    assert ring.published(T0 + 5) == []
    with pytest.raises(KeyRingError) as info:
        ring.signer_for(T0 + 5, "BEW")
    assert info.value.code is KeysCode.NO_ACTIVE_KEY
    assert ring.withdraw(kid, T0 + 99).withdrawn_at == T0 + 5  # the first time stays


def test_withdrawn_in_another_process_stops_signing_here(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    kid = _add(ring)
    assert ring.signer_for(T0, "BEW").jws_kid == kid
    KeyRing.open(tmp_path / "ring").withdraw(kid, T0)
    with pytest.raises(KeyRingError) as info:
        ring.signer_for(T0, "BEW")
    assert info.value.code is KeysCode.NO_ACTIVE_KEY


def test_unknown_or_ambiguous_kid(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    _add(ring)
    for kid in ("AAAAAAAAAA", "", "abc"):
        with pytest.raises(KeyRingError) as info:
            ring.withdraw(kid, T0)
        assert info.value.code is KeysCode.UNKNOWN_KEY


def test_published_excludes_expired_and_withdrawn(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    expired = ring.add_key(nbf=T0 - 100, sign_until=T0 - 50, exp=T0).kid
    retired = ring.add_key(nbf=T0 - 100, sign_until=T0 - 50, exp=T0 + 1).kid
    active = _add(ring)
    pending = _add(ring, nbf=T0 + 1)
    withdrawn = _add(ring)
    ring.withdraw(withdrawn, T0)
    states = {r.kid: r.state for r in ring.records(T0)}
    assert states[expired] is KeyState.EXPIRED and states[withdrawn] is KeyState.WITHDRAWN
    assert {k.kid for k in ring.published(T0)} == {retired, active, pending}


def test_rotate_creates_a_pending_key_once(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    current = _add(ring, alg=Alg.EDDSA, types=["BEW", "status"])
    new = ring.rotate(T0 + 10 * DAY, POLICY)
    assert new is not None and new.state is KeyState.PENDING
    assert new.window.nbf == T0 + 90 * DAY  # seamless handover at the current sign_until
    assert new.alg == Alg.EDDSA and new.types == (PermitType.BEW, Purpose.STATUS)
    assert ring.rotate(T0 + 11 * DAY, POLICY) is None  # successor already published
    assert ring.signer_for(T0 + 90 * DAY - 1, "BEW").jws_kid == current
    assert ring.signer_for(T0 + 90 * DAY, "BEW").jws_kid == new.kid


def test_forced_rotation_after_withdrawal(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    old = _add(ring)
    ring.withdraw(old, T0 + DAY)
    new = ring.rotate(T0 + DAY, POLICY, force=True)
    assert new is not None
    assert new.window.nbf == T0 + 2 * DAY
    assert [k.kid for k in ring.published(T0 + DAY)] == [new.kid]


def test_forced_rotation_shortens_the_active_key(tmp_path: Path) -> None:
    ring = _ring(tmp_path)
    old = _add(ring)
    new = ring.rotate(T0 + DAY, POLICY, force=True)
    assert new is not None
    old_info = ring.find(old, T0 + DAY)
    assert old_info.window.sign_until == new.window.nbf == T0 + 2 * DAY
    assert old_info.window.exp == T0 + 120 * DAY  # never shortened


def test_concurrent_rotations_add_one_key(tmp_path: Path) -> None:
    _add(_ring(tmp_path))
    rings = [KeyRing.open(tmp_path / "ring", passphrase=PASS, kdf=CHEAP_KDF) for _ in range(6)]
    barrier = threading.Barrier(len(rings))
    results: list[object] = []

    def rotate(ring: KeyRing) -> None:
        barrier.wait()
        results.append(ring.rotate(T0 + DAY, POLICY))

    threads = [threading.Thread(target=rotate, args=(r,)) for r in rings]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1
    assert len(KeyRing.open(tmp_path / "ring").records(T0)) == 2


def test_concurrent_adds_keep_every_key(tmp_path: Path) -> None:
    _ring(tmp_path)
    rings = [KeyRing.open(tmp_path / "ring", passphrase=PASS, kdf=CHEAP_KDF) for _ in range(6)]
    barrier = threading.Barrier(len(rings))

    def add(ring: KeyRing) -> None:
        barrier.wait()
        _add(ring)

    threads = [threading.Thread(target=add, args=(r,)) for r in rings]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(KeyRing.open(tmp_path / "ring").records(T0)) == 6


def test_bundle_seq_is_strictly_increasing(tmp_path: Path) -> None:
    root = KeyRing.create(tmp_path / "root", "operator", kind=RingKind.ROOT, passphrase=PASS)
    assert root.next_bundle_seq() == 1
    assert root.next_bundle_seq() == 2
    assert root.next_bundle_seq(10) == 10
    for bad in (10, 3):
        with pytest.raises(KeyRingError) as info:
            root.next_bundle_seq(bad)
        assert info.value.code is KeysCode.SEQ_NOT_INCREASING
    assert KeyRing.open(tmp_path / "root").next_bundle_seq() == 11


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(format=2),
        lambda d: d.update(kind="other"),
        lambda d: d["keys"][0].update(kid="x" * 43),
        lambda d: d["keys"][0].update(alg=-8),
        lambda d: d["keys"][0].update(nbf="1"),
        lambda d: d["keys"][0].update(exp=0),
        lambda d: d["keys"][0].update(types=["XYZ"]),
        lambda d: d["keys"][0].update(backend="cloud"),
        lambda d: d["keys"][0]["public_key"].update(d="AAAA"),
        lambda d: d["keys"].append(d["keys"][0]),
    ],
)
def test_malformed_metadata(tmp_path: Path, mutate: object) -> None:
    _add(_ring(tmp_path))
    path = tmp_path / "ring" / "ring.json"
    doc = json.loads(path.read_text())
    mutate(doc)  # type: ignore[operator]
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyRingError) as info:
        KeyRing.open(tmp_path / "ring")
    assert info.value.code is KeysCode.RING_FORMAT


def test_not_json(tmp_path: Path) -> None:
    _ring(tmp_path)
    (tmp_path / "ring" / "ring.json").write_bytes(b"\xff{")
    with pytest.raises(KeyRingError) as info:
        KeyRing.open(tmp_path / "ring")
    assert info.value.code is KeysCode.RING_FORMAT


def test_pkcs11_keys_in_a_ring(tmp_path: Path, softhsm: SoftHsm) -> None:
    with Pkcs11Token.open(
        token_label=softhsm.token_label, pin=softhsm.pin, module=softhsm.module
    ) as tok:
        ring = KeyRing.create(tmp_path / "hsm", "05562004", pkcs11=tok)
        info = ring.add_key(nbf=T0, sign_until=T0 + DAY, exp=T0 + 2 * DAY, backend="pkcs11")
        assert info.backend is Backend.PKCS11
        assert list((tmp_path / "hsm" / "keys").iterdir()) == []  # nothing on disk
        reopened = KeyRing.open(tmp_path / "hsm", pkcs11=tok)
        signer = reopened.signer_for(T0, "BEW")
        verify_signature(info.public_key, Alg.ES256, b"m", signer.sign(b"m"))
        new = reopened.rotate(T0, POLICY)
        assert new is not None and new.backend is Backend.PKCS11
    with pytest.raises(KeyRingError) as err:
        KeyRing.open(tmp_path / "hsm").signer_for(T0, "BEW")
    assert err.value.code is KeysCode.PKCS11_REQUIRED


def test_withdrawing_a_pkcs11_key_destroys_it_in_the_token(
    tmp_path: Path, softhsm: SoftHsm
) -> None:
    with Pkcs11Token.open(
        token_label=softhsm.token_label, pin=softhsm.pin, module=softhsm.module
    ) as tok:
        ring = KeyRing.create(tmp_path / "hsm", "05562004", pkcs11=tok)
        kept = ring.add_key(nbf=T0, sign_until=T0 + DAY, exp=T0 + 2 * DAY, backend="pkcs11")
        gone = ring.add_key(nbf=T0, sign_until=T0 + DAY, exp=T0 + 2 * DAY, backend="pkcs11")
        ids = {e["kid"]: bytes.fromhex(e["ref"]["id"]) for e in _ring_doc(tmp_path / "hsm")}
        # without the token nothing changes: the key would stay usable in the HSM
        with pytest.raises(KeyRingError) as err:
            KeyRing.open(tmp_path / "hsm").withdraw(gone.kid, T0 + 5)
        assert err.value.code is KeysCode.PKCS11_REQUIRED
        assert ring.find(gone.kid, T0).withdrawn_at is None
        assert ring.withdraw(gone.kid, T0 + 5).withdrawn_at == T0 + 5
        with pytest.raises(KeysError) as err2:
            tok.signer(ids[gone.kid], Alg.ES256)
        assert err2.value.code is KeysCode.PKCS11_KEY_NOT_FOUND
        assert ring.withdraw(gone.kid, T0 + 9).withdrawn_at == T0 + 5  # again: nothing left
        signer = KeyRing.open(tmp_path / "hsm", pkcs11=tok).signer_for(T0 + 6, "BEW")
        assert signer.jws_kid == kept.kid  # the other key still signs in the token


def _ring_doc(path: Path) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = json.loads((path / "ring.json").read_text())["keys"]
    return keys


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_metadata_only_raises_keys_errors(tmp_path: Path, data: st.DataObject) -> None:
    base = tmp_path / "fuzz"
    if not base.exists():
        _add(KeyRing.create(base, "05513000", passphrase=PASS, kdf=CHEAP_KDF))
        (base / "seed.json").write_bytes((base / "ring.json").read_bytes())
    raw = bytearray((base / "seed.json").read_bytes())
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    (base / "ring.json").write_bytes(bytes(raw))
    try:
        ring = KeyRing.open(base)
        ring.records(T0)
    except KeysError:
        pass

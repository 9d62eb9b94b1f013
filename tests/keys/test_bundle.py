"""The trust-bundle builder: what it produces decodes and verifies with the verifier's code."""

from __future__ import annotations

from pathlib import Path

import pytest

from keys.bundle import IssuerSource, build_trust_bundle, issuer_from_ring
from keys.errors import BuildError, KeyRingError, KeysCode
from keys.lifecycle import Purpose, RotationPolicy
from keys.ring import KeyRing, RingKind
from keys.signer import generate_signer, sign_cose
from keys.status_list import sign_status_list_cwt, sign_status_list_jwt
from tests.keys.conftest import CHEAP_KDF, T0
from verifier import Outcome, PermitType, Reason, SignatureError, TrustStore, verify
from verifier.formats import (
    TYP_TRUST_BUNDLE,
    Alg,
    PermitClaims,
    PublicKey,
    StatusList,
    StatusListToken,
    TrustBundle,
    b45encode,
    decode_bundle_payload,
    decode_jws,
    decode_sign1,
    decode_status_list_cwt,
    encode_permit_payload,
    thumbprint,
    verify_sign1,
)

PASS = "pw"
DAY = 86_400
POLICY = RotationPolicy(fresh_seconds=DAY, max_token_seconds=30 * DAY, sign_seconds=90 * DAY)


def _issuer_ring(tmp_path: Path, issuer_id: str = "05513000") -> KeyRing:
    ring = KeyRing.create(
        tmp_path / issuer_id,
        issuer_id,
        name="Stadt Gelsenkirchen",
        url=f"https://id.example/{issuer_id}",
        passphrase=PASS,
        kdf=CHEAP_KDF,
    )
    ring.add_key(nbf=T0 - DAY, sign_until=T0 + 90 * DAY, exp=T0 + 120 * DAY)
    return ring


def _root_ring(tmp_path: Path) -> KeyRing:
    root = KeyRing.create(
        tmp_path / "root", "gkd", kind=RingKind.ROOT, passphrase=PASS, kdf=CHEAP_KDF
    )
    root.add_key(nbf=T0 - DAY, sign_until=T0 + 365 * DAY, exp=T0 + 400 * DAY)
    return root


def _status_token(ring: KeyRing, now: int = T0) -> bytes:
    token = StatusListToken(
        sub="https://id.example/status/1",
        iat=now,
        exp=now + DAY,
        ttl=3600,
        status_list=StatusList.from_values(2, 1024, {7: 1}),
    )
    return sign_status_list_cwt(ring.signer_for(now, Purpose.STATUS), token)


def _open(blob: bytes, root_key: PublicKey) -> TrustBundle:
    msg = decode_sign1(blob)
    assert msg.content_type == TYP_TRUST_BUNDLE
    verify_sign1(msg, root_key)
    return decode_bundle_payload(msg.payload)


def test_bundle_decodes_and_verifies_with_the_root_key(tmp_path: Path) -> None:
    issuer = _issuer_ring(tmp_path)
    root = _root_ring(tmp_path)
    status = {1: _status_token(issuer)}
    blob = build_trust_bundle(
        issuers=[issuer_from_ring(issuer, status)],
        seq=7,
        now=T0,
        fresh_seconds=DAY,
        valid_seconds=7 * DAY,
        root=root,
    )
    root_key = root.signer_for(T0, Purpose.BUNDLE).public_key
    bundle = _open(blob, root_key)
    assert (bundle.seq, bundle.iat, bundle.fresh_until, bundle.exp) == (
        7,
        T0,
        T0 + DAY,
        T0 + 7 * DAY,
    )
    entry = bundle.issuers["05513000"]
    assert entry.name == "Stadt Gelsenkirchen" and entry.url == "https://id.example/05513000"
    (key,) = entry.keys
    (record,) = issuer.records(T0)
    assert key.kid == record.thumbprint and key.alg == record.alg
    assert (key.nbf, key.sign_until, key.exp) == (T0 - DAY, T0 + 90 * DAY, T0 + 120 * DAY)
    assert key.types == ("BEW", "BES", "HAN", "PFL", "SON")  # permit types only
    assert entry.status == status
    assert bundle.anchors_next == ()
    with pytest.raises(SignatureError):
        verify_sign1(decode_sign1(blob), generate_signer().public_key)


def test_root_rotation_fills_anchors_next(tmp_path: Path) -> None:
    issuer = _issuer_ring(tmp_path)
    root = _root_ring(tmp_path)
    new_root = root.rotate(T0, POLICY, force=True)
    assert new_root is not None
    blob = build_trust_bundle(
        issuers=[issuer_from_ring(issuer, {})],
        seq=2,
        now=T0,
        fresh_seconds=DAY,
        valid_seconds=7 * DAY,
        root=root,
    )
    old_root_key = root.signer_for(T0, Purpose.BUNDLE).public_key
    bundle = _open(blob, old_root_key)
    assert [thumbprint(k) for k in bundle.anchors_next] == [new_root.thumbprint]
    # once the new root key is active it signs, and announces nothing more
    later = T0 + DAY
    blob2 = build_trust_bundle(
        issuers=[issuer_from_ring(issuer, {})],
        seq=3,
        now=later,
        fresh_seconds=DAY,
        valid_seconds=7 * DAY,
        root=root,
    )
    assert _open(blob2, new_root.public_key).anchors_next == ()


def test_withdrawn_key_is_absent_from_the_next_bundle(tmp_path: Path) -> None:
    issuer = _issuer_ring(tmp_path)
    root = _root_ring(tmp_path)
    (compromised,) = issuer.records(T0)
    successor = issuer.rotate(T0, POLICY)
    assert successor is not None
    issuer.withdraw(compromised.kid, T0 + 10)
    blob = build_trust_bundle(
        issuers=[issuer_from_ring(issuer, {})],
        seq=3,
        now=T0 + 10,
        fresh_seconds=DAY,
        valid_seconds=7 * DAY,
        root=root,
    )
    bundle = _open(blob, root.signer_for(T0, Purpose.BUNDLE).public_key)
    kids = [k.kid for k in bundle.issuers["05513000"].keys]
    assert kids == [successor.thumbprint]


def test_status_list_signed_by_a_withdrawn_key_is_refused(tmp_path: Path) -> None:
    issuer = _issuer_ring(tmp_path)
    root = _root_ring(tmp_path)
    stale = _status_token(issuer)
    (key,) = issuer.records(T0)
    issuer.withdraw(key.kid, T0)
    with pytest.raises(BuildError) as info:
        build_trust_bundle(
            issuers=[issuer_from_ring(issuer, {1: stale})],
            seq=1,
            now=T0,
            fresh_seconds=DAY,
            valid_seconds=7 * DAY,
            root=root,
        )
    assert info.value.code is KeysCode.BAD_INPUT


def test_explicit_keys_and_signer(tmp_path: Path) -> None:
    issuer = _issuer_ring(tmp_path)
    root = generate_signer(Alg.EDDSA)
    next_root = generate_signer()
    blob = build_trust_bundle(
        issuers=[("05513000", "GE", "https://ge.example", issuer.bundle_keys(T0), {})],
        seq=0,
        now=T0,
        fresh_seconds=60,
        valid_seconds=60,
        root=root,
        anchors_next=[next_root.public_key, root.public_key],
    )
    bundle = _open(blob, root.public_key)
    assert [thumbprint(k) for k in bundle.anchors_next] == [next_root.thumbprint]


@pytest.mark.parametrize(
    ("kwargs", "issuers"),
    [
        ({"seq": -1}, None),
        ({"fresh_seconds": 0}, None),
        ({"fresh_seconds": 10, "valid_seconds": 5}, None),
        ({}, "twice"),
        ({}, "no-name"),
        ({}, "garbage-status"),
    ],
)
def test_bad_inputs(tmp_path: Path, kwargs: dict[str, int], issuers: str | None) -> None:
    ring = _issuer_ring(tmp_path)
    source = IssuerSource("05513000", "GE", "https://ge.example", ring, {})
    chosen = {
        None: [source],
        "twice": [source, source],
        "no-name": [IssuerSource("05513000", "", "https://ge.example", ring)],
        "garbage-status": [IssuerSource("05513000", "GE", "https://x", ring, {1: b"\x00"})],
    }[issuers]
    args: dict[str, int] = {"seq": 1, "fresh_seconds": 60, "valid_seconds": 120, **kwargs}
    with pytest.raises(BuildError) as info:
        build_trust_bundle(issuers=chosen, now=T0, root=generate_signer(), **args)  # type: ignore[arg-type]
    assert info.value.code is KeysCode.BAD_INPUT


def test_root_ring_without_active_key(tmp_path: Path) -> None:
    root = KeyRing.create(
        tmp_path / "root", "gkd", kind=RingKind.ROOT, passphrase=PASS, kdf=CHEAP_KDF
    )
    root.add_key(nbf=T0 + 1, sign_until=T0 + 2, exp=T0 + 3)
    with pytest.raises(KeyRingError) as info:
        build_trust_bundle(issuers=[], seq=1, now=T0, fresh_seconds=1, valid_seconds=2, root=root)
    assert info.value.code is KeysCode.NO_ACTIVE_KEY


@pytest.mark.parametrize("alg", [Alg.ES256, Alg.EDDSA], ids=["es256", "ed25519"])
def test_status_list_helpers(tmp_path: Path, alg: Alg) -> None:
    signer = generate_signer(alg)
    token = StatusListToken(
        sub="https://x/1",
        iat=T0,
        exp=T0 + 60,
        ttl=None,
        status_list=StatusList.from_values(2, 8, {1: 2}),
    )
    msg, decoded = decode_status_list_cwt(sign_status_list_cwt(signer, token))
    verify_sign1(msg, signer.public_key)
    assert msg.kid == signer.cose_kid and decoded.status_list.get(1) == 2
    header, _ = decode_jws(sign_status_list_jwt(signer, token), signer.public_key)
    assert header["kid"] == signer.jws_kid and header["typ"] == "statuslist+jwt"


def _permit_qr(ring: KeyRing, now: int, idx: int) -> str:
    claims = PermitClaims(
        issuer=ring.issuer_id,
        iat=now,
        exp=now + DAY,
        nbf=None,
        type="BEW",
        zones=("A3",),
        plates=("GE-AB 1234",),
        number=1,
        status_list=1,
        status_idx=idx,
    )
    signer = ring.signer_for(now, PermitType.BEW)
    return "BID1:" + b45encode(sign_cose(signer, encode_permit_payload(claims)))


def test_end_to_end_with_the_verifier(tmp_path: Path) -> None:
    issuer = _issuer_ring(tmp_path)
    root = _root_ring(tmp_path)
    anchors = [root.signer_for(T0, Purpose.BUNDLE).public_key]

    def store_at(now: int, seq: int) -> TrustStore:
        blob = build_trust_bundle(
            issuers=[issuer_from_ring(issuer, {1: _status_token(issuer, now)})],
            seq=seq,
            now=now,
            fresh_seconds=DAY,
            valid_seconds=7 * DAY,
            root=root,
        )
        store = TrustStore.from_bundle(blob, anchors)
        assert ("05513000", 1) in store.status and not store.unusable_status
        return store

    store = store_at(T0, 1)
    good, revoked = _permit_qr(issuer, T0, 3), _permit_qr(issuer, T0, 7)
    assert verify(good, store, T0 + 60).outcome is Outcome.VALID
    assert verify(revoked, store, T0 + 60).reason is Reason.REVOKED
    # compromise: withdraw the key, rotate at once; the next bundle drops the old key
    (old,) = issuer.records(T0)
    issuer.withdraw(old.kid, T0 + 120)
    new = issuer.rotate(T0 + 120, POLICY, force=True)
    assert new is not None
    later = new.window.nbf
    store = store_at(later, 2)
    assert verify(good, store, later + 60).reason is Reason.UNKNOWN_KEY
    fresh_permit = _permit_qr(issuer, later, 3)
    assert verify(fresh_permit, store, later + 60).outcome is Outcome.VALID


def test_bundle_is_accepted_by_the_trust_store(tmp_path: Path) -> None:

    issuer = _issuer_ring(tmp_path)
    root = _root_ring(tmp_path)
    blob = build_trust_bundle(
        issuers=[issuer_from_ring(issuer, {1: _status_token(issuer)})],
        seq=1,
        now=T0,
        fresh_seconds=DAY,
        valid_seconds=7 * DAY,
        root=root,
    )
    store = TrustStore.from_bundle(blob, [root.signer_for(T0, Purpose.BUNDLE).public_key])
    assert store.seq == 1
    assert ("05513000", 1) in store.status and not store.unusable_status

"""The trust store: data dir, anchors, atomic sync, fetching, what is pre-parsed once."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import cbor2
import httpx
import pytest

from tests.support.verifier_internals import fetch, keys_module, parse_anchor
from tests.support.verifier_stores import NOW, VALID, data_dir_with
from tests.vectors import own_vectors_root
from verifier import (
    DataDir,
    DecodeError,
    Outcome,
    Reason,
    TrustError,
    VerifierError,
    default_data_dir,
    verify,
)
from verifier.formats import StatusList, key_to_cose, key_to_jwk, thumbprint

VECTORS = json.loads((own_vectors_root() / "verify.json").read_text(encoding="utf-8"))
CASES = {c["name"]: c for c in VECTORS["cases"]}
SYNC = {s["name"]: s for s in VECTORS["sync"]}


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_default_data_dir() -> None:
    assert default_data_dir({"BUERGERID_VERIFY_DATA": "/x/y"}) == Path("/x/y")
    assert default_data_dir({"XDG_DATA_HOME": "/xdg"}) == Path("/xdg/buergerid-verify")
    assert default_data_dir({"XDG_DATA_HOME": "relative"}) == (
        Path.home() / ".local" / "share" / "buergerid-verify"
    )
    assert default_data_dir({}) == Path.home() / ".local" / "share" / "buergerid-verify"


def test_anchor_forms() -> None:
    cose = bytes.fromhex(VECTORS["stores"]["main"]["anchors"][0])
    jwk = bytes.fromhex(VECTORS["stores"]["no_index"]["anchors"][0])
    assert thumbprint(parse_anchor(cose)) == thumbprint(parse_anchor(jwk))
    private = json.loads(jwk)
    private["d"] = "AAAA"
    for bad in (json.dumps(private).encode(), b"{not json", b"[1]", b"\xa0", b"x" * 20000):
        with pytest.raises(DecodeError) as info:
            parse_anchor(bad)
        assert info.value.reason in (Reason.BAD_KEY,)


def test_anchor_is_pinned_once(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path)
    cose = bytes.fromhex(VECTORS["stores"]["main"]["anchors"][0])
    assert data_dir.add_anchor(cose)[1] is True
    assert data_dir.add_anchor(cose)[1] is False
    assert len(data_dir.read_anchors()) == 1


def test_root_rotation_pins_anchors_next(tmp_path: Path) -> None:
    data_dir = data_dir_with(tmp_path, "rotated")
    assert len(data_dir.read_anchors()) == 2
    store = data_dir.load()
    assert store.seq == 3
    assert verify(VALID, store, NOW).outcome is Outcome.VALID


def test_crash_during_sync_keeps_the_previous_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seq = SYNC["higher_seq"]
    data_dir = DataDir(tmp_path)
    data_dir.add_anchor(bytes.fromhex(seq["anchors"][0]))
    data_dir.sync_bytes(bytes.fromhex(seq["steps"][0]["data"]))
    before = files(tmp_path)

    def crash(src: Any, dst: Any) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        data_dir.sync_bytes(bytes.fromhex(seq["steps"][1]["data"]))
    monkeypatch.undo()
    assert files(tmp_path) == before  # no temp file left, old bundle intact
    assert data_dir.load().seq == 1


def test_tampered_stored_bundle_does_not_load(tmp_path: Path) -> None:
    data_dir = data_dir_with(tmp_path, "no_index")
    raw = bytearray(data_dir.bundle_path.read_bytes())
    raw[-1] ^= 1
    data_dir.bundle_path.write_bytes(bytes(raw))
    with pytest.raises(TrustError) as info:
        data_dir.load()
    assert info.value.reason is Reason.UNTRUSTED_BUNDLE


def test_keys_and_lists_are_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After load, a scan parses no key and inflates no list."""
    store = data_dir_with(tmp_path).load()

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("parsed again during a scan")

    monkeypatch.setattr(StatusList, "from_lst", forbidden)
    monkeypatch.setattr(keys_module, "key_from_cose", forbidden)
    monkeypatch.setattr(keys_module, "key_from_jwk", forbidden)
    for _ in range(3):
        assert verify(VALID, store, NOW).outcome is Outcome.VALID
    assert isinstance(store.status[("05513000", 1)].status_list, StatusList)
    first = store.issuer_keys["05513000"][0]
    assert first in store.keys[("05513000", first.kid[:8])]


def test_bad_lists_are_recorded_not_fatal(tmp_path: Path) -> None:
    store = data_dir_with(tmp_path).load()
    assert set(store.unusable_status) == {("05513000", 2), ("05513000", 4), ("05513000", 6)}
    assert all(r is Reason.BAD_STATUS_LIST for r in store.unusable_status.values())


def test_plate_index_needs_its_issuers_key(tmp_path: Path) -> None:
    seq = SYNC["plate_index_other_issuers_key"]
    data_dir = DataDir(tmp_path)
    data_dir.add_anchor(bytes.fromhex(seq["anchors"][0]))
    data_dir.sync_bytes(bytes.fromhex(seq["steps"][0]["data"]))
    with pytest.raises(TrustError) as info:
        data_dir.sync_bytes(bytes.fromhex(seq["steps"][1]["data"]))
    assert info.value.reason is Reason.UNTRUSTED_PLATE_INDEX
    assert not data_dir.plates_dir.exists()


def _transport(status: int, body: bytes, headers: dict[str, str], seen: list[httpx.Request]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=body, headers=headers)

    return httpx.MockTransport(handler)


def test_fetch_sends_the_etag_and_understands_304() -> None:
    seen: list[httpx.Request] = []
    got = fetch(
        "https://bundle.example/tb",
        etag='"abc"',
        transport=_transport(304, b"", {}, seen),
    )
    assert got.data is None
    assert seen[0].headers["If-None-Match"] == '"abc"'
    got = fetch(
        "https://bundle.example/tb", transport=_transport(200, b"xyz", {"ETag": '"n"'}, seen)
    )
    assert (got.data, got.etag) == (b"xyz", '"n"')
    assert "If-None-Match" not in seen[1].headers


def test_fetch_bounds_the_body() -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(DecodeError) as info:
        fetch("https://b.example/", max_bytes=10, transport=_transport(200, b"x" * 11, {}, seen))
    assert info.value.reason is Reason.TOO_LARGE


def test_fetch_errors_are_operational(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(OSError):
        fetch("https://b.example/", transport=_transport(500, b"", {}, seen))
    with pytest.raises(TrustError):
        fetch("http://bundle.example/tb")  # plain http only to loopback
    with pytest.raises(OSError):
        fetch(str(tmp_path / "missing.cbor"))
    big = tmp_path / "big.cbor"
    big.write_bytes(b"x" * 11)
    with pytest.raises(DecodeError):
        fetch(str(big), max_bytes=10)


def test_sync_refuses_other_documents(tmp_path: Path) -> None:
    data_dir = data_dir_with(tmp_path, "no_index")
    before = files(data_dir.root)
    bundle = cbor2.loads(data_dir.bundle_path.read_bytes()).value[2]
    status_token = cbor2.loads(bundle)["issuers"]["05513000"]["status"][1]
    for other in (b"", status_token):
        with pytest.raises(VerifierError) as info:
            data_dir.sync_bytes(other)
        assert info.value.reason is Reason.BAD_BUNDLE
    assert files(data_dir.root) == before


def test_folders_and_files_are_private(tmp_path: Path) -> None:
    data_dir = data_dir_with(tmp_path / "deep" / "er", "main")
    for path in [data_dir.root, data_dir.anchors_dir, data_dir.plates_dir]:
        assert path.stat().st_mode & 0o077 == 0
    for path in data_dir.root.rglob("*.cbor"):
        assert path.stat().st_mode & 0o077 == 0


def test_an_exported_ring_pins_every_key_and_a_bad_set_pins_none(tmp_path: Path) -> None:
    """`buergerid-keys export-public RING` writes a CBOR array of COSE_Keys (or a JWKS)."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    from tests.support.verifier_internals import MAX_ANCHORS_PER_FILE, parse_anchors
    from verifier.formats import cbor_dumps

    keys = [ec.generate_private_key(ec.SECP256R1()).public_key(),
            ed25519.Ed25519PrivateKey.generate().public_key()]  # fmt: skip
    cose_set = cbor_dumps([key_to_cose(k) for k in keys])
    jwks = json.dumps({"keys": [key_to_jwk(k) for k in keys]}).encode()
    wanted = [thumbprint(k) for k in keys]
    for data in (cose_set, jwks):
        assert [thumbprint(k) for k in parse_anchors(data)] == wanted
    data_dir = DataDir(tmp_path / "d")
    assert [new for _, new in data_dir.add_anchors(cose_set)] == [True, True]
    assert [new for _, new in data_dir.add_anchors(jwks)] == [False, False]
    assert {thumbprint(k) for k in data_dir.read_anchors()} == set(wanted)

    bad_sets = [
        cbor_dumps([]),
        cbor_dumps([key_to_cose(keys[0])] * (MAX_ANCHORS_PER_FILE + 1)),
        cbor_dumps([key_to_cose(keys[0]), {1: 2}]),
        json.dumps({"keys": "x"}).encode(),
        json.dumps({"keys": [key_to_jwk(keys[0]), {"kty": "EC"}]}).encode(),
    ]
    fresh = DataDir(tmp_path / "e")
    for bad in bad_sets:
        with pytest.raises(DecodeError) as info:
            fresh.add_anchors(bad)
        assert info.value.reason is Reason.BAD_KEY
    assert fresh.read_anchors() == []

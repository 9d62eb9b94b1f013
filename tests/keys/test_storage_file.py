"""The encrypted key file: round trip, refusals with stable codes, atomicity, concurrency."""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from keys.errors import KeyFileError, KeysCode, KeysError
from keys.storage._atomic import read_bounded
from keys.storage.file import (
    HEADER_BYTES,
    MAGIC,
    PrivateKey,
    change_passphrase,
    decrypt_private_key,
    encrypt_private_key,
    read_key_file,
    write_key_file,
)
from tests.keys.conftest import CHEAP_KDF

CHEAP = CHEAP_KDF
SMALL_MAX_KIB = 64  # readers in tests refuse anything costlier, so mutations stay cheap
PASS = "correct horse battery staple"


def _raw(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(params=["p256", "ed25519"])
def private_key(request: pytest.FixtureRequest) -> PrivateKey:
    if request.param == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def blob() -> bytes:
    return encrypt_private_key(ec.generate_private_key(ec.SECP256R1()), PASS, kdf=CHEAP)


def test_round_trip(tmp_path: Path, private_key: PrivateKey) -> None:
    path = tmp_path / "k.key"
    write_key_file(path, private_key, PASS, kdf=CHEAP)
    assert _raw(read_key_file(path, PASS)) == _raw(private_key)


def test_file_mode_is_0600(tmp_path: Path, private_key: PrivateKey) -> None:
    path = tmp_path / "k.key"
    write_key_file(path, private_key, PASS, kdf=CHEAP)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_header_records_the_parameters(blob: bytes) -> None:
    assert blob[:6] == MAGIC and blob[6] == 1 and blob[7] == 1
    assert int.from_bytes(blob[8:12], "big") == CHEAP.time_cost
    assert int.from_bytes(blob[12:16], "big") == CHEAP.memory_kib
    assert int.from_bytes(blob[16:20], "big") == CHEAP.parallelism


def test_unicode_passphrase_is_normalised(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "k.key"
    write_key_file(path, key, "Stra\u00dfe-\u00e4", kdf=CHEAP)  # composed ä
    assert _raw(read_key_file(path, "Stra\u00dfe-a\u0308")) == _raw(key)  # decomposed ä


def test_wrong_passphrase(tmp_path: Path, private_key: PrivateKey) -> None:
    path = tmp_path / "k.key"
    write_key_file(path, private_key, PASS, kdf=CHEAP)
    with pytest.raises(KeyFileError) as info:
        read_key_file(path, PASS + "!")
    assert info.value.code is KeysCode.KEY_FILE_DECRYPT


def test_empty_passphrase_is_refused(private_key: PrivateKey) -> None:
    with pytest.raises(KeyFileError) as info:
        encrypt_private_key(private_key, "", kdf=CHEAP)
    assert info.value.code is KeysCode.PASSPHRASE_REQUIRED


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError) as info:
        read_key_file(tmp_path / "nope.key", PASS)
    assert info.value.code is KeysCode.KEY_FILE_MISSING


@pytest.mark.parametrize("length", [0, 1, 5, 6, 7, 20, 47, 48, 63, 64, -16, -1])
def test_truncated(blob: bytes, length: int) -> None:
    with pytest.raises(KeyFileError) as info:
        decrypt_private_key(blob[:length], PASS, max_memory_kib=SMALL_MAX_KIB)
    expected = {KeysCode.KEY_FILE_FORMAT, KeysCode.KEY_FILE_DECRYPT}
    assert info.value.code in expected


# one offset in every byte region of the format, with the code a flip there must give
REGIONS = [
    ("magic", 0, {KeysCode.KEY_FILE_FORMAT}),
    ("magic-end", 5, {KeysCode.KEY_FILE_FORMAT}),
    ("version", 6, {KeysCode.KEY_FILE_VERSION}),
    ("kdf-id", 7, {KeysCode.KEY_FILE_FORMAT}),
    ("time-cost", 11, {KeysCode.KEY_FILE_DECRYPT}),
    ("time-cost-high", 8, {KeysCode.KEY_FILE_FORMAT}),
    ("memory", 15, {KeysCode.KEY_FILE_DECRYPT}),
    ("memory-high", 12, {KeysCode.KEY_FILE_FORMAT}),
    ("parallelism", 19, {KeysCode.KEY_FILE_FORMAT, KeysCode.KEY_FILE_DECRYPT}),
    ("salt", 20, {KeysCode.KEY_FILE_DECRYPT}),
    ("salt-end", 35, {KeysCode.KEY_FILE_DECRYPT}),
    ("nonce", 36, {KeysCode.KEY_FILE_DECRYPT}),
    ("nonce-end", 47, {KeysCode.KEY_FILE_DECRYPT}),
    ("ciphertext", 48, {KeysCode.KEY_FILE_DECRYPT}),
    ("ciphertext-mid", 80, {KeysCode.KEY_FILE_DECRYPT}),
    ("tag", -16, {KeysCode.KEY_FILE_DECRYPT}),
    ("tag-end", -1, {KeysCode.KEY_FILE_DECRYPT}),
]


@pytest.mark.parametrize(
    ("offset", "codes"), [(o, c) for _, o, c in REGIONS], ids=[r[0] for r in REGIONS]
)
def test_tampered_region(blob: bytes, offset: int, codes: set[KeysCode]) -> None:
    data = bytearray(blob)
    data[offset] ^= 0x02 if offset not in (8, 12) else 0x80
    with pytest.raises(KeyFileError) as info:
        decrypt_private_key(bytes(data), PASS, max_memory_kib=SMALL_MAX_KIB)
    assert info.value.code in codes


def test_appended_byte_is_tampering(blob: bytes) -> None:
    with pytest.raises(KeyFileError) as info:
        decrypt_private_key(blob + b"\x00", PASS, max_memory_kib=SMALL_MAX_KIB)
    assert info.value.code is KeysCode.KEY_FILE_DECRYPT


def test_every_byte_flip_is_refused(blob: bytes) -> None:
    refused = 0
    for offset in range(len(blob)):
        data = bytearray(blob)
        data[offset] ^= 0xFF
        with pytest.raises(KeyFileError):
            decrypt_private_key(bytes(data), PASS, max_memory_kib=SMALL_MAX_KIB)
        refused += 1
    assert refused == len(blob) > HEADER_BYTES


def test_costly_parameters_are_refused_before_hashing(blob: bytes) -> None:
    data = bytearray(blob)
    data[12:16] = (4 * 1024 * 1024).to_bytes(4, "big")  # 4 GiB
    with pytest.raises(KeyFileError) as info:
        decrypt_private_key(bytes(data), PASS)
    assert info.value.code is KeysCode.KEY_FILE_FORMAT


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_keys_errors(data: bytes) -> None:
    with pytest.raises(KeysError):
        decrypt_private_key(data, PASS, max_memory_kib=SMALL_MAX_KIB)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mutated_files_only_raise_keys_errors(blob: bytes, data: st.DataObject) -> None:
    mutated = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, max(len(mutated) - 1, 0)))
        if action == "flip" and mutated:
            mutated[pos] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del mutated[pos:]
        else:
            mutated[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    if bytes(mutated) == blob:
        return
    with pytest.raises(KeysError):
        decrypt_private_key(bytes(mutated), PASS, max_memory_kib=SMALL_MAX_KIB)


def test_existing_file_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    first = ec.generate_private_key(ec.SECP256R1())
    write_key_file(path, first, PASS, kdf=CHEAP)
    before = path.read_bytes()
    with pytest.raises(KeyFileError) as info:
        write_key_file(path, ec.generate_private_key(ec.SECP256R1()), PASS, kdf=CHEAP)
    assert info.value.code is KeysCode.KEY_FILE_EXISTS
    assert path.read_bytes() == before


def test_change_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    key = ec.generate_private_key(ec.SECP256R1())
    write_key_file(path, key, PASS, kdf=CHEAP)
    change_passphrase(path, PASS, "new one", kdf=CHEAP)
    assert _raw(read_key_file(path, "new one")) == _raw(key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_wrong_old_passphrase_leaves_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    write_key_file(path, ec.generate_private_key(ec.SECP256R1()), PASS, kdf=CHEAP)
    before = path.read_bytes()
    with pytest.raises(KeyFileError) as info:
        change_passphrase(path, "wrong", "new one", kdf=CHEAP)
    assert info.value.code is KeysCode.KEY_FILE_DECRYPT
    assert path.read_bytes() == before


def test_tampered_file_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    write_key_file(path, ec.generate_private_key(ec.SECP256R1()), PASS, kdf=CHEAP)
    data = bytearray(path.read_bytes())
    data[60] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(KeyFileError) as info:
        change_passphrase(path, PASS, "new one", kdf=CHEAP)
    assert info.value.code is KeysCode.KEY_FILE_DECRYPT
    assert path.read_bytes() == bytes(data)


def test_concurrent_creators_exactly_one_wins(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(8)]
    barrier = threading.Barrier(len(keys))
    outcomes: list[str] = []

    def create(key: PrivateKey) -> None:
        barrier.wait()
        try:
            write_key_file(path, key, PASS, kdf=CHEAP)
            outcomes.append("ok")
        except KeyFileError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=create, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["key_file_exists"] * 7 + ["ok"]
    assert _raw(read_key_file(path, PASS)) in {_raw(k) for k in keys}
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_concurrent_overwriters_leave_one_complete_file(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    keys = [ed25519.Ed25519PrivateKey.generate() for _ in range(8)]
    barrier = threading.Barrier(len(keys))

    def overwrite(key: PrivateKey) -> None:
        barrier.wait()
        for _ in range(5):
            write_key_file(path, key, PASS, kdf=CHEAP, overwrite=True)

    threads = [threading.Thread(target=overwrite, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _raw(read_key_file(path, PASS)) in {_raw(k) for k in keys}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_concurrent_passphrase_changes_do_not_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    key = ec.generate_private_key(ec.SECP256R1())
    write_key_file(path, key, "p0", kdf=CHEAP)
    # a chain of changes p0 -> p1 -> ... run from threads in any order: the lock makes each
    # read-modify-write whole, so every change either applies or fails cleanly
    barrier = threading.Barrier(6)
    results: list[str] = []

    def change(i: int) -> None:
        barrier.wait()
        for _ in range(30):
            try:
                change_passphrase(path, f"p{i}", f"p{i + 1}", kdf=CHEAP)
                results.append("ok")
                return
            except KeyFileError as exc:
                assert exc.code is KeysCode.KEY_FILE_DECRYPT

    threads = [threading.Thread(target=change, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = f"p{len(results)}"
    assert _raw(read_key_file(path, final)) == _raw(key)


def test_repr_of_the_key_holds_no_secret(private_key: PrivateKey) -> None:
    assert _raw(private_key).hex() not in repr(private_key)


def _process_writer(path: str, der: bytes, overwrite: bool, start: Any, results: Any) -> None:
    key = serialization.load_der_private_key(der, password=None)
    start.wait()
    try:
        for _ in range(5 if overwrite else 1):
            write_key_file(Path(path), key, PASS, kdf=CHEAP, overwrite=overwrite)  # type: ignore[arg-type]
        results.put("ok")
    except KeyFileError as exc:
        results.put(str(exc.code))


@pytest.mark.parametrize("overwrite", [False, True], ids=["create", "overwrite"])
def test_concurrent_processes(tmp_path: Path, overwrite: bool) -> None:
    ctx = multiprocessing.get_context("fork")
    path = tmp_path / "k.key"
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(4)]
    start, results = ctx.Barrier(len(keys)), ctx.Queue()
    procs = [
        ctx.Process(target=_process_writer, args=(str(path), _raw(k), overwrite, start, results))
        for k in keys
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    outcomes = sorted(results.get(timeout=10) for _ in procs)
    expected = ["ok"] * 4 if overwrite else ["key_file_exists"] * 3 + ["ok"]
    assert outcomes == expected
    assert _raw(read_key_file(path, PASS)) in {_raw(k) for k in keys}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


@pytest.mark.parametrize("length", [0, 1, 63, 64])
def test_read_bounded_reads_a_file_up_to_the_bound(tmp_path: Path, length: int) -> None:
    path = tmp_path / "f"
    path.write_bytes(bytes(range(length)))
    assert read_bounded(path, 64) == bytes(range(length))


@pytest.mark.parametrize("length", [65, 66, 10_000])
def test_read_bounded_refuses_a_file_past_the_bound(tmp_path: Path, length: int) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * length)
    with pytest.raises(KeyFileError) as info:
        read_bounded(path, 64)
    assert info.value.code is KeysCode.KEY_FILE_FORMAT


@pytest.mark.parametrize(("length", "refused"), [(64, False), (65, True), (5000, True)])
def test_read_bounded_holds_the_bound_for_a_file_without_a_size(
    tmp_path: Path, length: int, refused: bool
) -> None:
    """A pipe reports size 0: the read goes on past the size, never past the bound."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: _write_and_close(fifo, b"y" * length))
    writer.start()
    try:
        if refused:
            with pytest.raises(KeyFileError) as info:
                read_bounded(fifo, 64)
            assert info.value.code is KeysCode.KEY_FILE_FORMAT
        else:
            assert read_bounded(fifo, 64) == b"y" * length
    finally:
        writer.join(timeout=10)


def _write_and_close(path: Path, data: bytes) -> None:
    try:
        with path.open("wb") as fh:
            fh.write(data)
    except BrokenPipeError:
        pass  # the reader stopped at its bound

"""Speed of the offline check, as ratios taken in one run on one core.

    .venv/bin/python bench/verify.py            # full run
    .venv/bin/python bench/verify.py --quick    # smaller sizes, for a smoke test

Measures, in this order:

1. a bare signature verify of the token's Sig_structure with ``cryptography`` and a
   pre-parsed key, raw ``r‖s`` → DER included (the floor for any verifier);
2. our whole QR text → verdict (``verifier.verify``);
3. the same token verified by python-cwt (``cwt.COSE.decode``) and by pycose
   (``Sign1Message.decode`` + ``verify_signature``), Base45 decoding included;
4. ``check --batch`` throughput (one subprocess, startup included);
5. ``plate`` lookups per second against an index of 100,000 plates;
6. ``sync`` cost for a bundle of 10 issuers × 4 keys with one status list each of 2^17,
   then 2^20 entries (verify, inflate, write; then a cold ``load``).

The LAST line is exactly ``ratio_qr_to_verdict_vs_bare_verify=<float>``.
"""

from __future__ import annotations

# ruff: noqa: E402  (the repository root goes on sys.path before our imports)
import argparse
import hashlib
import importlib.util
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import base45 as base45_pkg
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.support.verifier_internals import decode_permit_parts
from verifier import DataDir, verify, verify_plate
from verifier.formats import (
    TYP_PLATE_INDEX,
    TYP_TRUST_BUNDLE,
    Alg,
    IssuerEntry,
    PlateEntry,
    PlateIndex,
    StatusList,
    StatusListToken,
    TrustBundle,
    b45decode,
    bundle_key,
    cose_kid,
    decode_claims_map,
    decode_permit_claims,
    decode_sign1,
    encode_bundle_payload,
    encode_plate_index_payload,
    encode_sign1,
    encode_status_list_cwt,
    plate_key,
    sig_structure,
    software_signer,
    verify_signature,
)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load_generator() -> Any:
    path = REPO / "tests" / "vectors" / "generate.py"
    spec = importlib.util.spec_from_file_location("buergerid_vector_generator", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def per_call(fn: Callable[[], object], *, repeat: int = 7, min_time: float = 0.2) -> float:
    """Best-of-``repeat`` seconds per call, each repeat running at least ``min_time``."""
    timer = timeit.Timer(fn, timer=time.thread_time)
    number, _ = timer.autorange()
    number = max(number, int(number * min_time / 0.2))
    return min(timer.repeat(repeat=repeat, number=number)) / number


def interleaved(fns: dict[str, Callable[[], object]], *, rounds: int = 15) -> dict[str, float]:
    """Best CPU seconds per call of each function (this thread's CPU time), measured in
    alternating rounds so that load from other processes hits every function alike."""
    numbers = {name: max(1, timeit.Timer(fn).autorange()[0] // 4) for name, fn in fns.items()}
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            n = numbers[name]
            started = time.thread_time()
            for _ in range(n):
                fn()
            best[name] = min(best[name], (time.thread_time() - started) / n)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    gen = load_generator()
    now = gen.NOW
    tmp = Path(tempfile.mkdtemp(prefix="bench-verify-"))

    # the vectors' main store and their plainest valid ES256 token
    data_dir = DataDir(tmp / "main")
    spec = gen.build()["stores"]["main"]
    for anchor in spec["anchors"]:
        data_dir.add_anchor(bytes.fromhex(anchor))
    for blob in spec["sync"]:
        data_dir.sync_bytes(bytes.fromhex(blob))
    store = data_dir.load()
    text = gen.token()
    assert verify(text, store, now).outcome == "valid"
    raw = b45decode(text[5:])
    msg = decode_sign1(raw)
    to_be_signed = sig_structure(msg.protected_bytes, msg.payload)
    signature = msg.signature
    x, y = gen.A1.x, gen.A1.y
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)
    ecdsa = ec.ECDSA(hashes.SHA256())
    print(f"token: {len(text)} characters, COSE_Sign1 {len(raw)} bytes, ES256")

    # 1. bare signature verify
    def bare() -> None:
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        key.verify(der, to_be_signed, ecdsa)

    # 2. ours, measured interleaved with the bare verify and with growing prefixes of the
    # pipeline (each step's cost in place: caches are as cold as in the real sequence)
    def upto_base45() -> None:
        b45decode(text[5:])
        bare()

    # steps 3 and 5-6 as verify() runs them: decode_permit_parts is decode_sign1 for our
    # own message shape, without building a Sign1
    parts = decode_permit_parts

    def upto_sign1() -> None:
        parts(b45decode(text[5:]))
        bare()

    def upto_claims_map() -> None:
        decode_claims_map(parts(b45decode(text[5:]))[1])
        bare()

    def upto_permit_claims() -> None:
        decode_permit_claims(decode_claims_map(parts(b45decode(text[5:]))[1]))
        bare()

    def formats_only() -> None:
        protected, payload, signature, alg, _ = parts(b45decode(text[5:]))
        decode_permit_claims(decode_claims_map(payload))
        message = sig_structure(protected, payload)
        verify_signature(key, alg, message, signature)

    best = interleaved(
        {
            "bare": bare,
            "+b45decode": upto_base45,
            "+decode_permit_parts": upto_sign1,
            "+decode_claims_map": upto_claims_map,
            "+decode_permit_claims": upto_permit_claims,
            "+sig_structure+verify_signature": formats_only,
            "ours": lambda: verify(text, store, now),
        }
    )
    t_bare, t_ours = best["bare"], best["ours"]
    previous = t_bare
    for name, value in best.items():
        if name.startswith("+"):
            print(f"  in place {name:34s} {(value - previous) * 1e6:+6.1f} µs")
            previous = value
    print(f"  in place {'+verify() itself (steps 4-11)':34s} {(t_ours - previous) * 1e6:+6.1f} µs")
    print(f"bare ES256 verify (cryptography, pre-parsed key):  {t_bare * 1e6:8.1f} µs")
    print(f"verify(): QR text -> verdict                    {t_ours * 1e6:8.1f} µs")

    # 3. python-cwt and pycose on the same token
    import cwt
    from pycose.keys import EC2Key
    from pycose.messages import Sign1Message

    cwt_key = cwt.COSEKey.new({1: 2, 2: gen.A1.kid, 3: -7, -1: 1, -2: x, -3: y})
    cose_ctx = cwt.COSE.new()
    body = text[5:].encode()

    def with_cwt() -> None:
        cose_ctx.decode(base45_pkg.b45decode(body), cwt_key)

    pycose_key = EC2Key(crv="P_256", x=x, y=y)

    def with_pycose() -> None:
        message = Sign1Message.decode(base45_pkg.b45decode(body))
        message.key = pycose_key
        if not message.verify_signature():
            raise AssertionError("pycose refused a valid signature")

    others = interleaved({"bare": bare, "cwt": with_cwt, "pycose": with_pycose}, rounds=7)
    t_cwt = others["cwt"] * t_bare / others["bare"]  # scaled to the bare run above
    t_pycose = others["pycose"] * t_bare / others["bare"]
    print(f"python-cwt {cwt.__version__:8s} Base45 + COSE decode + verify   {t_cwt * 1e6:8.1f} µs")
    print(f"pycose          Base45 + decode + verify        {t_pycose * 1e6:8.1f} µs")

    # 4. check --batch throughput
    n_batch = 2_000 if args.quick else 20_000
    batch = tmp / "batch.txt"
    batch.write_text((text + "\n") * n_batch, encoding="utf-8")
    started = time.perf_counter()
    child_cpu = _children_cpu()
    proc = subprocess.run(
        [sys.executable, "-m", "verifier", "--data-dir", str(data_dir.root), "check",
         "--at", str(now), "--batch", str(batch)],
        capture_output=True, text=True, cwd=REPO, check=False,
    )  # fmt: skip
    t_batch = time.perf_counter() - started
    cpu_batch = _children_cpu() - child_cpu
    assert proc.returncode == 0 and proc.stdout.count("\n") == n_batch, proc.stderr
    print(
        f"check --batch: {n_batch} tokens in {cpu_batch:.2f} s CPU ({t_batch:.2f} s wall, "
        f"process start included) = {n_batch / cpu_batch:,.0f} tokens per CPU second"
    )

    # 5. plate lookups with 100,000 plates
    n_plates = 10_000 if args.quick else 100_000
    sign_a = software_signer(gen.A1.priv)
    salt = hashlib.sha256(b"bench").digest()[:16]
    plates = [
        f"GE-{chr(65 + i % 26)}{chr(65 + i // 26 % 26)} {1 + i // 676}" for i in range(n_plates)
    ]
    entries = {
        plate_key(salt, p): (
            PlateEntry(10_000 + i, 1, 10, now - 86400, now + 86400 * 30, ("A3",), "BEW"),
        )
        for i, p in enumerate(plates)
    }
    index = PlateIndex(iss=gen.ISS_A, iat=now - 3600, exp=now + 86400, salt=salt, entries=entries)
    started = time.thread_time()
    blob = encode_sign1(
        encode_plate_index_payload(index), alg=Alg.ES256, kid=gen.A1.kid, sign=sign_a,
        content_type=TYP_PLATE_INDEX,
    )  # fmt: skip
    t_encode_index = time.thread_time() - started
    started = time.thread_time()
    data_dir.sync_bytes(blob)
    t_sync_index = time.thread_time() - started
    store = data_dir.load()
    rng = random.Random(7)
    sample = [rng.choice(plates) for _ in range(1000)]
    assert all(verify_plate(p, store, now).outcome == "valid" for p in sample[:10])
    it = iter(sample * 1000)
    t_plate = per_call(lambda: verify_plate(next(it), store, now), repeat=5)
    print(
        f"plate index of {n_plates:,} plates: {len(blob) / 1e6:.1f} MB, sync {t_sync_index:.2f} s "
        f"(encode {t_encode_index:.2f} s); lookups {1 / t_plate:,.0f}/s ({t_plate * 1e6:.1f} µs)"
    )

    # 6. sync cost: 10 issuers x 4 keys, one status list each
    root_key = gen.ROOT1
    sign_root = software_signer(root_key.priv)
    sizes = [2**14, 2**17] if args.quick else [2**17, 2**20]
    for size in sizes:
        issuers = {}
        for n in range(10):
            privs = [
                ec.derive_private_key(
                    int.from_bytes(hashlib.sha256(f"bench-{n}-{k}".encode()).digest(), "big"),
                    ec.SECP256R1(),
                )
                for k in range(4)
            ]
            pubs = [p.public_key() for p in privs]
            keys = tuple(
                bundle_key(pub, nbf=now - 86400 * 365, sign_until=now + 86400 * 365,
                           exp=now + 86400 * 730, types=("BEW", "BES", "HAN", "PFL", "SON"))
                for pub in pubs
            )  # fmt: skip
            revoked = {rng.randrange(size): 1 for _ in range(size // 100)}  # 1% revoked
            lst = StatusList.from_values(2, size, revoked)
            token = encode_status_list_cwt(
                StatusListToken(sub=f"https://{n}.example/status/1", iat=now - 3600,
                                exp=now + 86400, ttl=43200, status_list=lst),
                alg=Alg.ES256, kid=cose_kid(pubs[0]), sign=software_signer(privs[0]),
            )  # fmt: skip
            iss = f"0{n}000000"
            issuers[iss] = IssuerEntry(iss, f"Stadt {n}", f"https://{n}.example", keys, {1: token})
        payload = encode_bundle_payload(
            TrustBundle(seq=100 + size.bit_length(), iat=now - 3600, fresh_until=now + 86400,
                        exp=now + 86400 * 7, issuers=issuers)
        )  # fmt: skip
        bundle_blob = encode_sign1(
            payload, alg=Alg.ES256, kid=root_key.kid, sign=sign_root, content_type=TYP_TRUST_BUNDLE
        )
        sync_dir = DataDir(tmp / f"sync-{size}")
        sync_dir.add_anchor(gen.dumps(root_key.cose_key()))
        started = time.thread_time()
        sync_dir.sync_bytes(bundle_blob)
        t_sync = time.thread_time() - started
        started = time.thread_time()
        loaded = sync_dir.load()
        t_load = time.thread_time() - started
        assert len(loaded.status) == 10
        print(
            f"sync 10 issuers x 4 keys, lists of 2^{size.bit_length() - 1} entries: "
            f"bundle {len(bundle_blob) / 1e6:.2f} MB, sync {t_sync * 1000:.0f} ms, "
            f"load {t_load * 1000:.0f} ms"
        )

    print(f"python-cwt / bare verify: {t_cwt / t_bare:.2f}")
    print(f"pycose / bare verify: {t_pycose / t_bare:.2f}")
    print(f"cpu: {os.cpu_count()} visible; measured single-threaded")
    print(f"ratio_qr_to_verdict_vs_bare_verify={t_ours / t_bare:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

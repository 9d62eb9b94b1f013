"""Wire-format figures (no assertions): run ``.venv/bin/python bench/formats.py``.

Prints, in one run and on the same machine, Base45 encode/decode of a typical permit token
against the ``base45`` package, COSE_Sign1 build and parse per token, and the QR→verdict
format path (Base45, Sign1, payload, Sig_structure, signature) against a bare signature
verification, as ratios. Keys are fixed test keys; nothing here is a secret.
"""

from __future__ import annotations

import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import base45
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.support.verifier_internals import decode_permit_parts
from verifier import PermitType
from verifier.formats import (
    PermitClaims,
    Window,
    alg_for_key,
    b45decode,
    b45encode,
    cose_kid,
    decode_claims_map,
    decode_permit_claims,
    decode_sign1,
    encode_permit_payload,
    encode_sign1,
    sig_structure,
    software_signer,
    verify_signature,
)

CLAIMS = PermitClaims(
    issuer="05513000",
    iat=1_767_225_600,
    exp=1_798_761_600,
    nbf=None,
    type=PermitType.HAN,
    zones=("A3", "B1"),
    plates=("GE-AB 1234",),
    number=1_234_567,
    status_list=3,
    status_idx=91_234,
    max_stay=120,
    windows=(Window(31, 420, 1080),),
)


def per_call_us(fn: Callable[[], object], number: int) -> float:
    """Best of five runs, microseconds of this process's CPU time per call.

    CPU time rather than wall time: on a shared machine other processes' load otherwise
    decides the figures.
    """
    return min(timeit.repeat(fn, number=number, repeat=5, timer=time.process_time)) / number * 1e6


def main() -> None:
    number = 2000
    ec_private = ec.derive_private_key(0x5EED_0001, ec.SECP256R1())
    ed_private = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    payload = encode_permit_payload(CLAIMS)
    print(f"permit payload {len(payload)} B")
    for name, private in (("ES256", ec_private), ("EdDSA", ed_private)):
        public = private.public_key()
        sign = software_signer(private)
        alg = alg_for_key(public)
        kid = cose_kid(public)
        token = encode_sign1(payload, alg=alg, kid=kid, sign=sign)
        text = "BID1:" + b45encode(token)
        print(f"\n[{name}] COSE_Sign1 {len(token)} B, QR text {len(text)} chars")

        enc_ours = per_call_us(lambda t=token: b45encode(t), number)
        enc_ref = per_call_us(lambda t=token: base45.b45encode(t), number)
        dec_ours = per_call_us(lambda s=text[5:]: b45decode(s), number)
        dec_ref = per_call_us(lambda s=text[5:]: base45.b45decode(s), number)
        print(
            f"base45 encode  ours {enc_ours:7.2f} us  base45 pkg {enc_ref:7.2f} us  "
            f"ratio ours/pkg {enc_ours / enc_ref:5.2f}"
        )
        print(
            f"base45 decode  ours {dec_ours:7.2f} us  base45 pkg {dec_ref:7.2f} us  "
            f"ratio ours/pkg {dec_ours / dec_ref:5.2f}"
        )

        build = per_call_us(
            lambda s=sign, a=alg, k=kid: encode_sign1(payload, alg=a, kid=k, sign=s), number // 4
        )
        to_sign = sig_structure(b"\xa2\x01\x26\x04\x48" + kid, payload)
        sign_only = per_call_us(lambda s=sign, m=to_sign: s(m), number // 4)
        parse = per_call_us(lambda t=token: decode_sign1(t), number)
        print(
            f"Sign1 build    {build:7.2f} us (signature alone {sign_only:7.2f} us, "
            f"ratio {build / sign_only:5.2f})"
        )
        print(f"Sign1 parse    {parse:7.2f} us")

        msg = decode_sign1(token)
        to_be_signed = sig_structure(msg.protected_bytes, msg.payload)
        signature = msg.signature
        if name == "ES256":
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            scheme = ec.ECDSA(hashes.SHA256())

            def bare(p=public, d=der, m=to_be_signed, s=scheme) -> None:
                p.verify(d, m, s)
        else:

            def bare(p=public, g=signature, m=to_be_signed) -> None:
                p.verify(g, m)

        def path(t=text, p=public) -> None:  # as verify() runs it
            protected, payload, signature, alg, _ = decode_permit_parts(b45decode(t[5:]))
            claims = decode_claims_map(payload)
            verify_signature(p, alg, sig_structure(protected, payload), signature)
            decode_permit_claims(claims)

        # interleaved, best of several rounds: the two figures see the same machine load
        t_bare = t_path = float("inf")
        for _ in range(5):
            t_bare = min(t_bare, per_call_us(bare, number // 2))
            t_path = min(t_path, per_call_us(path, number // 2))
        print(
            f"QR->verdict formats {t_path:7.2f} us  bare verify {t_bare:7.2f} us  "
            f"ratio {t_path / t_bare:5.2f}"
        )


if __name__ == "__main__":
    main()

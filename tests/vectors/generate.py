"""Generate tests/vectors/verify.json: our own vectors for the offline check (docs/formats.md).

Deterministic: every key comes from a fixed seed, every time is a constant, ES256 uses
RFC 6979 deterministic signatures, so running this twice gives the same bytes::

    .venv/bin/python tests/vectors/generate.py            # rewrite verify.json
    .venv/bin/python tests/vectors/generate.py --check    # exit 1 if the file is out of date

Built straight from the wire formats of docs/formats.md with cbor2, cryptography and the
``base45`` package — deliberately *not* with the encoders of ``verifier/`` — so the
vectors check our decoders against an independent reading of the design.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
import zlib
from pathlib import Path
from typing import Any

import base45
import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

OUT = Path(__file__).resolve().parent / "verify.json"

# --------------------------------------------------------------------------- times
HOUR = 3600
DAY = 86400
NOW = 1774260000  # 2026-03-23 10:00 UTC, Monday 11:00 in Berlin (CET)
BUNDLE_IAT = NOW - 2 * HOUR
BUNDLE_FRESH = NOW + DAY
BUNDLE_EXP = NOW + 250 * DAY  # spans both DST changes of 2026
LEEWAY = 60
KEY_NBF = NOW - 365 * DAY
KEY_SIGN_UNTIL = NOW + 365 * DAY
KEY_EXP = NOW + 730 * DAY
RETIRED_SIGN_UNTIL = NOW - 30 * DAY
PENDING_NBF = NOW + 30 * DAY
SHORT_KEY_EXP = NOW + 2 * HOUR
TOKEN_IAT = NOW - DAY
TOKEN_EXP = NOW + 30 * DAY
LONG_EXP = NOW + 240 * DAY
DST_SPRING = 1774746000  # 2026-03-29 01:00 UTC = 03:00 CEST (02:00-03:00 CET never happens)
DST_AUTUMN = 1792891800  # 2026-10-25 01:30 UTC = 02:30 CET (the second 02:30 of that night)

ISS_A = "05513000"  # Gelsenkirchen
ISS_B = "05562032"  # Recklinghausen
ISS_UNKNOWN = "09162000"  # München, not in the bundle
ALL_TYPES = ["BEW", "BES", "HAN", "PFL", "SON"]
TYP_BUNDLE = "application/vnd.buergerid.trust-bundle+cbor"
TYP_STATUS = "application/statuslist+cwt"
TYP_PLATES = "application/vnd.buergerid.plate-index+cbor"


# --------------------------------------------------------------------------- keys
class Key:
    """A seeded key pair: P-256 (ES256) or Ed25519 (EdDSA)."""

    def __init__(self, seed: str, kind: str = "ES256") -> None:
        digest = hashlib.sha256(seed.encode()).digest()
        self.kind = kind
        if kind == "ES256":
            self.priv: Any = ec.derive_private_key(int.from_bytes(digest, "big"), ec.SECP256R1())
            point = self.priv.public_key().public_bytes(
                Encoding.X962, PublicFormat.UncompressedPoint
            )
            self.x, self.y = point[1:33], point[33:]
            self.alg = -7
            jwk = {"crv": "P-256", "kty": "EC", "x": _b64(self.x), "y": _b64(self.y)}
        else:
            self.priv = ed25519.Ed25519PrivateKey.from_private_bytes(digest)
            self.x = self.priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            self.y = b""
            self.alg = -8
            jwk = {"crv": "Ed25519", "kty": "OKP", "x": _b64(self.x)}
        self.jwk = jwk
        canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True)
        self.thumbprint = hashlib.sha256(canonical.encode()).digest()
        self.kid = self.thumbprint[:8]

    def cose_key(self) -> dict[int, Any]:
        if self.kind == "ES256":
            return {1: 2, -1: 1, -2: self.x, -3: self.y}
        return {1: 1, -1: 6, -2: self.x}

    def sign(self, message: bytes) -> bytes:
        if self.kind == "ES256":
            der = self.priv.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
            r, s = decode_dss_signature(der)
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return bytes(self.priv.sign(message))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


ROOT1 = Key("root-1")
ROOT2 = Key("root-2", "EdDSA")
ROGUE_ROOT = Key("rogue-root")
A1 = Key("A-es256-active")
A2 = Key("A-eddsa-active", "EdDSA")
A_PENDING = Key("A-pending")
A_RETIRED = Key("A-retired")
A_SHORT = Key("A-expires-soon")
A_VISITOR = Key("A-visitor-only")
A_WITHDRAWN = Key("A-withdrawn")  # in no bundle
B1 = Key("B-es256-active")
B_BEW = Key("B-resident-only")
STRANGER = Key("stranger")


def dumps(obj: Any) -> bytes:
    # Length-first canonical order equals RFC 8949 bytewise order for every map here.
    return cbor2.dumps(obj, canonical=True)


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def sign1(
    payload: bytes,
    key: Key,
    *,
    typ: str | None = None,
    alg: int | None = None,
    kid: Any = None,
    protected: dict[Any, Any] | None = None,
    tag: int = 18,
    unprotected: dict[Any, Any] | None = None,
) -> bytes:
    header = (
        protected
        if protected is not None
        else {1: key.alg if alg is None else alg, 4: key.kid if kid is None else kid}
    )
    if typ is not None:
        header[16] = typ
    prot = dumps(header)
    sig = key.sign(sig_structure(prot, payload))
    return cbor2.dumps(cbor2.CBORTag(tag, [prot, unprotected or {}, payload, sig]))


def qr(cose: bytes) -> str:
    return "BID1:" + base45.b45encode(cose).decode()


# --------------------------------------------------------------------------- formats
def bundle_key(key: Key, **over: Any) -> dict[str, Any]:
    entry = {
        "kid": key.thumbprint,
        "key": key.cose_key(),
        "alg": key.alg,
        "nbf": KEY_NBF,
        "sign_until": KEY_SIGN_UNTIL,
        "exp": KEY_EXP,
        "types": ALL_TYPES,
    }
    entry.update(over)
    return entry


def status_list(values: dict[int, int], size: int = 1024) -> bytes:
    raw = bytearray(size // 4)
    for idx, value in values.items():
        raw[idx // 4] |= value << (2 * (idx % 4))
    return zlib.compress(bytes(raw), 9)


def status_token(
    key: Key, issuer: str, number: int, values: dict[int, int], over: dict[int, Any] | None = None
) -> bytes:
    claims = {
        2: f"https://{issuer}.example/status/{number}",
        6: NOW - HOUR,
        4: NOW + 250 * DAY,
        65534: 365 * DAY,
        65533: {"bits": 2, "lst": status_list(values)},
    }
    claims.update(over or {})
    return sign1(dumps(claims), key, typ=TYP_STATUS)


LIST1 = {5: 1, 6: 2, 7: 3}  # idx 5 revoked, 6 suspended, 7 the reserved value 3


def issuer_a_entry() -> dict[str, Any]:
    return {
        "name": "Stadt Gelsenkirchen",
        "url": "https://gelsenkirchen.example",
        "keys": [
            bundle_key(A1),
            bundle_key(A2),
            bundle_key(A_PENDING, nbf=PENDING_NBF),
            bundle_key(A_RETIRED, nbf=NOW - 700 * DAY, sign_until=RETIRED_SIGN_UNTIL),
            bundle_key(A_SHORT, sign_until=SHORT_KEY_EXP, exp=SHORT_KEY_EXP),
            bundle_key(A_VISITOR, types=["BES"]),
        ],
        "status": {
            1: status_token(A1, ISS_A, 1, LIST1),
            2: status_token(STRANGER, ISS_A, 2, {}),  # signed by a stranger: unusable
            3: status_token(A1, ISS_A, 3, {}, {4: NOW + HOUR}),  # expires an hour from NOW
            4: status_token(A_PENDING, ISS_A, 4, {}),  # key window excludes the list's iat
            5: status_token(A1, ISS_A, 5, {}, {65534: 30 * 60}),  # stale after iat+30 min
            6: status_token(B1, ISS_A, 6, {}),  # signed by another issuer's key: unusable
            7: status_token(A_SHORT, ISS_A, 7, {}),  # its key stops at SHORT_KEY_EXP
        },
    }


def issuer_b_entry() -> dict[str, Any]:
    return {
        "name": "Stadt Recklinghausen",
        "url": "https://recklinghausen.example",
        "keys": [bundle_key(B1), bundle_key(B_BEW, types=["BEW"])],
        "status": {1: status_token(B1, ISS_B, 1, {3: 1})},
    }


def bundle(seq: int, root: Key, *, anchors_next: list[Key] | None = None, **over: Any) -> bytes:
    payload: dict[str, Any] = {
        "v": 1,
        "seq": seq,
        "iat": BUNDLE_IAT,
        "fresh_until": BUNDLE_FRESH,
        "exp": BUNDLE_EXP,
        "issuers": {ISS_A: issuer_a_entry(), ISS_B: issuer_b_entry()},
    }
    if anchors_next:
        payload["anchors_next"] = [k.cose_key() for k in anchors_next]
    payload.update(over)
    return sign1(dumps(payload), root, typ=TYP_BUNDLE)


def plate_index(
    key: Key, iss: str, entries: dict[str, list[list[Any]]], *, seed: str, **over: Any
) -> bytes:
    salt = hashlib.sha256(seed.encode()).digest()[:16]
    table = {
        hmac.new(salt, plate.encode(), hashlib.sha256).digest()[:12]: rows
        for plate, rows in entries.items()
    }
    payload = {"v": 1, "iss": iss, "iat": NOW - HOUR, "exp": NOW + 7 * DAY, "salt": salt}
    payload.update(over)
    payload["entries"] = table
    return sign1(dumps(payload), key, typ=TYP_PLATES)


def entry(
    number: int,
    idx: int,
    *,
    nbf: int = TOKEN_IAT,
    exp: int = TOKEN_EXP,
    zones: list[str] | None = None,
    typ: str = "BEW",
    lst: int = 1,
) -> list[Any]:
    return [number, lst, idx, nbf, exp, zones or ["A3"], typ]


PLATES_A = {
    "GE-AB 1234": [entry(2001, 10)],
    "GE-CD 5": [entry(2002, 5), entry(2003, 11)],  # revoked, then valid
    "GE-EF 6": [entry(2004, 5), entry(2005, 7)],  # revoked, then status unknown
    "GE-GH 7": [entry(2006, 12, exp=NOW), entry(2007, 5)],  # expired, then revoked
    "GE-IJ 8": [entry(2008, 13, nbf=NOW + LEEWAY + 1)],  # not yet valid
    "GE-KL 9": [entry(2009, 14, nbf=NOW + LEEWAY)],  # valid thanks to the leeway
    "NL:AB123C": [entry(2010, 15, typ="BES")],
}
PLATES_B = {
    "RE-X 7E": [entry(3001, 1, zones=["Z1"])],
    "RE-Y 8": [entry(3002, 2, typ="HAN", zones=["Z1"])],  # B_BEW may not sign HAN
    "RE-Z 9": [entry(3003, 4, zones=["A3"])],  # the same zone code as in Gelsenkirchen
}


def permit_payload(**over: Any) -> bytes:
    permit: dict[int, Any] = {1: "BEW", 2: ["A3"], 3: ["GE-AB 1234"], 4: 1001, 5: 1, 6: 10}
    claims: dict[int, Any] = {1: ISS_A, 6: TOKEN_IAT, 4: TOKEN_EXP}
    for name, value in over.items():
        label = {
            "type": 1,
            "zones": 2,
            "plates": 3,
            "number": 4,
            "list": 5,
            "idx": 6,
            "fleet": 7,
            "max_stay": 8,
            "windows": 9,
        }.get(name)
        if label is not None:
            if value is _DROP:
                permit.pop(label, None)
            else:
                permit[label] = value
            continue
        label = {"iss": 1, "iat": 6, "nbf": 5, "exp": 4}[name]
        if value is _DROP:
            claims.pop(label, None)
        else:
            claims[label] = value
    claims[-65537] = permit
    return dumps(claims)


_DROP = object()


def token(key: Key = A1, **over: Any) -> str:
    return qr(sign1(permit_payload(**over), key))


# --------------------------------------------------------------------------- cases
def build() -> dict[str, Any]:
    stores: dict[str, Any] = {}
    cases: list[dict[str, Any]] = []
    sync_cases: list[dict[str, Any]] = []

    b1 = bundle(1, ROOT1)
    pi_a = plate_index(A1, ISS_A, PLATES_A, seed="pa")
    pi_b = plate_index(B_BEW, ISS_B, PLATES_B, seed="pb")
    anchor1 = dumps(ROOT1.cose_key())
    anchor1_jwk = json.dumps(ROOT1.jwk).encode()
    stores["empty"] = {"anchors": [anchor1.hex()], "sync": []}
    stores["main"] = {"anchors": [anchor1.hex()], "sync": [b1.hex(), pi_a.hex(), pi_b.hex()]}
    stores["no_index"] = {"anchors": [anchor1_jwk.hex()], "sync": [b1.hex()]}
    b2 = bundle(2, ROOT1, anchors_next=[ROOT2])
    b3 = bundle(3, ROOT2)
    stores["rotated"] = {"anchors": [anchor1.hex()], "sync": [b2.hex(), b3.hex()]}

    def case(
        name: str,
        text: str,
        expect: tuple[str, str | None, list[str]],
        *,
        store: str = "main",
        now: int = NOW,
        zone: str | None = None,
        plate: str | None = None,
        number: int | None = None,
        kind: str = "qr",
        municipality: str | None = None,
    ) -> None:
        outcome, reason, warnings = expect
        cases.append(
            {
                "name": name,
                "kind": kind,
                "store": store,
                "input": text,
                "now": now,
                "zone": zone,
                "municipality": municipality,
                "plate": plate,
                "expected": {
                    "outcome": outcome,
                    "reason": reason,
                    "warnings": warnings,
                    "number": number,
                },
            }
        )

    def ok(*warnings: str) -> tuple[str, None, list[str]]:
        return ("valid", None, list(warnings))

    def bad(reason: str, *warnings: str) -> tuple[str, str, list[str]]:
        return ("invalid", reason, list(warnings))

    def unk(reason: str, *warnings: str) -> tuple[str, str, list[str]]:
        return ("indeterminate", reason, list(warnings))

    good = token()
    case("valid_es256", good, ok(), number=1001)
    case("valid_eddsa", token(A2), ok(), number=1001)
    case("valid_rotated_root", good, ok(), store="rotated", number=1001)
    case("valid_max_stay", token(type="HAN", max_stay=120), ok(), number=1001)

    # step 1
    case("format_other_prefix", "HC1:" + good[5:], bad("unsupported_format"))
    case("format_lower_prefix", "bid1:" + good[5:], bad("unsupported_format"))
    case("format_empty", "", bad("unsupported_format"))

    def padded(n: int) -> str:
        """A valid token whose zones carry ``n`` extra characters (zone codes ≤ 16 chars)."""
        zones = ["A3"]
        i = 0
        while n > 0:
            take = min(n, 13)
            zones.append(f"Z{i:02d}" + "X" * take)
            n -= take
            i += 1
        return token(zones=zones)

    filler = 0
    while len(text := padded(filler)) < 1000:  # a valid token of exactly 1,000 characters
        filler += 1
    while len(text) > 1000:
        filler -= 1
        text = padded(filler)
        if len(text) < 1000:
            raise SystemExit("cannot hit 1,000 characters exactly")
    case("format_1000_chars_ok", text, ok(), number=1001)
    longer = filler
    while len(text) <= 1000:
        longer += 1
        text = padded(longer)
    case("format_over_1000_chars", text, bad("unsupported_format"))
    # step 2
    body = good[5:]
    case("base45_lower_case", "BID1:" + body.lower(), bad("bad_base45"))
    case(
        "base45_length_1_mod_3",
        "BID1:" + body + "0" * ((1 - len(body)) % 3),
        bad("bad_base45"),
    )
    case("base45_triplet_overflow", "BID1:GGW", bad("bad_base45"))
    case("base45_pair_overflow", "BID1:GG", bad("bad_base45"))
    case("base45_non_ascii", "BID1:ÄÄÄ", bad("bad_base45"))
    # step 3
    payload = permit_payload()
    prot = dumps({1: -7, 4: A1.kid})
    sig = A1.sign(sig_structure(prot, payload))

    def raw(obj: Any) -> str:
        return qr(obj if isinstance(obj, bytes) else cbor2.dumps(obj))

    case("cose_not_cbor", raw(b"\xff\x00"), bad("bad_cose"))
    case("cose_tag_17", raw(cbor2.CBORTag(17, [prot, {}, payload, sig])), bad("bad_cose"))
    case("cose_untagged", raw([prot, {}, payload, sig]), bad("bad_cose"))
    case("cose_array_of_3", raw(cbor2.CBORTag(18, [prot, {}, payload])), bad("bad_cose"))
    case(
        "cose_trailing_byte",
        raw(cbor2.dumps(cbor2.CBORTag(18, [prot, {}, payload, sig])) + b"\x00"),
        bad("bad_cose"),
    )
    case(
        "cose_indefinite_array",
        raw(b"\xd2\x9f" + b"".join(cbor2.dumps(x) for x in (prot, {}, payload, sig)) + b"\xff"),
        bad("bad_cose"),
    )
    deep: Any = 0
    for _ in range(17):
        deep = [deep]
    case("cose_too_deep", raw(cbor2.CBORTag(18, [prot, {5: deep}, payload, sig])), bad("bad_cose"))
    dup = b"\xa3\x01\x26\x04\x48" + A1.kid + b"\x01\x26"  # {1: -7, 4: kid, 1: -7}
    case(
        "cose_duplicate_header_key",
        raw(cbor2.CBORTag(18, [dup, {}, payload, A1.sign(sig_structure(dup, payload))])),
        bad("bad_cose"),
    )
    case(
        "cose_unprotected_not_empty",
        qr(sign1(payload, A1, unprotected={99: "x"})),
        bad("bad_cose"),
    )
    case("cose_no_kid", qr(sign1(payload, A1, protected={1: -7})), bad("bad_cose"))
    case("cose_text_kid", qr(sign1(payload, A1, protected={1: -7, 4: "A1"})), bad("bad_cose"))
    case(
        "cose_protected_not_map",
        raw(cbor2.CBORTag(18, [cbor2.dumps([1]), {}, payload, sig])),
        bad("bad_cose"),
    )
    case("alg_es384", qr(sign1(payload, A1, alg=-35)), bad("unsupported_alg"))
    case("alg_rs256", qr(sign1(payload, A1, alg=-257)), bad("unsupported_alg"))
    # step 4
    case("no_bundle", good, unk("no_bundle"), store="empty")
    case("clock_behind", good, unk("clock_behind"), now=BUNDLE_IAT - LEEWAY - 1)
    case("clock_floor_leeway_edge", good, ok(), now=BUNDLE_IAT - LEEWAY, number=1001)
    case("bundle_expired", good, unk("bundle_expired", "bundle_stale"), now=BUNDLE_EXP)
    case(
        "bundle_last_second",
        token(exp=BUNDLE_EXP + DAY),
        ok("bundle_stale"),
        now=BUNDLE_EXP - 1,
        number=1001,
    )
    case("bundle_fresh_last_second", good, ok(), now=BUNDLE_FRESH - 1, number=1001)
    case("bundle_stale", good, ok("bundle_stale"), now=BUNDLE_FRESH, number=1001)
    # step 5
    case("claims_not_a_map", qr(sign1(dumps([1, 2]), A1)), bad("bad_claims"))
    case("claims_no_iss", token(iss=_DROP), bad("bad_claims"))
    case("claims_iss_int", token(iss=5513000), bad("bad_claims"))
    case("unknown_issuer", token(A1, iss=ISS_UNKNOWN), bad("unknown_issuer"))
    case("unknown_key_withdrawn", token(A_WITHDRAWN), bad("unknown_key"))
    case("unknown_key_other_issuers_key", token(B1), bad("unknown_key"))
    case("unknown_key_alg_mismatch", qr(sign1(payload, A2, kid=A1.kid)), bad("unknown_key"))
    # step 6
    cose = bytearray(sign1(payload, A1))
    cose[-1] ^= 1
    case("signature_flipped_bit", qr(bytes(cose)), bad("bad_signature"))
    tampered = permit_payload(number=1002)
    case(
        "signature_payload_changed",
        raw(cbor2.CBORTag(18, [prot, {}, tampered, sig])),
        bad("bad_signature"),
    )
    case(
        "signature_63_bytes",
        raw(cbor2.CBORTag(18, [prot, {}, payload, sig[:63]])),
        bad("bad_signature"),
    )
    case(
        "signature_eddsa_flipped",
        raw(cbor2.CBORTag(18, [dumps({1: -8, 4: A2.kid}), {}, payload, bytes(64)])),
        bad("bad_signature"),
    )
    case("claims_no_exp", token(exp=_DROP), bad("bad_claims"))
    case("claims_exp_float", token(exp=float(TOKEN_EXP)), bad("bad_claims"))
    case("claims_iat_text", token(iat=str(TOKEN_IAT)), bad("bad_claims"))
    case(
        "claims_no_permit_map",
        qr(sign1(dumps({1: ISS_A, 6: TOKEN_IAT, 4: TOKEN_EXP}), A1)),
        bad("bad_claims"),
    )
    case("claims_type_int", token(type=1), bad("bad_claims"))
    case("claims_window_from_not_before_to", token(windows=[[31, 600, 600]]), bad("bad_claims"))
    case("claims_windows_empty", token(windows=[]), bad("bad_claims"))
    case("claims_number_negative", token(number=-1), bad("bad_claims"))
    # step 7
    case("key_pending", token(A_PENDING), bad("key_not_valid"), number=1001)
    case(
        "key_pending_from_nbf",
        token(A_PENDING, iat=PENDING_NBF, exp=PENDING_NBF + DAY),
        ok("bundle_stale"),
        now=PENDING_NBF,
        number=1001,
    )
    case(
        "key_retired_token_before", token(A_RETIRED, iat=RETIRED_SIGN_UNTIL - 1), ok(), number=1001
    )
    case(
        "key_retired_token_at_sign_until",
        token(A_RETIRED, iat=RETIRED_SIGN_UNTIL),
        bad("key_not_valid"),
        number=1001,
    )
    case("key_nbf_edge", token(A_RETIRED, iat=NOW - 700 * DAY), ok(), number=1001)
    case(
        "key_before_nbf",
        token(A_RETIRED, iat=NOW - 700 * DAY - 1),
        bad("key_not_valid"),
        number=1001,
    )
    case(
        "key_expires_last_second", token(A_SHORT, list=7), ok(), now=SHORT_KEY_EXP - 1, number=1001
    )
    case(
        "key_expired",
        token(A_SHORT, list=1),
        bad("key_not_valid", "bundle_stale"),
        now=SHORT_KEY_EXP + DAY,
        number=1001,
    )
    case("key_type_not_allowed", token(A_VISITOR), bad("key_not_valid"), number=1001)
    case("key_type_allowed", token(A_VISITOR, type="BES"), ok(), number=1001)
    # step 8
    case("not_yet_valid_nbf", token(nbf=NOW + LEEWAY + 1), bad("not_yet_valid"), number=1001)
    case("nbf_within_leeway", token(nbf=NOW + LEEWAY), ok(), number=1001)
    case("not_yet_valid_iat", token(iat=NOW + LEEWAY + 1), bad("not_yet_valid"), number=1001)
    case("iat_within_leeway", token(iat=NOW + LEEWAY), ok(), number=1001)
    case("expired_at_exp", token(exp=NOW), bad("expired"), number=1001)
    case("valid_last_second", token(exp=NOW + 1), ok(), number=1001)
    # step 9
    case("status_revoked", token(idx=5), bad("revoked"), number=1001)
    case("status_suspended", token(idx=6), bad("suspended"), number=1001)
    case("status_value_3", token(idx=7), unk("status_unknown"), number=1001)
    case("status_index_out_of_range", token(idx=1024), unk("status_unknown"), number=1001)
    case("status_last_index", token(idx=1023), ok(), number=1001)
    case("status_list_missing", token(list=99), unk("status_unknown"), number=1001)
    case("status_list_by_stranger", token(list=2), unk("status_unknown"), number=1001)
    case("status_list_expired", token(list=3), unk("status_unknown"), now=NOW + HOUR, number=1001)
    case("status_list_last_second", token(list=3), ok(), now=NOW + HOUR - 1, number=1001)
    case("status_list_key_window", token(list=4), unk("status_unknown"), number=1001)
    case("status_list_by_other_issuer", token(list=6), unk("status_unknown"), number=1001)
    case(
        "status_list_key_expired",
        token(list=7),
        unk("status_unknown", "bundle_stale"),
        now=SHORT_KEY_EXP + DAY,
        number=1001,
    )
    case("status_stale", token(list=5), ok("status_stale"), number=1001)
    case(
        "status_stale_and_revoked_other_list", token(list=5, idx=5), ok("status_stale"), number=1001
    )
    # step 10 (NOW is Monday 11:00 CET)
    weekdays = [[31, 10 * 60, 12 * 60]]  # Monday to Friday 10:00-12:00
    case("hours_inside", token(windows=weekdays), ok(), number=1001)
    case("hours_from_inclusive", token(windows=weekdays), ok(), now=NOW - HOUR, number=1001)
    case(
        "hours_before_from",
        token(windows=weekdays),
        bad("outside_hours"),
        now=NOW - HOUR - 60,
        number=1001,
    )
    case("hours_last_minute", token(windows=weekdays), ok(), now=NOW + HOUR - 60, number=1001)
    case(
        "hours_to_exclusive",
        token(windows=weekdays),
        bad("outside_hours"),
        now=NOW + HOUR,
        number=1001,
    )
    case(
        "hours_saturday",
        token(windows=weekdays),
        bad("outside_hours", "bundle_stale"),
        now=NOW + 5 * DAY,
        number=1001,
    )
    case("hours_two_windows", token(windows=[[64, 0, 60], [1, 600, 720]]), ok(), number=1001)
    sunday = token(windows=[[64, 180, 240]], exp=LONG_EXP)
    case("dst_spring_0300_cest", sunday, ok("bundle_stale"), now=DST_SPRING, number=1001)
    case(
        "dst_spring_0159_cet",
        sunday,
        bad("outside_hours", "bundle_stale"),
        now=DST_SPRING - 60,
        number=1001,
    )
    case(
        "dst_spring_missing_hour",
        token(windows=[[64, 120, 180]], exp=LONG_EXP),
        bad("outside_hours", "bundle_stale"),
        now=DST_SPRING,
        number=1001,
    )
    second_230 = token(windows=[[64, 150, 151]], exp=LONG_EXP)
    case("dst_autumn_0230_cet", second_230, ok("bundle_stale"), now=DST_AUTUMN, number=1001)
    case("dst_autumn_0230_cest", second_230, ok("bundle_stale"), now=DST_AUTUMN - HOUR, number=1001)
    case(
        "dst_autumn_0305_cet",
        token(windows=[[64, 180, 240]], exp=LONG_EXP),
        ok("bundle_stale"),
        now=DST_AUTUMN + 35 * 60,
        number=1001,
    )
    # step 11: a zone is (municipality, code): AGS:CODE, or a bare code of the handheld's
    # municipality (two issuers in the "main" store, so a bare code needs one)
    case("zone_match", good, ok(), zone=f" {ISS_A}: a3 ", number=1001)
    case("zone_wrong", good, bad("wrong_zone"), zone=f"{ISS_A}:B1", number=1001)
    case("zone_second_of_two", token(zones=["A1", "A3"]), ok(), zone=f"{ISS_A}:A3", number=1001)
    case("zone_bare_of_the_handheld", good, ok(), zone="a3", municipality=ISS_A, number=1001)
    case("zone_bare_other_handheld", good, bad("wrong_zone"), zone="A3", municipality=ISS_B,
         number=1001)  # fmt: skip
    other_city = token(B1, iss=ISS_B, zones=["A3"])
    case("zone_same_code_other_city", other_city, bad("wrong_zone"), zone=f"{ISS_A}:A3",
         number=1001)  # fmt: skip
    case("zone_same_code_own_city", other_city, ok(), zone=f"{ISS_B}:A3", number=1001)
    case("plate_match_canonicalised", good, ok(), plate="ge ab1234", number=1001)
    case("plate_wrong", good, bad("wrong_plate"), plate="GE-AB 1235", number=1001)
    case(
        "zone_checked_before_plate",
        good,
        bad("wrong_zone"),
        zone=f"{ISS_A}:B1",
        plate="GE-X 1",
        number=1001,
    )
    case("plate_e_suffix", token(plates=["RE-X 7E"]), ok(), plate="re x 7e", number=1001)
    case(
        "plate_e_suffix_missing",
        token(plates=["RE-X 7E"]),
        bad("wrong_plate"),
        plate="RE-X 7",
        number=1001,
    )
    foreign = token(type="BES", plates=["NL:AB123C"])
    case("foreign_plate_match", foreign, ok(), plate="nl:ab-123 c", number=1001)
    case("foreign_plate_wrong", foreign, bad("wrong_plate"), plate="NL:AB123D", number=1001)
    case("foreign_vs_german", foreign, bad("wrong_plate"), plate="AB-C 123", number=1001)
    fleet = token(fleet="Stadtteilauto", plates=[])
    case("fleet_with_plate", fleet, ok("plate_not_checked"), plate="GE-ZZ 99", number=1001)
    case("fleet_no_context", fleet, ok(), number=1001)
    case("fleet_zone_only", fleet, ok(), zone=f"{ISS_A}:A3", number=1001)
    case(
        "fleet_wrong_zone",
        fleet,
        bad("wrong_zone"),
        zone=f"{ISS_A}:B1",
        plate="GE-ZZ 99",
        number=1001,
    )
    fleet_plates = token(fleet="Stadtteilauto", plates=["GE-FL 1"])
    case("fleet_listed_plate", fleet_plates, ok(), plate="GE-FL 1", number=1001)
    case("fleet_other_plate", fleet_plates, ok("plate_not_checked"), plate="GE-FL 2", number=1001)

    # plate index lookups
    def pcase(name: str, plate: str, expect: tuple[str, str | None, list[str]], **kw: Any) -> None:
        case(name, plate, expect, kind="plate", **kw)

    pcase("plate_valid", "ge-ab 1234", ok(), number=2001)
    pcase("plate_second_entry_valid", "GE-CD 5", ok(), number=2003)
    pcase("plate_indeterminate_beats_invalid", "GE-EF 6", unk("status_unknown"), number=2005)
    pcase("plate_first_entry_reason", "GE-GH 7", bad("expired"), number=2006)
    pcase("plate_not_yet_valid", "GE-IJ 8", bad("not_yet_valid"), number=2008)
    pcase("plate_nbf_leeway", "GE-KL 9", ok(), number=2009)
    pcase("plate_foreign", "nl: ab 123 c", ok(), number=2010)
    pcase("plate_unknown", "GE-ZZ 999", bad("no_permit"))
    pcase("plate_wrong_zone", "GE-AB 1234", bad("wrong_zone"), zone=f"{ISS_A}:B1", number=2001)
    pcase("plate_zone_ok", "GE-AB 1234", ok(), zone=f"{ISS_A}:a3", number=2001)
    pcase("plate_other_issuer", "RE-X 7E", ok(), zone=f"{ISS_B}:Z1", number=3001)
    pcase("plate_same_code_other_city", "RE-Z 9", bad("wrong_zone"), zone=f"{ISS_A}:A3",
          number=3003)  # fmt: skip
    pcase("plate_same_code_own_city", "RE-Z 9", ok(), zone=f"{ISS_B}:A3", number=3003)
    pcase("plate_bare_zone_of_the_handheld", "RE-Z 9", ok(), zone="A3", municipality=ISS_B,
          number=3003)  # fmt: skip
    pcase("plate_bare_zone_other_handheld", "RE-Z 9", bad("wrong_zone"), zone="A3",
          municipality=ISS_A, number=3003)  # fmt: skip
    pcase("plate_type_not_allowed", "RE-Y 8", bad("key_not_valid"), number=3002)
    pcase(
        "plate_index_expired",
        "GE-AB 1234",
        unk("no_plate_index", "bundle_stale"),
        now=NOW + 7 * DAY,
    )
    pcase(
        "plate_index_last_second",
        "GE-AB 1234",
        ok("bundle_stale"),
        now=NOW + 7 * DAY - 1,
        number=2001,
    )
    pcase("plate_no_index", "GE-AB 1234", unk("no_plate_index"), store="no_index")
    pcase("plate_no_bundle", "GE-AB 1234", unk("no_plate_index"), store="empty")
    pcase(
        "plate_bundle_expired", "GE-AB 1234", unk("no_plate_index", "bundle_stale"), now=BUNDLE_EXP
    )

    # sync sequences: each step "stored", "unchanged" or a refusal reason
    def seq(name: str, anchors: list[bytes], steps: list[tuple[bytes, str]]) -> None:
        sync_cases.append(
            {
                "name": name,
                "anchors": [a.hex() for a in anchors],
                "steps": [{"data": d.hex(), "expect": e} for d, e in steps],
            }
        )

    b1_again = bundle(1, ROOT1, fresh_until=BUNDLE_FRESH + 1)
    seq("first_sync", [anchor1], [(b1, "stored")])
    seq("identical_resync", [anchor1], [(b1, "stored"), (b1, "unchanged")])
    seq("equal_seq_other_bytes", [anchor1], [(b1, "stored"), (b1_again, "bundle_rollback")])
    seq("lower_seq", [anchor1], [(b2, "stored"), (b1, "bundle_rollback")])
    seq("higher_seq", [anchor1], [(b1, "stored"), (b2, "stored")])
    seq("root_rotation", [anchor1], [(b2, "stored"), (b3, "stored")])
    seq("new_root_unannounced", [anchor1], [(b1, "stored"), (b3, "untrusted_bundle")])
    seq("rogue_root", [anchor1], [(bundle(9, ROGUE_ROOT), "untrusted_bundle")])
    seq(
        "rogue_root_claims_kid",
        [anchor1],
        [(sign1(dumps({"v": 1}), ROGUE_ROOT, kid=ROOT1.kid, typ=TYP_BUNDLE), "untrusted_bundle")],
    )
    seq("no_anchor", [], [(b1, "untrusted_bundle")])
    seq("jwk_anchor", [anchor1_jwk], [(b1, "stored")])
    seq("plate_index_before_bundle", [anchor1], [(pi_a, "untrusted_plate_index")])
    seq("plate_index", [anchor1], [(b1, "stored"), (pi_a, "stored"), (pi_a, "unchanged")])
    seq(
        "plate_index_other_issuers_key",
        [anchor1],
        [(b1, "stored"), (plate_index(B1, ISS_A, PLATES_A, seed="x"), "untrusted_plate_index")],
    )
    seq(
        "plate_index_stranger",
        [anchor1],
        [
            (b1, "stored"),
            (plate_index(STRANGER, ISS_A, PLATES_A, seed="y"), "untrusted_plate_index"),
        ],
    )
    seq(
        "plate_index_unknown_issuer",
        [anchor1],
        [
            (b1, "stored"),
            (plate_index(A1, ISS_UNKNOWN, PLATES_A, seed="z"), "untrusted_plate_index"),
        ],
    )
    seq("garbage", [anchor1], [(b"\x00garbage", "bad_bundle")])
    seq("bad_list_does_not_refuse", [anchor1], [(b1, "stored")])  # b1 holds 4 bad lists

    return {
        "description": "buergerid offline verifier vectors; see README.md",
        "leeway_s": LEEWAY,
        "stores": stores,
        "cases": cases,
        "sync": sync_cases,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    text = json.dumps(build(), indent=1, ensure_ascii=False) + "\n"
    if args.check:
        same = OUT.is_file() and OUT.read_text(encoding="utf-8") == text
        print("up to date" if same else f"{OUT.name} is out of date")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    data = json.loads(text)
    print(f"wrote {OUT.name}: {len(data['cases'])} cases, {len(data['sync'])} sync sequences")
    return 0


if __name__ == "__main__":
    sys.exit(main())

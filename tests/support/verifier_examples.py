"""Fixed examples for verifier's tests: test keys, permit claims, CBOR values, a status list,
a trust bundle, a plate index and an SD-JWT VC presentation.

Nothing here is a secret: the COSE and JWS keys are derived from fixed numbers so that every
run (and every test module) signs with the same keys. The claims are a resident permit and a
care service permit that uses every optional key of the permit map. The format tests and the
mutation test (tests/verifier/test_mutations.py) share these, so a change made here is
checked by both.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st

from verifier import PermitType
from verifier.formats import (
    Alg,
    IssuerEntry,
    PermitClaims,
    PlateEntry,
    PlateIndex,
    StatusList,
    StatusListToken,
    TrustBundle,
    Window,
    bundle_key,
    cose_kid,
    encode_status_list_cwt,
    key_to_jwk,
    plate_key,
    software_signer,
)
from verifier.sdjwt import (
    ParsedSdJwt,
    Sd,
    VerifiedSdJwt,
    issue_sd_jwt,
    present_sd_jwt,
    verify_sd_jwt_vc,
)

EC_PRIVATE = ec.derive_private_key(0x5EED_0001, ec.SECP256R1())
ED_PRIVATE = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
EC_KEY = EC_PRIVATE.public_key()
ED_KEY = ED_PRIVATE.public_key()
EC_SIGN = software_signer(EC_PRIVATE)
T0 = 1_767_225_600

RESIDENT = PermitClaims(
    issuer="05513000",
    iat=T0,
    exp=1_798_761_600,
    nbf=None,
    type=PermitType.BEW,
    zones=("A3",),
    plates=("GE-AB 1234",),
    number=4711,
    status_list=1,
    status_idx=90_210,
)
CARE = dataclasses.replace(
    RESIDENT,
    type=PermitType.PFL,
    nbf=1_767_300_000,
    plates=(),
    fleet="Pflegedienst Sonnenschein",
    max_stay=120,
    windows=(Window(31, 420, 1200), Window(32, 480, 720)),
)

cbor_leaves = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64 - 1),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.booleans(),
    st.none(),
)
cbor_keys = st.one_of(st.integers(min_value=-(2**32), max_value=2**32), st.text(max_size=8))
cbor_values = st.recursive(
    cbor_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(cbor_keys, inner, max_size=4),
    max_leaves=20,
)
"""Values ``cbor_dumps`` encodes: integers up to 65 bits, text, bytes, nested lists and maps."""

# A status list of 2^17 two-bit entries with a value at both ends, and its token.
STATUS_LIST = StatusList.from_values(2, 2**17, {0: 1, 7: 2, 90_210: 1, 2**17 - 1: 3})
STATUS_TOKEN = StatusListToken(
    sub="https://gkd.example/status-lists/1",
    iat=T0,
    exp=T0 + 86_400,
    ttl=43_200,
    status_list=STATUS_LIST,
)

# A trust bundle: one issuer with an ES256 key for two permit types, an Ed25519 key for
# none, one status list, and a next anchor announced.
BUNDLE_STATUS = encode_status_list_cwt(
    StatusListToken(
        "https://gkd.example/sl/1", T0, T0 + 86_400, 43_200, StatusList.from_values(2, 1024, {5: 1})
    ),
    alg=Alg.ES256,
    kid=cose_kid(EC_KEY),
    sign=EC_SIGN,
)
BUNDLE_KEYS = (
    bundle_key(EC_KEY, nbf=T0 - 10, sign_until=T0 + 100, exp=T0 + 1000, types=("BEW", "BES")),
    bundle_key(ED_KEY, nbf=T0, sign_until=T0 + 200, exp=T0 + 2000, types=()),
)
BUNDLE = TrustBundle(
    seq=7,
    iat=T0,
    fresh_until=T0 + 3600,
    exp=T0 + 86_400,
    issuers={
        "05513000": IssuerEntry(
            "05513000", "Gelsenkirchen", "https://ge.example", BUNDLE_KEYS, {1: BUNDLE_STATUS}
        )
    },
    anchors_next=(ec.derive_private_key(0x5EED_0002, ec.SECP256R1()).public_key(),),
)

# A plate index: one plate with a resident and a visitor permit, one foreign plate.
SALT = bytes(range(16))
PLATE_ENTRY = PlateEntry(4711, 1, 90_210, T0, T0 + 86_400 * 365, ("A3",), "BEW")
VISITOR_ENTRY = PlateEntry(4712, 1, 5, T0, T0 + 86_400, ("A3", "B1"), "BES")
PLATE_INDEX = PlateIndex(
    iss="05513000",
    iat=T0,
    exp=T0 + 86_400,
    salt=SALT,
    entries={
        plate_key(SALT, "GE-AB 1234"): (PLATE_ENTRY, VISITOR_ENTRY),
        plate_key(SALT, "NL:AB123C"): (VISITOR_ENTRY,),
    },
)

# An SD-JWT VC parking permit: status reference, selectively disclosable plates and a
# nested holder name with non-ASCII letters, bound to a holder key.
SD_ISSUER = ec.generate_private_key(ec.SECP256R1())
SD_HOLDER = ec.generate_private_key(ec.SECP256R1())
SD_SIGN = software_signer(SD_ISSUER)
SD_HOLDER_SIGN = software_signer(SD_HOLDER)
SD_ISS = "https://buergerid.example/05513000"
SD_VCT = SD_ISS + "/vct/parking-permit"
SD_AUD = "https://ordnungsamt.example"
SD_NONCE = "c2VjcmV0LW5vbmNl"
SD_NOW = 1_780_000_000
SD_EXP = SD_NOW + 365 * 86400


def sd_permit_claims(**extra: Any) -> dict[Any, Any]:
    """The claims of the SD-JWT VC parking permit, ``extra`` added or replacing."""
    return {
        "iss": SD_ISS,
        "iat": SD_NOW - 10,
        "exp": SD_EXP,
        "vct": SD_VCT,
        "status": {"status_list": {"idx": 4711, "uri": SD_ISS + "/status/3"}},
        "type": "BEW",
        "zones": ["A3"],
        Sd("plates"): [Sd("GE-AB 1234"), Sd("GE-XY 99E")],
        "number": 120034,
        Sd("holder_name"): {Sd("given_name"): "Jürgen", Sd("family_name"): "Weiß"},
        **extra,
    }


def sd_issue(claims: dict[Any, Any] | None = None, **kwargs: Any) -> str:
    """The permit issued by ``SD_ISSUER`` to ``SD_HOLDER``; ``kwargs`` override the options."""
    options: dict[str, Any] = {
        "sign": SD_SIGN,
        "kid": "k1",
        "holder_jwk": key_to_jwk(SD_HOLDER.public_key()),
    }
    options.update(kwargs)
    return issue_sd_jwt(sd_permit_claims() if claims is None else claims, **options)


def sd_present(sd_jwt: str, paths: list[tuple[str | int, ...]], **kwargs: Any) -> str:
    """A presentation by ``SD_HOLDER`` to ``SD_AUD``; ``kwargs`` override the options."""
    options: dict[str, Any] = {
        "holder_sign": SD_HOLDER_SIGN,
        "aud": SD_AUD,
        "nonce": SD_NONCE,
        "iat": SD_NOW,
    }
    options.update(kwargs)
    return present_sd_jwt(sd_jwt, paths, **options)


def sd_verify_vc(presentation: str | ParsedSdJwt, **kwargs: Any) -> VerifiedSdJwt:
    """The officer's check of a presentation; ``kwargs`` override the options."""
    options: dict[str, Any] = {
        "issuer_key": SD_ISSUER.public_key(),
        "now": SD_NOW,
        "require_key_binding": True,
        "expected_aud": SD_AUD,
        "expected_nonce": SD_NONCE,
    }
    options.update(kwargs)
    return verify_sd_jwt_vc(presentation, **options)


SD_PERMIT = sd_issue()
SD_PRESENTED = sd_present(SD_PERMIT, [("plates", 0), ("holder_name", "family_name")])

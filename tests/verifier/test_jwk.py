"""`decode_public_jwk`: one key, one accepted spelling, one thumbprint (RFC 7517/7518/7638,
RFC 8037). Anything else, however it was mangled, is a `DecodeError`, never another error."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier import DecodeError, Reason
from verifier.formats import decode_public_jwk, jws_kid, key_to_jwk, software_signer
from verifier.sdjwt import issue_sd_jwt, present_sd_jwt, verify_sd_jwt_vc

EC_PRIVATE = ec.derive_private_key(0x5EED_0002, ec.SECP256R1())
EC_JWK = key_to_jwk(EC_PRIVATE.public_key())
ED_JWK = key_to_jwk(Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))).public_key())
# RFC 8037 §A.3: the Ed25519 example key and its RFC 7638 thumbprint
RFC8037_JWK = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
P256_P = 2**256 - 2**224 + 2**192 + 2**96 - 1
ED_P = 2**255 - 19
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def refused(jwk: Any) -> Reason:
    with pytest.raises(DecodeError) as info:
        decode_public_jwk(jwk)
    return info.value.reason


def test_the_rfc_8037_example_and_its_thumbprint() -> None:
    decoded = decode_public_jwk({**RFC8037_JWK, "kid": "ignored", "use": "sig"})
    assert decoded.kid == RFC8037_THUMBPRINT
    assert decoded.jwk == RFC8037_JWK  # the thumbprint members only


def test_a_canonical_p256_jwk_decodes_to_its_key() -> None:
    decoded = decode_public_jwk(EC_JWK)
    assert decoded.jwk == EC_JWK and decoded.kid == jws_kid(EC_PRIVATE.public_key())
    assert len(decoded.kid) == 43


def _last_char_variants(text: str) -> list[str]:
    """Spellings that decode to the same bytes with lenient decoders (unused low bits set)."""
    raw = unb64(text)
    return [v for v in (text[:-1] + c for c in ALPHABET) if v != text and unb64(v) == raw]


@pytest.mark.parametrize("member", ["x", "y"])
def test_every_other_spelling_of_a_coordinate_is_refused(member: str) -> None:
    value = EC_JWK[member]
    spellings = [value + "=", value + "==", " " + value, value.replace("-", "+").replace("_", "/")]
    spellings += _last_char_variants(value)
    raw = unb64(value)
    spellings += [b64(b"\x00" + raw), b64(raw[1:]), b64(raw[:-1])]  # 33, 31, 31 bytes
    for spelling in spellings:
        if spelling == value:
            continue
        assert refused({**EC_JWK, member: spelling}) is Reason.BAD_KEY, spelling
    assert len(_last_char_variants(value)) == 3  # 43 characters carry 2 unused bits


def test_off_curve_points_are_refused() -> None:
    y = int.from_bytes(unb64(EC_JWK["y"]), "big")
    assert refused({**EC_JWK, "y": b64(((y + 1) % P256_P).to_bytes(32, "big"))})
    assert refused({**EC_JWK, "x": b64(bytes(32)), "y": b64(bytes(32))})
    assert refused({**EC_JWK, "y": b64((P256_P + 1).to_bytes(32, "big"))})


def test_ed25519_accepts_only_canonical_points() -> None:
    assert decode_public_jwk(ED_JWK).jwk == ED_JWK
    for y in (ED_P, ED_P + 1):  # y at or above p: another spelling of a small y
        assert refused({**ED_JWK, "x": b64(y.to_bytes(32, "little"))})
    minus_zero = (1 | 1 << 255).to_bytes(32, "little")  # y = 1 has x = 0, which has no sign
    assert refused({**ED_JWK, "x": b64(minus_zero)})
    minus_zero_other = (ED_P - 1 | 1 << 255).to_bytes(32, "little")  # y = -1 has x = 0 too
    assert refused({**ED_JWK, "x": b64(minus_zero_other)})
    assert refused({**ED_JWK, "y": ED_JWK["x"]})  # OKP keys have no y


def test_an_ed25519_string_that_names_no_point_verifies_nothing() -> None:
    # Canonical, so it decodes (no curve arithmetic in our code), but no signature verifies
    # under it: a proof made with any key fails, so it cannot bind a device or a credential.
    not_on_curve = next(
        y.to_bytes(32, "little") for y in range(2, 100) if _ed25519_x_squared_is_non_square(y)
    )
    decoded = decode_public_jwk({**ED_JWK, "x": b64(not_on_curve)})
    signer = Ed25519PrivateKey.generate()
    message = b"openid4vci-proof"
    with pytest.raises(InvalidSignature):
        decoded.key.verify(signer.sign(message), message)


def _ed25519_x_squared_is_non_square(y: int) -> bool:
    d = -121665 * pow(121666, -1, ED_P) % ED_P
    x2 = (y * y - 1) * pow(d * y * y + 1, -1, ED_P) % ED_P
    return x2 != 0 and pow(x2, (ED_P - 1) // 2, ED_P) != 1


@pytest.mark.parametrize(
    "jwk",
    [
        None,
        [],
        "EC",
        {},
        {**EC_JWK, "d": "AAAA"},
        {**EC_JWK, "crv": "P-384"},
        {**EC_JWK, "kty": "RSA"},
        {"kty": "EC", "crv": "P-256", "x": EC_JWK["x"]},
        {**EC_JWK, "x": 5},
        {**EC_JWK, "x": "A" * 10_000},
        {"kty": "OKP", "crv": "X25519", "x": ED_JWK["x"]},
    ],
)
def test_malformed_jwks_are_typed(jwk: Any) -> None:
    assert refused(jwk) is Reason.BAD_KEY


_member = st.one_of(
    st.none(),
    st.integers(),
    st.text(alphabet=ALPHABET + "=+/ .", max_size=50),
    st.binary(max_size=40).map(b64),
    st.sampled_from(["EC", "OKP", "P-256", "Ed25519", "RSA"]),
)


@settings(max_examples=400, deadline=None)
@given(st.fixed_dictionaries({}, optional={m: _member for m in ("kty", "crv", "x", "y", "d")}))
def test_random_jwks_raise_only_decode_errors(jwk: dict[str, Any]) -> None:
    try:
        decoded = decode_public_jwk(jwk)
    except DecodeError:
        return
    assert decoded.jwk == {k: jwk[k] for k in decoded.jwk}


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from([EC_JWK, ED_JWK]),
    st.sampled_from(["x", "y"]),
    st.integers(min_value=0, max_value=60),
    st.sampled_from(ALPHABET + "=+/ "),
    st.sampled_from(["replace", "insert", "delete", "append"]),
)
def test_mutated_jwks_decode_only_when_canonical(
    base: dict[str, str], member: str, at: int, char: str, how: str
) -> None:
    value = base.get(member, base["x"])
    at = at % (len(value) + 1)
    mutated = {
        "replace": value[:at] + char + value[at + 1 :],
        "insert": value[:at] + char + value[at:],
        "delete": value[:at] + value[at + 1 :],
        "append": value + char,
    }[how]
    jwk = {**base, member: mutated}
    try:
        decoded = decode_public_jwk(jwk)
    except DecodeError:
        return
    # whatever decodes was already the key's one canonical spelling
    assert decoded.jwk == {k: jwk[k] for k in decoded.jwk}
    assert decoded.kid == jws_kid(decoded.key)


def test_a_presentation_with_a_non_canonical_cnf_jwk_is_refused() -> None:
    issuer = ec.derive_private_key(0x5EED_0003, ec.SECP256R1())
    holder_sign = software_signer(EC_PRIVATE)
    claims = {"iss": "https://ge.example", "vct": "https://ge.example/vct/x", "iat": 1000}
    padded = {**EC_JWK, "x": EC_JWK["x"] + "="}
    for holder_jwk, ok in ((EC_JWK, True), (padded, False)):
        sd_jwt = issue_sd_jwt(claims, sign=software_signer(issuer), holder_jwk=holder_jwk)
        shown = present_sd_jwt(
            sd_jwt, [], holder_sign=holder_sign, aud="https://officer", nonce="n", iat=1000
        )

        def verify(presentation: str = shown) -> Any:
            return verify_sd_jwt_vc(
                presentation,
                issuer_key=issuer.public_key(),
                now=1000,
                require_key_binding=True,
                expected_aud="https://officer",
                expected_nonce="n",
            )

        if ok:
            assert verify().key_bound
        else:
            with pytest.raises(DecodeError) as info:
                verify()
            assert info.value.reason is Reason.BAD_KEY

"""tx_code hashing and proof-JWT validation (pure)."""

from __future__ import annotations

import pytest

from tests.wallet_api.support import ProofKey
from verifier.formats import decode_public_jwk
from wallet_api.errors import CredentialError
from wallet_api.services import secrets as wsecrets
from wallet_api.services.proofs import validate_proof

AUD = "https://wallet.example"
NOW = 1_780_000_000


def test_tx_code_is_numeric_with_the_length_asked() -> None:
    code = wsecrets.new_tx_code(8)
    assert len(code) == 8 and code.isdigit()
    with pytest.raises(ValueError):
        wsecrets.new_tx_code(5)


def test_tx_code_hash_matches_only_the_code() -> None:
    stored = wsecrets.hash_tx_code("01234567")
    assert "01234567" not in stored
    assert wsecrets.tx_code_matches(stored, "01234567")
    assert not wsecrets.tx_code_matches(stored, "01234568")
    assert not wsecrets.tx_code_matches(stored, "1234567")
    assert not wsecrets.tx_code_matches(stored, "０１２３４５６７")  # full-width digits


def test_token_digest_is_sha256_hex() -> None:
    token = wsecrets.new_token()
    assert len(token) >= 43
    assert len(wsecrets.token_digest(token)) == 64


def test_a_good_proof_yields_the_key_and_nonce() -> None:
    key = ProofKey()
    proven = validate_proof(key.proof(aud=AUD, nonce="n1", iat=NOW), audience=AUD, now=NOW)
    assert proven.nonce == "n1"
    assert proven.jwk == key.jwk
    assert proven.thumbprint == decode_public_jwk(key.jwk).kid
    assert len(proven.thumbprint) == 43


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"aud": "https://evil.example"}, "invalid_proof"),
        ({"aud": [AUD, "https://evil.example"]}, "invalid_proof"),
        ({"iat": NOW - 301}, "invalid_proof"),
        ({"iat": NOW + 61}, "invalid_proof"),
        ({"iat": str(NOW)}, "invalid_proof"),
        ({"typ": "JWT"}, "invalid_proof"),
        ({"typ": "kb+jwt"}, "invalid_proof"),
        ({"alg": "HS256"}, "invalid_proof"),
        ({"header_extra": {"kid": "x"}}, "invalid_proof"),
        ({"header_extra": {"crit": ["x"]}}, "invalid_proof"),
        ({"nonce": None}, "invalid_nonce"),
    ],
)
def test_bad_proofs_are_refused_with_a_code(kwargs: dict[str, object], code: str) -> None:
    key = ProofKey()
    args: dict[str, object] = {"aud": AUD, "nonce": "n1", "iat": NOW}
    args.update(kwargs)
    with pytest.raises(CredentialError) as info:
        validate_proof(key.proof(**args), audience=AUD, now=NOW)  # type: ignore[arg-type]
    assert info.value.code == code


def test_a_proof_signed_by_another_key_than_its_jwk_is_refused() -> None:
    key, other = ProofKey(), ProofKey()
    forged = key.proof(aud=AUD, nonce="n", iat=NOW, jwk=other.jwk)
    with pytest.raises(CredentialError) as info:
        validate_proof(forged, audience=AUD, now=NOW)
    assert info.value.code == "invalid_proof"


def test_a_private_jwk_is_refused() -> None:
    key = ProofKey()
    leaked = dict(key.jwk, d="AAAA")
    with pytest.raises(CredentialError) as info:
        validate_proof(key.proof(aud=AUD, nonce="n", iat=NOW, jwk=leaked), audience=AUD, now=NOW)
    assert info.value.code == "invalid_proof"


@pytest.mark.parametrize("junk", ["", "a.b.c", "x" * 5000, 42, None, ["a"]])
def test_junk_is_an_invalid_proof(junk: object) -> None:
    with pytest.raises(CredentialError) as info:
        validate_proof(junk, audience=AUD, now=NOW)
    assert info.value.code == "invalid_proof"

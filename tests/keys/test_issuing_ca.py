"""The issuing CA and its certificates: file and PKCS#11 (SoftHSM2) keys, chains that
`cryptography`'s path validation accepts, and what a chain must not be."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from keys.cli import run
from keys.errors import CertificateError, KeysCode
from keys.issuing_ca import IssuingCa, issued_chain, x5c_header
from keys.ring import Backend, KeyRing
from keys.signer import generate_signer
from keys.storage.pkcs11 import Pkcs11Token
from keys.x509 import issuer_certificate, tls_server_certificate
from tests.keys.conftest import CHEAP_KDF, T0, SoftHsm
from verifier import Reason, VerifierError
from verifier.formats import Alg, jws_kid, validate_x5c

URL = "https://ausweis.gelsenkirchen.example/issuers/05513000"
YEAR = 365 * 86400


def _ca(path: Path, **kwargs: object) -> IssuingCa:
    values: dict[str, object] = {
        "common_name": "GKD Issuing CA",
        "organization": "GKD",
        "now": T0 - 60,
        "valid_seconds": 10 * YEAR,
        "passphrase": "ca pass",
        "kdf": CHEAP_KDF,
    }
    values.update(kwargs)
    return IssuingCa.create(path, **values)  # type: ignore[arg-type]


def test_an_issued_chain_validates_to_the_root_and_names_the_issuer_url(tmp_path: Path) -> None:
    ca = _ca(tmp_path / "ca")
    key = generate_signer()
    chain = ca.certify(
        key.public_key, common_name="Stadt", issuer_url=URL, not_before=T0, not_after=T0 + YEAR
    )
    assert len(chain) == 1  # the root is never part of x5c
    validated = validate_x5c(x5c_header(chain), [ca.certificate], T0 + 10)
    assert validated.public_key == key.public_key
    assert validated.uris() == (URL,)
    leaf = chain[0]
    assert leaf.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca is False
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    dns = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert dns.get_values_for_type(x509.DNSName) == ["ausweis.gelsenkirchen.example"]
    # the same chain is found again without any secret
    assert issued_chain(ca.path, jws_kid(key.public_key)) == chain


def test_certify_twice_returns_the_first_certificate_unless_replaced(tmp_path: Path) -> None:
    ca = _ca(tmp_path / "ca")
    key = generate_signer().public_key
    first = ca.certify(key, common_name="S", issuer_url=URL, not_before=T0, not_after=T0 + 9)
    again = ca.certify(key, common_name="S", issuer_url=URL, not_before=T0, not_after=T0 + 99)
    renewed = ca.certify(
        key, common_name="S", issuer_url=URL, not_before=T0, not_after=T0 + 99, replace=True
    )
    assert again == first and renewed != first


def test_a_chain_is_refused_outside_its_validity_and_under_another_root(tmp_path: Path) -> None:
    ca, other = _ca(tmp_path / "a"), _ca(tmp_path / "b")
    chain = ca.certify(
        generate_signer().public_key,
        common_name="S",
        issuer_url=URL,
        not_before=T0,
        not_after=T0 + 3600,
    )
    x5c = x5c_header(chain)
    for anchors, at in (([other.certificate], T0 + 10), ([ca.certificate], T0 + 7200)):
        with pytest.raises(VerifierError) as refused:
            validate_x5c(x5c, anchors, at)
        assert refused.value.reason is Reason.UNTRUSTED_CERTIFICATE


def test_a_self_signed_or_malformed_x5c_is_refused(tmp_path: Path) -> None:
    ca = _ca(tmp_path / "ca")
    for value, reason in (
        (x5c_header((ca.certificate,)), Reason.UNTRUSTED_CERTIFICATE),
        (["not base64!"], Reason.BAD_CERTIFICATE),
        ("MIIB", Reason.BAD_CERTIFICATE),
        ([], Reason.BAD_CERTIFICATE),
        (["AAAA"] * 5, Reason.BAD_CERTIFICATE),
    ):
        with pytest.raises(VerifierError) as refused:
            validate_x5c(value, [ca.certificate], T0)
        assert refused.value.reason is reason


def test_a_leaf_never_outlives_its_root(tmp_path: Path) -> None:
    ca = _ca(tmp_path / "ca", valid_seconds=YEAR)
    (leaf,) = ca.certify(
        generate_signer().public_key,
        common_name="S",
        issuer_url=URL,
        not_before=T0,
        not_after=T0 + 5 * YEAR,
    )
    assert leaf.not_valid_after_utc == ca.certificate.not_valid_after_utc


def test_the_ca_refuses_a_second_create_and_a_wrong_passphrase(tmp_path: Path) -> None:
    _ca(tmp_path / "ca")
    with pytest.raises(CertificateError) as twice:
        _ca(tmp_path / "ca")
    assert twice.value.code is KeysCode.CA_EXISTS
    reopened = IssuingCa.open(tmp_path / "ca", passphrase="wrong")
    with pytest.raises(Exception) as wrong:
        reopened.signer()
    assert getattr(wrong.value, "code", None) is KeysCode.KEY_FILE_DECRYPT
    with pytest.raises(CertificateError) as missing:
        IssuingCa.open(tmp_path / "nowhere")
    assert missing.value.code is KeysCode.CA_NOT_FOUND


def test_the_ca_signs_with_es256_only(tmp_path: Path) -> None:
    with pytest.raises(CertificateError) as refused:
        _ca(tmp_path / "ca", alg=Alg.EDDSA)
    assert refused.value.code is KeysCode.UNSUPPORTED_ALG


def test_a_development_tls_certificate_names_its_hosts(tmp_path: Path) -> None:
    ca = _ca(tmp_path / "ca")
    key = generate_signer()
    cert = tls_server_certificate(
        ca.signer(),
        ca.certificate,
        key.public_key,
        hosts=["127.0.0.1", "localhost"],
        not_before=T0,
        not_after=T0 + YEAR,
    )
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    cert.verify_directly_issued_by(ca.certificate)


# --------------------------------------------------------------------------- PKCS#11


@pytest.fixture()
def token(softhsm: SoftHsm) -> Iterator[Pkcs11Token]:
    with Pkcs11Token.open(
        token_label=softhsm.token_label, pin=softhsm.pin, module=softhsm.module
    ) as tok:
        yield tok


def test_a_ca_key_in_the_hsm_certifies_an_issuer_key_in_the_hsm(
    tmp_path: Path, token: Pkcs11Token
) -> None:
    ca = _ca(tmp_path / "ca", backend=Backend.PKCS11, pkcs11=token, passphrase=None)
    meta = json.loads((tmp_path / "ca" / "ca.json").read_text())
    assert meta["backend"] == "pkcs11" and not (tmp_path / "ca" / "ca.key").exists()
    issuer_key = token.generate_key(Alg.ES256, label="issuer")
    chain = ca.certify(
        issuer_key.public_key, common_name="S", issuer_url=URL, not_before=T0, not_after=T0 + YEAR
    )
    validated = validate_x5c(x5c_header(chain), [ca.certificate], T0 + 1)
    assert validated.public_key == issuer_key.public_key
    # reopened from disk, the CA finds its key on the token again
    reopened = IssuingCa.open(tmp_path / "ca", pkcs11=token)
    leaf = issuer_certificate(
        reopened.signer(),
        reopened.certificate,
        issuer_key.public_key,
        common_name="S",
        issuer_url=URL,
        not_before=T0,
        not_after=T0 + 60,
    )
    leaf.verify_directly_issued_by(ca.certificate)


def test_a_pkcs11_ca_without_its_token_cannot_sign(tmp_path: Path, token: Pkcs11Token) -> None:
    _ca(tmp_path / "ca", backend=Backend.PKCS11, pkcs11=token, passphrase=None)
    with pytest.raises(CertificateError) as refused:
        IssuingCa.open(tmp_path / "ca").signer()
    assert refused.value.code is KeysCode.PKCS11_REQUIRED


# --------------------------------------------------------------------------- CLI


def test_cli_creates_certifies_shows_and_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"BUERGERID_KEY_PASSPHRASE": "cli pass"}
    kdf = ["--kdf-time-cost", "1", "--kdf-memory-kib", "8", "--kdf-parallelism", "1"]
    ca_dir, ring_dir = tmp_path / "ca", tmp_path / "05513000"
    at = ["--at", str(T0)]
    assert (
        run(["ca", "create", str(ca_dir), "--name", "GKD Issuing CA", *at, *kdf], env, float) == 0
    )
    ring = KeyRing.create(
        ring_dir, "05513000", name="Stadt", url=URL, passphrase="p", kdf=CHEAP_KDF
    )
    key = ring.add_key(nbf=T0, sign_until=T0 + YEAR, exp=T0 + 2 * YEAR)
    capsys.readouterr()
    assert run(["ca", "certify", str(ca_dir), str(ring_dir), *at], env, float) == 0
    line = json.loads(capsys.readouterr().out.splitlines()[0])
    assert line["kid"] == key.kid and "CN=Stadt" in line["subject"]
    assert run(["ca", "show", str(ca_dir), "--json"], {}, float) == 0
    shown = json.loads(capsys.readouterr().out)
    assert list(shown["issued"]) == [key.kid]
    assert run(["ca", "export", str(ca_dir), "--out", str(tmp_path / "root.pem")], {}, float) == 0
    root = x509.load_pem_x509_certificate((tmp_path / "root.pem").read_bytes())
    assert root == IssuingCa.open(ca_dir).certificate
    bare = KeyRing.create(tmp_path / "bare", "05513001", passphrase="p", kdf=CHEAP_KDF)
    bare.add_key(nbf=T0, sign_until=T0 + YEAR, exp=T0 + 2 * YEAR)
    assert run(["ca", "certify", str(ca_dir), str(tmp_path / "bare"), *at], env, float) == 2

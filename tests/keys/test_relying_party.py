"""The relying party's request-signing identity: made and certified by the issuing CA,
validated by path validation, renewed when it no longer fits, and a chain from elsewhere."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from keys.errors import CertificateError, KeysCode
from keys.issuing_ca import IssuingCa
from keys.relying_party import ensure_identity, install_chain, open_identity
from keys.x509 import access_certificate, to_pem
from tests.keys.conftest import CHEAP_KDF, T0
from verifier.formats import validate_x5c

YEAR = 365 * 86400
BASE = "https://ausweis.gelsenkirchen.example"


def _ca(path: Path) -> IssuingCa:
    return IssuingCa.create(
        path,
        common_name="GKD Issuing CA",
        organization="GKD",
        now=T0 - 60,
        valid_seconds=10 * YEAR,
        passphrase="ca pass",
        kdf=CHEAP_KDF,
    )


def _ensure(tmp_path: Path, ca: IssuingCa, base: str = BASE, now: int = T0):  # type: ignore[no-untyped-def]
    return ensure_identity(
        tmp_path / "rp",
        passphrase="server pass",
        ca=ca,
        base_url=base,
        common_name="Bürger-ID Gelsenkirchen",
        now=now,
        kdf=CHEAP_KDF,
    )


def test_the_identity_validates_to_the_root_and_names_its_host(tmp_path: Path) -> None:
    ca = _ca(tmp_path / "ca")
    rp = _ensure(tmp_path, ca)
    chain = validate_x5c(rp.x5c, [ca.certificate], T0 + 10)
    assert chain.public_key == rp.signer.public_key
    assert rp.dns_names == ("ausweis.gelsenkirchen.example",)
    assert rp.client_id("x509_san_dns") == "x509_san_dns:ausweis.gelsenkirchen.example"
    der = rp.chain[0].public_bytes(serialization.Encoding.DER)
    digest = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert rp.client_id("x509_hash") == "x509_hash:" + digest
    usage = rp.chain[0].extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    # opened again, the same key and chain
    again = open_identity(tmp_path / "rp", passphrase="server pass")
    assert again.x509_hash == rp.x509_hash


def test_a_loopback_server_gets_an_ip_name_and_only_x509_hash(tmp_path: Path) -> None:
    rp = _ensure(tmp_path, _ca(tmp_path / "ca"), base="https://127.0.0.1:8443")
    assert rp.dns_names == ()
    with pytest.raises(CertificateError):
        rp.client_id("x509_san_dns")
    assert rp.client_id("x509_hash").startswith("x509_hash:")


def test_a_certificate_is_renewed_when_the_base_url_or_time_moves(tmp_path: Path) -> None:
    ca = _ca(tmp_path / "ca")
    first = _ensure(tmp_path, ca)
    assert _ensure(tmp_path, ca).x509_hash == first.x509_hash
    moved = _ensure(tmp_path, ca, base="https://buergerid.recklinghausen.example")
    assert moved.x509_hash != first.x509_hash
    assert moved.signer.public_key == first.signer.public_key  # the key stays
    later = _ensure(
        tmp_path, ca, base="https://buergerid.recklinghausen.example", now=T0 + 2 * YEAR
    )
    assert later.x509_hash != moved.x509_hash


def test_a_chain_for_another_key_is_refused(tmp_path: Path) -> None:
    ca = _ca(tmp_path / "ca")
    rp = _ensure(tmp_path, ca)
    other = _ensure(tmp_path / "other", ca)
    with pytest.raises(CertificateError) as info:
        install_chain(tmp_path / "rp", to_pem(list(other.chain)), passphrase="server pass")
    assert info.value.code is KeysCode.KEY_MISMATCH
    # a registrar's certificate for the same key is taken
    leaf = access_certificate(
        ca.signer(),
        ca.certificate,
        rp.signer.public_key,
        common_name="Registrar",
        base_url=BASE,
        not_before=T0,
        not_after=T0 + YEAR,
    )
    installed = install_chain(tmp_path / "rp", to_pem([leaf]), passphrase="server pass")
    assert installed.chain[0] == leaf


def test_no_identity_is_rp_not_found(tmp_path: Path) -> None:
    with pytest.raises(CertificateError) as info:
        open_identity(tmp_path / "none", passphrase="x")
    assert info.value.code is KeysCode.RP_NOT_FOUND

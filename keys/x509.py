"""X.509 certificates built with `cryptography`'s x509 builder, signed by any `Signer`.

- `ca_certificate`: the self-signed root of a deployment's issuing CA (basicConstraints
  CA, path length 0, keyCertSign + cRLSign). Operators publish it; wallets and relying
  parties pin it.
- `issuer_certificate`: the end-entity certificate of one issuer signing key, issued by
  that root: subject CN = the municipality, SAN = its https issuer URL (the `iss` of its
  SD-JWT VCs) and the URL's host, keyUsage digitalSignature, valid for the key's
  verification window. Its DER goes into the `x5c` header of issuer-signed JWTs
  (HAIP 1.0: never the trust anchor itself, never a self-signed certificate).
- `access_certificate`: the relying party's access certificate (OpenID4VP request
  signing, HAIP 1.0): subject CN = the service, SAN = the host of the public base URL
  (dNSName, or iPAddress for a loopback development server) and the base URL itself,
  keyUsage digitalSignature. Wallets name the relying party by it: `x509_san_dns:<host>`
  or `x509_hash:<SHA-256 of its DER>`.
- `tls_server_certificate`: a development TLS certificate for a local server.

A `SoftwareSigner` signs through the builder itself. A signer whose private key never
leaves its token (PKCS#11) cannot be handed to the builder, so the builder produces the
to-be-signed bytes with a throwaway key of the same algorithm, the token signs them, and
the certificate is reassembled (RFC 5280 §4.1: SEQUENCE of tbsCertificate,
signatureAlgorithm, signatureValue) and checked against the issuer's public key before it
is returned. Time is a parameter.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keys.errors import CertificateError, KeysCode
from keys.signer import Signer, SoftwareSigner
from verifier.formats import Alg, PublicKey

# AlgorithmIdentifier DER of the two signature algorithms we sign with (RFC 5758 §3.2,
# RFC 8410 §3): the same bytes the builder writes into the tbsCertificate.
_ALGORITHM_IDENTIFIER = {
    Alg.ES256: bytes.fromhex("300a06082a8648ce3d040302"),
    Alg.EDDSA: bytes.fromhex("300506032b6570"),
}
MAX_NAME_CHARS = 64  # RFC 5280 upper bound of a commonName


def _utc(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def _signature_value(signer: Signer, tbs: bytes) -> bytes:
    raw = signer.sign(tbs)
    if signer.alg == Alg.ES256:
        if len(raw) != 64:
            raise CertificateError(KeysCode.BAD_INPUT, "ES256 signature is not r||s")
        # X.509 carries ECDSA signatures as DER Ecdsa-Sig-Value (RFC 5758 §3.2)
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        return encode_dss_signature(r, s)
    return raw


def _throwaway_key(alg: Alg) -> ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey:
    if alg == Alg.ES256:
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def _hash_for(alg: Alg) -> hashes.SHA256 | None:
    return hashes.SHA256() if alg == Alg.ES256 else None


def sign_certificate(
    builder: x509.CertificateBuilder, signer: Signer, issuer_key: PublicKey
) -> x509.Certificate:
    """The certificate of `builder` signed by `signer`, verified against `issuer_key`."""
    if signer.alg not in _ALGORITHM_IDENTIFIER:
        raise CertificateError(KeysCode.UNSUPPORTED_ALG, f"alg {int(signer.alg)}")
    if isinstance(signer, SoftwareSigner):
        certificate = builder.sign(signer.private_key, _hash_for(signer.alg))
    else:
        draft = builder.sign(_throwaway_key(signer.alg), _hash_for(signer.alg))
        tbs = draft.tbs_certificate_bytes
        signature = _signature_value(signer, tbs)
        der = _der(
            0x30,
            tbs + _ALGORITHM_IDENTIFIER[signer.alg] + _der(0x03, b"\x00" + signature),
        )
        certificate = x509.load_der_x509_certificate(der)
    try:
        if isinstance(issuer_key, ec.EllipticCurvePublicKey):
            issuer_key.verify(
                certificate.signature,
                certificate.tbs_certificate_bytes,
                ec.ECDSA(hashes.SHA256()),
            )
        else:
            issuer_key.verify(certificate.signature, certificate.tbs_certificate_bytes)
    except InvalidSignature as exc:
        raise CertificateError(KeysCode.KEY_MISMATCH, "certificate signature") from exc
    return certificate


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    if not 0 < len(common_name) <= MAX_NAME_CHARS:
        raise CertificateError(KeysCode.BAD_INPUT, "common name must be 1..64 characters")
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization[:MAX_NAME_CHARS])
        )
    attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"))
    return x509.Name(attributes)


def _serial() -> int:
    # RFC 5280 §4.1.2.2: positive, at most 20 octets; 159 random bits
    return secrets.randbits(159) | 1


def _validity(
    builder: x509.CertificateBuilder, not_before: int, not_after: int
) -> x509.CertificateBuilder:
    if not_after <= not_before:
        raise CertificateError(KeysCode.BAD_WINDOW, "not_after must follow not_before")
    return builder.not_valid_before(_utc(not_before)).not_valid_after(_utc(not_after))


def ca_certificate(
    signer: Signer,
    *,
    common_name: str,
    organization: str | None,
    not_before: int,
    not_after: int,
) -> x509.Certificate:
    """The self-signed root certificate of an issuing CA whose key is `signer`."""
    name = _name(common_name, organization)
    public = signer.public_key
    builder = _validity(
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(_serial()),
        not_before,
        not_after,
    )
    builder = (
        builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    return sign_certificate(builder, signer, public)


def _end_entity(
    ca_cert: x509.Certificate,
    subject: x509.Name,
    subject_key: PublicKey,
    ca_public: PublicKey,
    *,
    names: list[x509.GeneralName],
    not_before: int,
    not_after: int,
) -> x509.CertificateBuilder:
    """What every end-entity certificate of the CA has: issuer, key, serial, validity,
    basicConstraints CA:false, the alternative names and both key identifiers."""
    return (
        _validity(
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_cert.subject)
            .public_key(subject_key)
            .serial_number(_serial()),
            not_before,
            not_after,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public), critical=False
        )
    )


def _host_names(url: str) -> list[x509.GeneralName]:
    host = urlsplit(url).hostname
    if not host:
        return []
    try:
        return [x509.IPAddress(ipaddress.ip_address(host))]
    except ValueError:
        return [x509.DNSName(host)]


def issuer_certificate(
    ca_signer: Signer,
    ca_cert: x509.Certificate,
    subject_key: PublicKey,
    *,
    common_name: str,
    issuer_url: str,
    not_before: int,
    not_after: int,
) -> x509.Certificate:
    """An end-entity certificate for an issuer signing key, issued by the CA `ca_cert`."""
    if not issuer_url.startswith(("https://", "http://")):
        raise CertificateError(KeysCode.BAD_INPUT, "issuer URL must be http(s)")
    ca_public = ca_signer.public_key
    if ca_cert.public_key() != ca_public:
        raise CertificateError(KeysCode.KEY_MISMATCH, "CA certificate is not the CA key's")
    # a leaf never outlives its CA (RFC 5280 §6.1.3: every certificate of the path is valid)
    not_after = min(not_after, int(ca_cert.not_valid_after_utc.timestamp()))
    not_before = max(not_before, int(ca_cert.not_valid_before_utc.timestamp()))
    builder = _end_entity(
        ca_cert,
        _name(common_name),
        subject_key,
        ca_public,
        names=[x509.UniformResourceIdentifier(issuer_url), *_host_names(issuer_url)],
        not_before=not_before,
        not_after=not_after,
    ).add_extension(
        x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    return sign_certificate(builder, ca_signer, ca_public)


_SIGNING_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def access_certificate(
    ca_signer: Signer,
    ca_cert: x509.Certificate,
    subject_key: PublicKey,
    *,
    common_name: str,
    base_url: str,
    not_before: int,
    not_after: int,
) -> x509.Certificate:
    """A relying party's access certificate for `base_url`, issued by the CA `ca_cert`."""
    if not base_url.startswith(("https://", "http://")) or not _host_names(base_url):
        raise CertificateError(KeysCode.BAD_INPUT, "base URL must be http(s) with a host")
    ca_public = ca_signer.public_key
    if ca_cert.public_key() != ca_public:
        raise CertificateError(KeysCode.KEY_MISMATCH, "CA certificate is not the CA key's")
    not_after = min(not_after, int(ca_cert.not_valid_after_utc.timestamp()))
    not_before = max(not_before, int(ca_cert.not_valid_before_utc.timestamp()))
    builder = _end_entity(
        ca_cert,
        _name(common_name),
        subject_key,
        ca_public,
        names=[*_host_names(base_url), x509.UniformResourceIdentifier(base_url)],
        not_before=not_before,
        not_after=not_after,
    ).add_extension(_SIGNING_USAGE, critical=True)
    return sign_certificate(builder, ca_signer, ca_public)


def access_certificate_request(
    signer: SoftwareSigner, *, common_name: str, base_url: str
) -> x509.CertificateSigningRequest:
    """A PKCS#10 request for a relying party's access certificate, signed by the key it
    names, with the alternative names `access_certificate` gives (host and `base_url`): for
    a registrar of relying parties that certifies it outside this deployment."""
    if not base_url.startswith(("https://", "http://")) or not _host_names(base_url):
        raise CertificateError(KeysCode.BAD_INPUT, "base URL must be http(s) with a host")
    names = [*_host_names(base_url), x509.UniformResourceIdentifier(base_url)]
    builder = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name(common_name))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
    )
    return builder.sign(signer.private_key, _hash_for(signer.alg))


def tls_server_certificate(
    ca_signer: Signer,
    ca_cert: x509.Certificate,
    subject_key: PublicKey,
    *,
    hosts: Sequence[str],
    not_before: int,
    not_after: int,
) -> x509.Certificate:
    """A TLS server certificate for `hosts` (names or IP addresses), issued by `ca_cert`."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    if not names:
        raise CertificateError(KeysCode.BAD_INPUT, "a TLS certificate needs a host")
    ca_public = ca_signer.public_key
    builder = _end_entity(
        ca_cert,
        _name(hosts[0]),
        subject_key,
        ca_public,
        names=names,
        not_before=not_before,
        not_after=not_after,
    ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return sign_certificate(builder, ca_signer, ca_public)


def x5c_value(certificate: x509.Certificate) -> str:
    """One `x5c` element: base64 (not base64url) of the DER (RFC 7515 §4.1.6)."""
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode("ascii")


def to_pem(certificates: Sequence[x509.Certificate]) -> bytes:
    """PEM of one or more certificates, concatenated."""
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)

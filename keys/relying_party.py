"""The relying party's request-signing identity: one ES256 key and its access certificate.

Layout (see docs/keys.md), inside the private keys directory:

    <dir>/signing.key    the encrypted key file (keys/storage/file.py), mode 0600
    <dir>/signing.pem    the certificate chain of that key, end-entity first, root excluded

OpenID4VP request objects are signed with this key and carry the chain in `x5c`; a wallet
names the relying party by its client identifier, `x509_hash:<base64url SHA-256 of the
end-entity certificate's DER>` or `x509_san_dns:<a dNSName of that certificate>`
(OpenID4VP 1.0 §5.9.3). The certificate comes from the deployment's issuing CA
(`ensure_identity`, when its key is at hand) or from an external registrar of relying
parties (`install_chain`). A certificate that no longer fits (expired, another base URL,
another key) is replaced by `ensure_identity`. Time is a parameter.

The same two documents can live in the shared database instead (keys/storage/documents.py):
every function takes a path or a `Documents`. Making the key happens under the directory's
exclusive lock, so two instances starting at once end with one identity: the first writes
the key, the second reads it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from keys.errors import CertificateError, KeysCode
from keys.issuing_ca import IssuingCa
from keys.signer import SoftwareSigner, generate_private_key
from keys.storage.documents import Documents, DocumentWriter, as_documents
from keys.storage.file import DEFAULT_KDF, KdfParams, decrypt_private_key, encrypt_private_key
from keys.x509 import access_certificate, access_certificate_request, to_pem, x5c_value
from verifier.formats import Alg

KEY_FILE = "signing.key"
CHAIN_FILE = "signing.pem"
LOCK = ".rp.lock"
MAX_CHAIN_BYTES = 64 * 1024
MAX_CHAIN = 4
DEFAULT_VALID_SECONDS = 397 * 24 * 3600


@dataclass(frozen=True, slots=True)
class RelyingPartyIdentity:
    """The signing key and its chain; the client identifiers derived from the chain."""

    signer: SoftwareSigner
    chain: tuple[x509.Certificate, ...]

    def __repr__(self) -> str:
        return f"RelyingPartyIdentity(x509_hash={self.x509_hash!r})"

    @property
    def x5c(self) -> list[str]:
        """The `x5c` header value (base64 DER, end-entity first)."""
        return [x5c_value(c) for c in self.chain]

    @property
    def x509_hash(self) -> str:
        """base64url (unpadded) SHA-256 of the end-entity certificate's DER."""
        return _x509_hash(self.chain[0])

    @property
    def dns_names(self) -> tuple[str, ...]:
        """The dNSName alternative names of the end-entity certificate."""
        return _san(self.chain[0], x509.DNSName)

    def client_id(self, prefix: str) -> str:
        """`x509_hash:<hash>` or `x509_san_dns:<first dNSName>` (CertificateError when the
        certificate has no dNSName, as for a loopback development server)."""
        if prefix == "x509_hash":
            return f"x509_hash:{self.x509_hash}"
        if prefix == "x509_san_dns":
            if not self.dns_names:
                raise CertificateError(KeysCode.BAD_INPUT, "the certificate names no DNS host")
            return f"x509_san_dns:{self.dns_names[0]}"
        raise ValueError("prefix must be x509_hash or x509_san_dns")


def _x509_hash(certificate: x509.Certificate) -> str:
    der = certificate.public_bytes(serialization.Encoding.DER)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def _san(certificate: x509.Certificate, kind: type[x509.GeneralName]) -> tuple[str, ...]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    return tuple(str(v) for v in san.value.get_values_for_type(kind))  # type: ignore[arg-type]


def _load_chain(raw: bytes) -> tuple[x509.Certificate, ...]:
    try:
        chain = tuple(x509.load_pem_x509_certificates(raw))
    except ValueError as exc:
        raise CertificateError(KeysCode.RP_FORMAT, "signing.pem is not PEM certificates") from exc
    if not 0 < len(chain) <= MAX_CHAIN:
        raise CertificateError(KeysCode.RP_FORMAT, "signing.pem needs 1..4 certificates")
    return chain


def _signer(files: Documents | DocumentWriter, passphrase: str | bytes) -> SoftwareSigner:
    blob = files.read(KEY_FILE)
    if blob is None:
        raise CertificateError(KeysCode.RP_NOT_FOUND, "no request-signing key")
    return SoftwareSigner(decrypt_private_key(blob, passphrase))


def open_identity(
    directory: Path | str | Documents, *, passphrase: str | bytes
) -> RelyingPartyIdentity:
    """The identity in `directory`; `rp_not_found` without key or chain, `key_mismatch`
    when the chain certifies another key."""
    files = as_documents(directory, lock=LOCK)
    raw = files.read(CHAIN_FILE)
    if raw is None or files.read(KEY_FILE) is None:
        raise CertificateError(KeysCode.RP_NOT_FOUND, "no request-signing key or certificate")
    signer = _signer(files, passphrase)
    chain = _load_chain(raw)
    if chain[0].public_key() != signer.public_key:
        raise CertificateError(KeysCode.KEY_MISMATCH, "signing.pem certifies another key")
    return RelyingPartyIdentity(signer=signer, chain=chain)


def read_chain(directory: Path | str | Documents) -> tuple[x509.Certificate, ...]:
    """The stored chain, end-entity first, without opening the key (for listings);
    `rp_not_found` when there is none."""
    raw = as_documents(directory, lock=LOCK).read(CHAIN_FILE)
    if raw is None:
        raise CertificateError(KeysCode.RP_NOT_FOUND, "no access certificate")
    return _load_chain(raw)


def client_ids(chain: tuple[x509.Certificate, ...]) -> dict[str, str]:
    """The client identifiers wallets know this relying party by, per prefix
    (`x509_san_dns` only when the certificate names a DNS host)."""
    ids = {"x509_hash": f"x509_hash:{_x509_hash(chain[0])}"}
    names = _san(chain[0], x509.DNSName)
    if names:
        ids["x509_san_dns"] = f"x509_san_dns:{names[0]}"
    return ids


def certificate_request(
    directory: Path | str | Documents,
    *,
    passphrase: str | bytes,
    common_name: str,
    base_url: str,
    kdf: KdfParams = DEFAULT_KDF,
) -> bytes:
    """A PEM certificate request for the key in `directory` (made when missing, under the
    lock, as `ensure_identity` makes it), for a registrar's access certificate; the chain it
    issues is installed with `install_chain`."""
    documents = as_documents(directory, lock=LOCK)
    with documents.writing() as files:
        if files.read(KEY_FILE) is None:
            blob = encrypt_private_key(generate_private_key(Alg.ES256), passphrase, kdf=kdf)
            files.write(KEY_FILE, blob, overwrite=False)
        signer = _signer(files, passphrase)
    request = access_certificate_request(
        signer, common_name=common_name, base_url=base_url.rstrip("/")
    )
    return request.public_bytes(serialization.Encoding.PEM)


def _fits(chain: tuple[x509.Certificate, ...], signer: SoftwareSigner, url: str, at: int) -> bool:
    leaf = chain[0]
    if leaf.public_key() != signer.public_key:
        return False
    if not leaf.not_valid_before_utc.timestamp() <= at < leaf.not_valid_after_utc.timestamp():
        return False
    return url in _san(leaf, x509.UniformResourceIdentifier)


def ensure_identity(
    directory: Path | str | Documents,
    *,
    passphrase: str | bytes,
    ca: IssuingCa,
    base_url: str,
    common_name: str,
    now: int,
    valid_seconds: int = DEFAULT_VALID_SECONDS,
    kdf: KdfParams = DEFAULT_KDF,
) -> RelyingPartyIdentity:
    """The identity in `directory`, made (key) and certified by `ca` (chain) when missing or
    when the certificate no longer fits `base_url` at `now`."""
    documents = as_documents(directory, lock=LOCK)
    base_url = base_url.rstrip("/")
    if not urlsplit(base_url).hostname:
        raise CertificateError(KeysCode.BAD_INPUT, "base URL has no host")
    found = _ensure_once(
        documents, passphrase, None, base_url, common_name, now, valid_seconds, kdf
    )
    if found is None:
        # the CA key is read outside the lock (on SQLite a second connection would wait for
        # it); under the lock again, a chain another instance wrote meanwhile is kept
        found = _ensure_once(
            documents, passphrase, ca, base_url, common_name, now, valid_seconds, kdf
        )
    assert found is not None
    return found


def _ensure_once(
    documents: Documents,
    passphrase: str | bytes,
    ca: IssuingCa | None,
    base_url: str,
    common_name: str,
    now: int,
    valid_seconds: int,
    kdf: KdfParams,
) -> RelyingPartyIdentity | None:
    ca_signer = None if ca is None else ca.signer()
    with documents.writing() as files:
        if files.read(KEY_FILE) is None:
            blob = encrypt_private_key(generate_private_key(Alg.ES256), passphrase, kdf=kdf)
            files.write(KEY_FILE, blob, overwrite=False)
        signer = _signer(files, passphrase)
        raw = files.read(CHAIN_FILE)
        if raw is not None:
            chain = _load_chain(raw)
            if _fits(chain, signer, base_url, now):
                return RelyingPartyIdentity(signer=signer, chain=chain)
        if ca is None or ca_signer is None:
            return None
        leaf = access_certificate(
            ca_signer,
            ca.certificate,
            signer.public_key,
            common_name=common_name[:64],
            base_url=base_url,
            not_before=now - 60,
            not_after=now + valid_seconds,
        )
        files.write(CHAIN_FILE, to_pem([leaf]), overwrite=True)
        return RelyingPartyIdentity(signer=signer, chain=(leaf,))


def install_chain(
    directory: Path | str | Documents, chain_pem: bytes, *, passphrase: str | bytes
) -> RelyingPartyIdentity:
    """Install a chain issued elsewhere (a registrar's access CA) for the key in `directory`."""
    documents = as_documents(directory, lock=LOCK)
    if len(chain_pem) > MAX_CHAIN_BYTES:
        raise CertificateError(KeysCode.RP_FORMAT, "the chain is too large")
    chain = _load_chain(chain_pem)
    with documents.writing() as files:
        signer = _signer(files, passphrase)
        if chain[0].public_key() != signer.public_key:
            raise CertificateError(KeysCode.KEY_MISMATCH, "the chain certifies another key")
        files.write(CHAIN_FILE, to_pem(list(chain)), overwrite=True)
    return RelyingPartyIdentity(signer=signer, chain=chain)

"""The deployment's issuing CA: one directory with its key, its root certificate and the
end-entity certificates it issued to issuer signing keys.

Layout (see docs/keys.md):

    <ca>/ca.json            metadata: format, algorithm, backend and key reference (no secret)
    <ca>/ca.pem             the self-signed root certificate; operators publish it
    <ca>/ca.key             the encrypted key file (file backend), mode 0600
    <ca>/issued/<kid>.pem   the certificate of the issuer key whose JWS kid is <kid>
    <ca>/.ca.lock           serialises issuing

The same documents can live in the shared database instead of a directory
(keys/storage/documents.py, `SqlDocuments`): `open`, `create` and `issued_chain` take either a
path or a `Documents`.

The key is an ES256 (P-256) key in a file (argon2id + AES-256-GCM, keys/storage/file.py)
or in a PKCS#11 token; either way `keys/x509.py` signs through the `Signer` interface.
Reading an issued chain (`issued_chain`) needs neither passphrase nor token: certificates
are public, so a server attaches `x5c` headers while the CA key stays offline or in the HSM.

An issued chain never contains the root (HAIP 1.0: the trust anchor is not sent in
`x5c`); with a root directly above the issuer keys, a chain is the end-entity certificate
alone. Time is a parameter; nothing here reads a clock.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from keys.errors import CertificateError, KeysCode
from keys.ring import Backend
from keys.signer import Signer, SoftwareSigner, generate_private_key
from keys.storage.documents import Documents, as_documents
from keys.storage.file import DEFAULT_KDF, KdfParams, decrypt_private_key, encrypt_private_key
from keys.storage.pkcs11 import Pkcs11Token
from keys.x509 import ca_certificate, issuer_certificate, to_pem, x5c_value
from verifier.formats import Alg, PublicKey, jws_kid

CA_FORMAT = 1
METADATA = "ca.json"
ROOT_PEM = "ca.pem"
KEY_FILE = "ca.key"
ISSUED = "issued"
LOCK = ".ca.lock"
_KID = re.compile(r"^[A-Za-z0-9_-]{43}$")


def _bad(detail: str) -> CertificateError:
    return CertificateError(KeysCode.CA_FORMAT, detail)


@dataclass(frozen=True, slots=True)
class _Meta:
    alg: Alg
    backend: Backend
    ref: dict[str, str]

    def to_json(self) -> bytes:
        doc = {
            "format": CA_FORMAT,
            "alg": int(self.alg),
            "backend": self.backend.value,
            "ref": self.ref,
        }
        return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _parse_meta(raw: bytes) -> _Meta:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad("ca.json is not JSON") from exc
    if not isinstance(doc, dict) or doc.get("format") != CA_FORMAT:
        raise _bad("unknown ca.json format")
    alg, ref = doc.get("alg"), doc.get("ref")
    if type(alg) is not int or alg != int(Alg.ES256):
        raise _bad("alg")
    try:
        backend = Backend(str(doc.get("backend")))
    except ValueError as exc:
        raise _bad("backend") from exc
    if not isinstance(ref, dict) or not all(isinstance(v, str) for v in ref.values()):
        raise _bad("ref")
    expected = {"file"} if backend is Backend.FILE else {"token_label", "id"}
    if set(ref) != expected:
        raise _bad("ref of the backend")
    return _Meta(Alg(alg), backend, {str(k): str(v) for k, v in ref.items()})


def _load_pem(raw: bytes | None, name: str) -> x509.Certificate:
    if raw is None:
        raise _bad(f"{name} is missing")
    try:
        return x509.load_pem_x509_certificate(raw)
    except ValueError as exc:
        raise _bad(f"{name} is not a PEM certificate") from exc


def issued_chain(ca_dir: Path | Documents, kid: str) -> tuple[x509.Certificate, ...] | None:
    """The chain (end-entity certificate first, root excluded) issued to the key `kid`, or
    None when the CA has not certified it. Needs no secret."""
    if not _KID.match(kid):
        raise CertificateError(KeysCode.BAD_INPUT, "kid is not a JWS kid")
    name = f"{ISSUED}/{kid}.pem"
    raw = as_documents(ca_dir, lock=LOCK).read(name)
    if raw is None:
        return None
    return (_load_pem(raw, name),)


def x5c_header(chain: tuple[x509.Certificate, ...]) -> list[str]:
    """The `x5c` JOSE header value of a chain."""
    return [x5c_value(c) for c in chain]


class IssuingCa:
    """A CA directory (see the module docstring); open it with `open` or make it with `create`."""

    def __init__(
        self,
        path: Documents,
        meta: _Meta,
        *,
        passphrase: str | bytes | None,
        pkcs11: Pkcs11Token | None,
    ) -> None:
        self._path = path
        self._meta = meta
        self._passphrase = passphrase
        self._pkcs11 = pkcs11
        self._signer: Signer | None = None
        self._certificate = _load_pem(path.read(ROOT_PEM), ROOT_PEM)

    def __repr__(self) -> str:
        return f"IssuingCa({self._path!r}, backend={self._meta.backend.value})"

    @classmethod
    def create(
        cls,
        path: Path | str | Documents,
        *,
        common_name: str,
        organization: str | None,
        now: int,
        valid_seconds: int,
        alg: Alg = Alg.ES256,
        backend: Backend = Backend.FILE,
        passphrase: str | bytes | None = None,
        pkcs11: Pkcs11Token | None = None,
        kdf: KdfParams = DEFAULT_KDF,
    ) -> IssuingCa:
        """A new CA in `path` (which must not hold one yet): key, then its root certificate.
        Of two concurrent creators the first wins; the second gets `ca_exists`."""
        documents = as_documents(path, lock=LOCK)
        if alg != Alg.ES256:
            # HAIP 1.0 "Crypto Suites" and WebPKI path validation: ECDSA P-256 with SHA-256
            raise CertificateError(KeysCode.UNSUPPORTED_ALG, "the issuing CA signs with ES256")
        with documents.writing() as files:
            if files.read(METADATA) is not None:
                raise CertificateError(KeysCode.CA_EXISTS, "a CA exists there")
            signer: Signer
            if backend is Backend.FILE:
                if not passphrase:
                    raise CertificateError(KeysCode.PASSPHRASE_REQUIRED, "file keys need one")
                private = generate_private_key(alg)
                blob = encrypt_private_key(private, passphrase, kdf=kdf)
                files.write(KEY_FILE, blob, overwrite=False)
                signer = SoftwareSigner(private)
                ref = {"file": KEY_FILE}
            else:
                if pkcs11 is None:
                    raise CertificateError(KeysCode.PKCS11_REQUIRED, "open a PKCS#11 token")
                hsm = pkcs11.generate_key(alg, label="buergerid issuing CA")
                signer = hsm
                ref = {"token_label": pkcs11.token_label, "id": hsm.key_id.hex()}
            root = ca_certificate(
                signer,
                common_name=common_name,
                organization=organization,
                not_before=now,
                not_after=now + valid_seconds,
            )
            # inside the private data directory every file is 0600, certificates too:
            # operators publish the root with `buergerid-keys ca export`
            files.write(ROOT_PEM, to_pem([root]), overwrite=False)
            files.write(METADATA, _Meta(alg, backend, ref).to_json(), overwrite=False)
        ca = cls.open(documents, passphrase=passphrase, pkcs11=pkcs11)
        ca._signer = signer
        return ca

    @classmethod
    def open(
        cls,
        path: Path | str | Documents,
        *,
        passphrase: str | bytes | None = None,
        pkcs11: Pkcs11Token | None = None,
    ) -> IssuingCa:
        """An existing CA; the passphrase or token are needed only to issue certificates."""
        documents = as_documents(path, lock=LOCK)
        raw = documents.read(METADATA)
        if raw is None:
            raise CertificateError(KeysCode.CA_NOT_FOUND, "no ca.json in the directory")
        return cls(documents, _parse_meta(raw), passphrase=passphrase, pkcs11=pkcs11)

    @property
    def path(self) -> Documents:
        """Where the CA lives (a directory or the database)."""
        return self._path

    @property
    def backend(self) -> Backend:
        """Where the CA key is: an encrypted file (document) or a PKCS#11 token."""
        return self._meta.backend

    @property
    def certificate(self) -> x509.Certificate:
        """The root certificate (publish this; never send it in `x5c`)."""
        return self._certificate

    def certificate_pem(self) -> bytes:
        """The root certificate as PEM."""
        return to_pem([self._certificate])

    def signer(self) -> Signer:
        """The CA key's signer (loaded once); checked against the root certificate."""
        if self._signer is not None:
            return self._signer
        meta = self._meta
        signer: Signer
        if meta.backend is Backend.FILE:
            if not self._passphrase:
                raise CertificateError(KeysCode.PASSPHRASE_REQUIRED, "the CA key is a file key")
            blob = self._path.read(meta.ref["file"])
            if blob is None:
                raise _bad("the CA key file is missing")
            signer = SoftwareSigner(decrypt_private_key(blob, self._passphrase))
        else:
            token = self._pkcs11
            if token is None or token.token_label != meta.ref["token_label"]:
                raise CertificateError(KeysCode.PKCS11_REQUIRED, "open the CA's token")
            try:
                key_id = bytes.fromhex(meta.ref["id"])
            except ValueError as exc:
                raise _bad("PKCS#11 id") from exc
            signer = token.signer(key_id, meta.alg)
        if self._certificate.public_key() != signer.public_key:
            raise CertificateError(KeysCode.KEY_MISMATCH, "ca.pem is not the CA key's")
        self._signer = signer
        return signer

    def certify(
        self,
        public_key: PublicKey,
        *,
        common_name: str,
        issuer_url: str,
        not_before: int,
        not_after: int,
        replace: bool = False,
    ) -> tuple[x509.Certificate, ...]:
        """Issue (or, unless `replace`, return the existing) chain of an issuer key."""
        kid = jws_kid(public_key)
        name = f"{ISSUED}/{kid}.pem"
        if not replace:
            known = issued_chain(self._path, kid)
            if known is not None:
                return known
        # the key is read before the lock: on SQLite a second connection waits for the lock
        signer = self.signer()
        with self._path.writing() as files:
            raw = files.read(name)
            existing = None if raw is None else (_load_pem(raw, name),)
            if existing is not None and not replace:
                return existing
            leaf = issuer_certificate(
                signer,
                self._certificate,
                public_key,
                common_name=common_name,
                issuer_url=issuer_url,
                not_before=not_before,
                not_after=not_after,
            )
            files.write(name, to_pem([leaf]), overwrite=True)
        return (leaf,)

    def issued(self) -> dict[str, tuple[x509.Certificate, ...]]:
        """Every chain this CA issued, by JWS kid."""
        out: dict[str, tuple[x509.Certificate, ...]] = {}
        for name in self._path.names(ISSUED):
            stem = name.removeprefix(f"{ISSUED}/").removesuffix(".pem")
            chain = issued_chain(self._path, stem) if _KID.match(stem) else None
            if chain is not None and name.endswith(".pem"):
                out[stem] = chain
        return out


def describe(certificate: x509.Certificate) -> dict[str, Any]:
    """Subject, serial and validity of a certificate, for listings (no key material)."""
    return {
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "serial": format(certificate.serial_number, "x"),
        "not_before": int(certificate.not_valid_before_utc.timestamp()),
        "not_after": int(certificate.not_valid_after_utc.timestamp()),
    }

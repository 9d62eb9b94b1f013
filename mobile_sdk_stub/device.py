"""The device key of the wallet: ES256 (P-256), created once, kept in the wallet directory.

The key is the holder key of every credential (`cnf.jwk`) and signs OpenID4VCI proofs and
KB-JWTs. On a phone it would sit in the secure element; the stub keeps it as an
unencrypted PKCS#8 PEM file with mode 0600 (`device_key.pem`), created atomically: two
wallets started at once end up with the same single key.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import stat
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from verifier.formats import encode_jws, jws_kid, key_to_jwk, software_signer

DEVICE_KEY_FILE = "device_key.pem"
DPOP_KEY_FILE = "dpop_key.pem"  # the key DPoP proofs are signed with (RFC 9449)
PROOF_TYP = "openid4vci-proof+jwt"
MAX_KEY_FILE_BYTES = 16 * 1024


class DeviceKeyError(Exception):
    """The key file is missing, unreadable, too open or not a P-256 key; `code` is stable."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


class DeviceKey:
    """The wallet's P-256 key pair; `sign` returns raw r||s (a `verifier.formats.Sign`)."""

    __slots__ = ("_private", "_sign")

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise TypeError("the device key is a P-256 key")
        self._private = private_key
        self._sign = software_signer(private_key)

    def __repr__(self) -> str:
        return f"DeviceKey(kid={self.kid!r})"

    @classmethod
    def generate(cls) -> DeviceKey:
        """A new key held in memory only (tests)."""
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def load(cls, wallet_dir: Path, filename: str = DEVICE_KEY_FILE) -> DeviceKey:
        """The key of a wallet directory; `DeviceKeyError` if it is missing or unusable."""
        path = Path(wallet_dir) / filename
        try:
            with path.open("rb") as fh:
                mode = os.fstat(fh.fileno()).st_mode
                pem = fh.read(MAX_KEY_FILE_BYTES + 1)
        except FileNotFoundError as exc:
            raise DeviceKeyError("no_device_key") from exc
        if stat.S_IMODE(mode) & 0o077:
            raise DeviceKeyError("key_file_permissions", "the key file must be mode 0600")
        if len(pem) > MAX_KEY_FILE_BYTES:
            raise DeviceKeyError("bad_device_key", "file too large")
        try:
            private_key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise DeviceKeyError("bad_device_key", "not an unencrypted PEM key") from exc
        if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
            private_key.curve, ec.SECP256R1
        ):
            raise DeviceKeyError("bad_device_key", "not a P-256 key")
        return cls(private_key)

    @classmethod
    def load_or_create(cls, wallet_dir: Path, filename: str = DEVICE_KEY_FILE) -> DeviceKey:
        """The wallet's key, created on first use (PEM, mode 0600, never overwritten)."""
        wallet_dir = Path(wallet_dir)
        path = wallet_dir / filename
        if path.exists():
            return cls.load(wallet_dir, filename)
        wallet_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = cls.generate()
        fd, temporary = tempfile.mkstemp(dir=wallet_dir, prefix=".device_key.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(key.private_pem())
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(temporary, 0o600)
            # link() refuses an existing target: whoever links first wins, the other loads
            try:
                os.link(temporary, path)
            except FileExistsError:
                return cls.load(wallet_dir, filename)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        return key

    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (for the wallet file only)."""
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The public half."""
        return self._private.public_key()

    @property
    def kid(self) -> str:
        """The JWS kid of the key: base64url of the JWK thumbprint (docs/formats.md, "Key
        identifiers")."""
        return jws_kid(self.public_key)

    def public_jwk(self) -> dict[str, str]:
        """The public JWK (`kty`, `crv`, `x`, `y`), as sent in `cnf.jwk` and proof headers."""
        return key_to_jwk(self.public_key)

    def sign(self, message: bytes) -> bytes:
        """ES256 over `message`: raw r||s, 64 bytes."""
        return self._sign(message)

    def dpop_proof(
        self,
        *,
        method: str,
        url: str,
        iat: int,
        nonce: str | None,
        access_token: str | None = None,
    ) -> str:
        """A DPoP proof (RFC 9449 §4.2): `typ` dpop+jwt, this key as `jwk`; `jti` random,
        `htm`/`htu` the request, `ath` the access token's hash when one is presented."""
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk()}
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method,
            "htu": url.split("?", 1)[0].split("#", 1)[0],
            "iat": iat,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        if access_token is not None:
            digest = hashlib.sha256(access_token.encode("ascii")).digest()
            claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        payload = json.dumps(claims, separators=(",", ":")).encode("utf-8")
        return encode_jws(header, payload, self.sign)

    def proof_jwt(
        self, *, aud: str, iat: int, nonce: str | None, client_id: str | None = None
    ) -> str:
        """An OpenID4VCI key proof (`typ` openid4vci-proof+jwt, `jwk` header).

        `aud` is the Credential Issuer identifier, `nonce` the `c_nonce` from the nonce
        endpoint, `client_id` the wallet's client id (`iss`; omitted for anonymous
        pre-authorized access).
        """
        header = {"typ": PROOF_TYP, "alg": "ES256", "jwk": self.public_jwk()}
        claims: dict[str, Any] = {"aud": aud, "iat": iat}
        if nonce is not None:
            claims["nonce"] = nonce
        if client_id is not None:
            claims["iss"] = client_id
        payload = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return encode_jws(header, payload, self.sign)

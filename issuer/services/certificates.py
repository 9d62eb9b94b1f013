"""The `x5c` chains of issuer-signed JWTs (SD-JWT VCs, status list JWTs), per signing key.

A chain comes from the deployment's issuing CA (keys/issuing_ca.py, named
<issuing_ca_dir>: a directory under keys_dir, or rows of the database key store): read
without secrets when the CA already certified the key (`buergerid-keys ca certify`), or
issued here on first use when the CA key is a file key under the server's key passphrase
(development, or a deployment that accepts that) or is in the configured PKCS#11 token. A
chain is used only while its certificate is valid and names the tenant's current issuer
URL; otherwise it is issued anew (or, with the CA key out of reach, left out).

`settings.credential_x5c`: "off" never, "when_available" (default) whenever a chain can be
had, "required" refuses to sign without one (503 no_signing_key). Chains are kept by the
`KeyStore` (its `chains`) until their certificate expires or the store changes a ring.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509

from issuer.errors import NoSigningKey
from issuer.services.signing import Chain
from keys.errors import KeysCode, KeysError
from keys.issuing_ca import IssuingCa, issued_chain, x5c_header
from keys.ring import Backend

if TYPE_CHECKING:
    from issuer.db.models import Tenant
    from issuer.services.signing import KeyStore
    from keys.signer import Signer
    from keys.storage.documents import Documents

log = logging.getLogger(__name__)


def ca_dir(keys: KeyStore) -> Path | Documents:
    """Where the deployment's issuing CA lives (the configured key store)."""
    return keys.key_directory(keys.settings.issuing_ca_dir)


def root_certificate(keys: KeyStore) -> x509.Certificate | None:
    """The issuing CA's root certificate, None when there is no CA (cached briefly)."""
    return keys.ca_root()


def _usable(chain: tuple[x509.Certificate, ...], issuer_url: str, at: int) -> bool:
    leaf = chain[0]
    if not leaf.not_valid_before_utc.timestamp() <= at < leaf.not_valid_after_utc.timestamp():
        return False
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return issuer_url in san.get_values_for_type(x509.UniformResourceIdentifier)


def _issue(
    keys: KeyStore, tenant: Tenant, signer: Signer, at: int, replace: bool
) -> tuple[x509.Certificate, ...]:
    from issuer.settings import resolve_key_passphrase

    settings = keys.settings
    ca = IssuingCa.open(ca_dir(keys), passphrase=resolve_key_passphrase(settings))
    if ca.backend is Backend.PKCS11:
        ca = IssuingCa.open(ca.path, pkcs11=keys.token())
    window = keys.tenant_ring(tenant).find(signer.jws_kid, at).window
    chain = ca.certify(
        signer.public_key,
        common_name=tenant.name[:64] or tenant.ags,
        issuer_url=tenant.issuer_url,
        not_before=window.nbf,
        not_after=window.exp,
        replace=replace,
    )
    log.info("issuer_key_certified", extra={"tenant": tenant.ags, "kid": signer.jws_kid})
    return chain


def x5c_for(keys: KeyStore, tenant: Tenant, signer: Signer, now: datetime) -> list[str] | None:
    """The `x5c` header for a JWT `signer` makes for `tenant`, or None (see the docstring)."""
    settings = keys.settings
    mode = settings.credential_x5c
    if mode == "off":
        return None
    at = int(now.timestamp())
    key = (signer.jws_kid, tenant.issuer_url)
    cached = keys.chains.get(key)
    if cached is not None and at < cached.until:
        return cached.x5c
    chain: tuple[x509.Certificate, ...] | None = None
    try:
        chain = issued_chain(ca_dir(keys), signer.jws_kid)
        if chain is None or not _usable(chain, tenant.issuer_url, at):
            chain = _issue(keys, tenant, signer, at, replace=chain is not None)
            if not _usable(chain, tenant.issuer_url, at):
                chain = None
    except KeysError as exc:
        if exc.code not in (
            KeysCode.CA_NOT_FOUND,
            KeysCode.PASSPHRASE_REQUIRED,
            KeysCode.PKCS11_REQUIRED,
            KeysCode.KEY_FILE_DECRYPT,
        ):
            raise NoSigningKey(detail=f"x5c: {exc.code}") from exc
        chain = None
    if chain is None:
        if mode == "required":
            raise NoSigningKey(detail="no certificate for the signing key")
        return None
    value = x5c_header(chain)
    keys.chains.put(key, Chain(value, int(chain[0].not_valid_after_utc.timestamp())))
    return value

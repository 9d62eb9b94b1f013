"""SD-JWT VC Type Metadata documents (draft-ietf-oauth-sd-jwt-vc §6 of draft -11, the
version OpenID4VCI 1.0 cites; "SD-JWT VC Type Metadata" in later drafts), served at each
type's `vct` URL, and the `vct#integrity` value issued credentials carry.

A document is built from `credential_types.TYPES` and the tenant's stable URLs only (its
`vct`, the logo URL); the logo's bytes and the tenant's display name are not part of it,
so a new logo or a renamed municipality does not change the document and the integrity
of credentials issued earlier still holds. The bytes are canonical JSON (sorted keys, no
whitespace, UTF-8), so the same inputs always give the same document and digest.

Display objects carry the language tag as `locale` (later drafts) and as `lang` (draft
-11) with the same value; a consumer ignores the member it does not know.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from wallet_api.services.credential_types import LOCALES, TYPES


def vct_for(issuer_url: str, kind: str) -> str:
    """The `vct` of a credential kind at a tenant (docs/formats.md)."""
    return f"{issuer_url.rstrip('/')}/vct/{kind}"


def logo_url(public_base_url: str, ags: str) -> str:
    """Where a tenant's logo is served (stable: the bytes change, the URL does not)."""
    return f"{public_base_url.rstrip('/')}/wallet/logos/{ags}.png"


def _locale(tag: str) -> dict[str, str]:
    return {"locale": tag, "lang": tag}


def type_metadata(kind: str, *, issuer_url: str, logo_uri: str) -> dict[str, Any]:
    """The Type Metadata document of `kind` at a tenant."""
    spec = TYPES[kind]
    display = [
        {
            **_locale(tag),
            "name": spec.name[tag],
            "description": spec.description[tag],
            "rendering": {
                "simple": {
                    "logo": {"uri": logo_uri, "alt_text": spec.name[tag]},
                    "background_color": spec.background_color,
                    "text_color": spec.text_color,
                }
            },
        }
        for tag in LOCALES
    ]
    claims = [
        {
            "path": list(claim.path),
            "display": [{**_locale(tag), "label": getattr(claim, tag)} for tag in LOCALES],
            "sd": claim.sd,
            "mandatory": claim.mandatory,
        }
        for claim in spec.claims
    ]
    return {
        "vct": vct_for(issuer_url, kind),
        "name": spec.name["en"],
        "description": spec.description["en"],
        "display": display,
        "claims": claims,
    }


def document_bytes(document: dict[str, Any]) -> bytes:
    """The canonical JSON bytes a document is served as (and hashed over)."""
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode(
        "utf-8"
    )


def integrity(data: bytes) -> str:
    """W3C Subresource Integrity metadata: "sha256-" + base64 of the SHA-256 digest
    (SRI §3.1, as draft-ietf-oauth-sd-jwt-vc §7 "Document Integrity" requires)."""
    return "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def type_metadata_bytes(kind: str, *, issuer_url: str, public_base_url: str, ags: str) -> bytes:
    """The served bytes of a tenant's Type Metadata of `kind`."""
    return document_bytes(
        type_metadata(kind, issuer_url=issuer_url, logo_uri=logo_url(public_base_url, ags))
    )


def vct_integrity(kind: str, *, issuer_url: str, public_base_url: str, ags: str) -> str:
    """The `vct#integrity` claim of a credential of `kind` issued by the tenant."""
    return integrity(
        type_metadata_bytes(kind, issuer_url=issuer_url, public_base_url=public_base_url, ags=ags)
    )

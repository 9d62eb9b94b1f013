"""What a grant is bound to and which credentials its tokens open (OpenID4VCI 1.0 §6, §8.2).

- Authorization details (RFC 9396, OpenID4VCI §5.1.1, §6.1.1): a token request may name the
  offered configurations it wants (`type` openid_credential, `credential_configuration_id`,
  `locations` naming this Credential Issuer when given). The token then opens only those,
  and the response carries `authorization_details` with `credential_identifiers`
  (§6.2); the wallet must then use `credential_identifier` at the credential endpoint and
  must not send `credential_configuration_id` (§8.2). Without them, no
  `authorization_details` is returned and the wallet names `credential_configuration_id`.
- Sender constraint: the DPoP key (`jkt`, RFC 9449 §6) a token was issued for, and the
  wallet attestation's client id and instance key (the refresh token is bound to that key,
  attestation-based client authentication draft -07 §11.3).

Identifiers are random per grant and stay the same across refreshes.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from wallet_api.errors import CredentialError, TokenError
from wallet_api.protocol_models import WalletGrantBinding

OPENID_CREDENTIAL = "openid_credential"
MAX_AUTHORIZATION_DETAILS_CHARS = 4096
MAX_DETAILS = 8
IDENTIFIER_BYTES = 12


def _invalid(description: str) -> TokenError:
    return TokenError("invalid_authorization_details", description)


def parse_authorization_details(
    raw: str | None, *, offered: Sequence[str], credential_issuer: str
) -> list[str] | None:
    """The configuration ids a token request's `authorization_details` asks for, in order;
    None when the parameter is absent."""
    if raw is None:
        return None
    if len(raw) > MAX_AUTHORIZATION_DETAILS_CHARS:
        raise _invalid("authorization_details is too long")
    try:
        details = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise _invalid("authorization_details is not JSON") from exc
    if not isinstance(details, list) or not 0 < len(details) <= MAX_DETAILS:
        raise _invalid("authorization_details must be a non-empty array")
    wanted: list[str] = []
    for detail in details:
        if not isinstance(detail, dict) or detail.get("type") != OPENID_CREDENTIAL:
            raise _invalid("only openid_credential details are understood")
        configuration_id = detail.get("credential_configuration_id")
        if not isinstance(configuration_id, str) or configuration_id not in offered:
            raise _invalid("credential_configuration_id is not part of the offer")
        locations = detail.get("locations")
        if locations is not None and (
            not isinstance(locations, list) or credential_issuer not in locations
        ):
            raise _invalid("locations must name this credential issuer")
        claims = detail.get("claims")
        if claims is not None and not isinstance(claims, list):
            raise _invalid("claims must be an array")
        if configuration_id in wanted:
            raise _invalid("a configuration is named twice")
        wanted.append(configuration_id)
    return wanted


@dataclass(frozen=True, slots=True)
class ClientBinding:
    """The sender constraint of a token request: DPoP key and attested wallet, if any."""

    dpop_jkt: str | None
    client_id: str | None
    attestation_jkt: str | None
    wallet_provider: str | None


def create_binding(
    session: Session,
    *,
    grant_id: str,
    offered: Sequence[str],
    requested: list[str] | None,
    client: ClientBinding,
    now: datetime,
) -> WalletGrantBinding:
    """The binding of a new grant: identifiers for what it opens, the sender constraint."""
    granted = requested if requested is not None else list(offered)
    binding = WalletGrantBinding(
        grant_id=grant_id,
        dpop_jkt=client.dpop_jkt,
        client_id=client.client_id,
        attestation_jkt=client.attestation_jkt,
        wallet_provider=client.wallet_provider,
        credential_identifiers={secrets.token_urlsafe(IDENTIFIER_BYTES): cid for cid in granted},
        details_returned=requested is not None,
        created_at=now,
    )
    session.add(binding)
    session.flush()
    return binding


def binding_of(session: Session, grant_id: str) -> WalletGrantBinding | None:
    """A grant's binding (None for a grant made before bindings existed)."""
    return session.get(WalletGrantBinding, grant_id)


def refresh_details(binding: WalletGrantBinding, requested: list[str] | None) -> None:
    """A refresh request may narrow the details, never widen them (RFC 9396 §6)."""
    if requested is None:
        return
    granted = set(binding.credential_identifiers.values())
    if not set(requested) <= granted:
        raise _invalid("a refresh cannot widen the authorization")
    binding.credential_identifiers = {
        identifier: cid
        for identifier, cid in binding.credential_identifiers.items()
        if cid in requested
    }
    binding.details_returned = True


def token_response_details(binding: WalletGrantBinding) -> list[dict[str, Any]] | None:
    """`authorization_details` of the token response, or None when none were asked for."""
    if not binding.details_returned:
        return None
    by_configuration: dict[str, list[str]] = {}
    for identifier, cid in binding.credential_identifiers.items():
        by_configuration.setdefault(cid, []).append(identifier)
    return [
        {
            "type": OPENID_CREDENTIAL,
            "credential_configuration_id": cid,
            "credential_identifiers": identifiers,
        }
        for cid, identifiers in by_configuration.items()
    ]


def requested_configuration(
    body: dict[str, Any], *, binding: WalletGrantBinding | None, offered: Sequence[str]
) -> str:
    """The configuration a credential request names, by identifier or by id (§8.2)."""
    identifier = body.get("credential_identifier")
    configuration_id = body.get("credential_configuration_id")
    if identifier is not None and configuration_id is not None:
        raise CredentialError(
            "invalid_credential_request",
            "credential_identifier and credential_configuration_id exclude each other",
        )
    details = binding is not None and binding.details_returned
    if identifier is not None:
        if not details or binding is None:
            raise CredentialError(
                "invalid_credential_request",
                "credential_identifier needs authorization_details from the token response",
            )
        if not isinstance(identifier, str) or identifier not in binding.credential_identifiers:
            raise CredentialError("unknown_credential_identifier", "unknown credential_identifier")
        return binding.credential_identifiers[identifier]
    if details:
        raise CredentialError(
            "invalid_credential_request",
            "the token response gave credential_identifiers: use credential_identifier",
        )
    if not isinstance(configuration_id, str):
        raise CredentialError(
            "invalid_credential_request", "credential_configuration_id is required"
        )
    if configuration_id not in offered:
        raise CredentialError("unknown_credential_configuration", "not offered to this token")
    return configuration_id

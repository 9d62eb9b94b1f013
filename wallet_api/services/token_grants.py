"""The token endpoint's checks around the two grants (OpenID4VCI 1.0 §6, RFC 9449, HAIP 1.0).

`client_binding` reads what the request proves about its sender: a DPoP proof (§4.3 of RFC
9449, with our server nonce) and a wallet attestation with its PoP. `pre_authorized` and
`refresh` then hold the tenant's policy against it before anything is spent (a refused
request never burns a pre-authorized code), run the grant, and bind its tokens:

- DPoP required (deployment or tenant) and no proof: `invalid_dpop_proof`;
- wallet attestation required and none verified: `invalid_client` (401);
- a refresh must come with the DPoP key and the attested instance key the grant was
  issued to (RFC 9449 §5, attestation-based client authentication draft -07 §11.3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.settings import Settings
from wallet_api.errors import TokenError
from wallet_api.models import WalletGrant, WalletOffer
from wallet_api.protocol_models import WalletGrantBinding
from wallet_api.services import secrets as wsecrets
from wallet_api.services import tenant_settings
from wallet_api.services.attestations import WalletAttestation
from wallet_api.services.grant_bindings import (
    ClientBinding,
    binding_of,
    create_binding,
    parse_authorization_details,
    refresh_details,
    token_response_details,
)
from wallet_api.services.offers import IssuedTokens, redeem_offer, refresh_grant
from wallet_api.services.policy import WalletPolicy


@dataclass(frozen=True, slots=True)
class TokenResult:
    """Tokens and what the response says about them."""

    tokens: IssuedTokens
    token_type: str  # "DPoP" or "Bearer"
    authorization_details: list[dict[str, Any]] | None


def client_binding(dpop_jkt: str | None, attestation: WalletAttestation | None) -> ClientBinding:
    """The sender constraint a request proved."""
    return ClientBinding(
        dpop_jkt=dpop_jkt,
        client_id=attestation.client_id if attestation else None,
        attestation_jkt=attestation.instance_jkt if attestation else None,
        wallet_provider=attestation.provider if attestation else None,
    )


def _enforce(
    session: Session,
    settings: Settings,
    tenant_id: int,
    client: ClientBinding,
    dpop_error: Callable[[str], TokenError],
) -> None:
    needs = tenant_settings.requirements(session, settings, tenant_id)
    if needs.wallet_attestation and client.attestation_jkt is None:
        raise TokenError("invalid_client", "a wallet attestation is required", status=401)
    if needs.dpop and client.dpop_jkt is None:
        raise dpop_error("a DPoP proof is required")


def _response(binding: WalletGrantBinding, tokens: IssuedTokens) -> TokenResult:
    return TokenResult(
        tokens=tokens,
        token_type="DPoP" if binding.dpop_jkt else "Bearer",
        authorization_details=token_response_details(binding),
    )


def pre_authorized(
    session: Session,
    *,
    settings: Settings,
    policy: WalletPolicy,
    credential_issuer: str,
    code: str,
    tx_code: str | None,
    authorization_details: str | None,
    client: ClientBinding,
    now: datetime,
    dpop_error: Callable[[str], TokenError],
) -> TokenResult:
    """The pre-authorized_code grant with the checks of the module docstring."""
    offer = session.execute(
        select(WalletOffer.tenant_id, WalletOffer.configuration_ids).where(
            WalletOffer.code_digest == wsecrets.token_digest(code)
        )
    ).one_or_none()
    if offer is not None:
        _enforce(session, settings, int(offer[0]), client, dpop_error)
        requested = parse_authorization_details(
            authorization_details, offered=list(offer[1]), credential_issuer=credential_issuer
        )
    else:
        requested = None  # redeem_offer answers invalid_grant
    tokens = redeem_offer(
        session, pre_authorized_code=code, tx_code=tx_code, now=now, policy=policy
    )
    binding = create_binding(
        session,
        grant_id=tokens.grant_id,
        offered=tokens.configuration_ids,
        requested=requested,
        client=client,
        now=now,
    )
    return _response(binding, tokens)


def refresh(
    session: Session,
    *,
    settings: Settings,
    policy: WalletPolicy,
    credential_issuer: str,
    refresh_token: str,
    authorization_details: str | None,
    client: ClientBinding,
    now: datetime,
    dpop_error: Callable[[str], TokenError],
) -> TokenResult:
    """The refresh_token grant, held to the binding of the grant it refreshes."""
    row = session.execute(
        select(WalletGrant.id, WalletOffer.tenant_id, WalletOffer.configuration_ids)
        .join(WalletOffer, WalletOffer.id == WalletGrant.offer_id)
        .where(WalletGrant.refresh_digest == wsecrets.token_digest(refresh_token))
    ).one_or_none()
    binding = binding_of(session, str(row[0])) if row is not None else None
    requested: list[str] | None = None
    if row is not None:
        _enforce(session, settings, int(row[1]), client, dpop_error)
        requested = parse_authorization_details(
            authorization_details, offered=list(row[2]), credential_issuer=credential_issuer
        )
        if binding is not None and binding.dpop_jkt is not None:
            if client.dpop_jkt != binding.dpop_jkt:
                raise dpop_error("the refresh token is bound to another DPoP key")
        if binding is not None and binding.attestation_jkt is not None:
            if client.attestation_jkt != binding.attestation_jkt:
                raise TokenError(
                    "invalid_client", "the refresh token is bound to another wallet", status=401
                )
    tokens = refresh_grant(session, refresh_token=refresh_token, now=now, policy=policy)
    if binding is None:
        binding = create_binding(
            session,
            grant_id=tokens.grant_id,
            offered=tokens.configuration_ids,
            requested=requested,
            client=client,
            now=now,
        )
    else:
        refresh_details(binding, requested)
        if binding.dpop_jkt is None and client.dpop_jkt is not None:
            binding.dpop_jkt = client.dpop_jkt  # a wallet that starts to use DPoP binds here
        session.flush()
    return _response(binding, tokens)

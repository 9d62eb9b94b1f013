"""The wallet's side of OpenID4VCI's authorization code flow (HAIP 1.0: PAR, PKCE S256,
DPoP): start from the issuer's metadata, let the citizen authenticate in the browser, take
the code from the redirect and fetch the credentials.

    pending = start(client, ["05513000.residence"])      # PAR; open pending.authorization_url
    ...                                                   # in a browser: present, consent
    stored = finish(client, pending, callback_url)        # the redirect with ?code=…

An issuer-initiated start (an offer with the ``authorization_code`` grant, as a
municipality's page links it) goes through ``start_from_offer``, which carries the offer's
``issuer_state`` into the pushed request.

The code verifier stays in memory (``Pending``); ``finish`` checks ``state`` and ``iss``
(RFC 9207) of the redirect before it spends the code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit

from mobile_sdk_stub.store import StoredCredential

if TYPE_CHECKING:
    from mobile_sdk_stub.client import WalletClient

CLIENT_ID = "buergerid-wallet-stub"
REDIRECT_URI = "https://wallet.buergerid.invalid/callback"


@dataclass(frozen=True, slots=True)
class Pending:
    """An authorization under way: where the browser goes, what the redirect must carry."""

    authorization_url: str
    configuration_ids: tuple[str, ...]
    state: str
    redirect_uri: str
    client_id: str
    code_verifier: str = field(repr=False)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _as_metadata(client: WalletClient) -> dict[str, object]:
    from mobile_sdk_stub.client import WalletError

    body = client._get("/.well-known/oauth-authorization-server")
    if not isinstance(body, dict) or body.get("issuer") != client.base_url:
        raise WalletError("bad_metadata", "authorization server metadata")
    if "S256" not in body.get("code_challenge_methods_supported", []):
        raise WalletError("bad_metadata", "no PKCE S256")
    return body


def _local_path(client: WalletClient, url: object, name: str) -> str:
    from mobile_sdk_stub.client import WalletError

    if not isinstance(url, str) or not url.startswith(client.base_url + "/"):
        raise WalletError("bad_metadata", name)
    return url[len(client.base_url) :]


def start(
    client: WalletClient,
    configuration_ids: list[str],
    *,
    issuer_state: str | None = None,
    client_id: str = CLIENT_ID,
    redirect_uri: str = REDIRECT_URI,
    code_verifier: str | None = None,
) -> Pending:
    """Push the authorization request; the URL to open in the citizen's browser."""
    from mobile_sdk_stub.client import WalletError

    metadata = _as_metadata(client)
    verifier = code_verifier or secrets.token_urlsafe(48)
    state = secrets.token_urlsafe(16)
    form = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "code_challenge": _b64(hashlib.sha256(verifier.encode("ascii")).digest()),
        "code_challenge_method": "S256",
        "state": state,
        "authorization_details": json.dumps(
            [
                {"type": "openid_credential", "credential_configuration_id": c}
                for c in configuration_ids
            ]
        ),
    }
    if issuer_state is not None:
        form["issuer_state"] = issuer_state
    par = _local_path(client, metadata.get("pushed_authorization_request_endpoint"), "par")
    body = client._json(client._send("POST", par, data=form, client_auth=True))
    if not isinstance(body, dict) or not isinstance(body.get("request_uri"), str):
        raise WalletError("bad_response", "PAR response")
    endpoint = metadata.get("authorization_endpoint")
    if not isinstance(endpoint, str):
        raise WalletError("bad_metadata", "authorization_endpoint")
    query = urlencode({"client_id": client_id, "request_uri": body["request_uri"]})
    return Pending(
        authorization_url=f"{endpoint}?{query}",
        configuration_ids=tuple(configuration_ids),
        state=state,
        redirect_uri=redirect_uri,
        client_id=client_id,
        code_verifier=verifier,
    )


def start_from_offer(client: WalletClient, offer: str) -> Pending:
    """Start from an ``openid-credential-offer://`` URI whose grant is ``authorization_code``."""
    from mobile_sdk_stub.client import WalletError, offer_reference

    reference = offer_reference(offer)
    if reference is None:
        query = parse_qs(urlsplit(offer.strip()).query).get("credential_offer", [])
        if len(query) != 1:
            raise WalletError("bad_offer", "credential_offer by value is required")
        body = _loads(query[0])
    else:
        if not reference.startswith(client.base_url + "/"):
            raise WalletError("issuer_mismatch", "the offer URI is not this issuer's")
        body = client._json(client._send("GET", reference[len(client.base_url) :]))
    if not isinstance(body, dict) or body.get("credential_issuer") != client.base_url:
        raise WalletError("issuer_mismatch", "the offer is not this issuer's")
    ids = body.get("credential_configuration_ids")
    grant = (body.get("grants") or {}).get("authorization_code")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise WalletError("bad_offer", "credential_configuration_ids")
    if not isinstance(grant, dict):
        raise WalletError("bad_offer", "the offer has no authorization_code grant")
    issuer_state = grant.get("issuer_state")
    if issuer_state is not None and not isinstance(issuer_state, str):
        raise WalletError("bad_offer", "issuer_state")
    return start(client, ids, issuer_state=issuer_state)


def _loads(text: str) -> object:
    from mobile_sdk_stub.client import WalletError

    try:
        return json.loads(text)
    except ValueError as exc:
        raise WalletError("bad_offer", "malformed credential offer") from exc


def finish(
    client: WalletClient, pending: Pending, callback_url: str, *, code_verifier: str | None = None
) -> list[StoredCredential]:
    """Exchange the code of `callback_url` (PKCE, DPoP) and fetch the credentials."""
    from mobile_sdk_stub.client import WalletError, _identifiers

    if not callback_url.startswith(pending.redirect_uri):
        raise WalletError("bad_redirect", "not our redirect URI")
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback_url).query).items()}
    if params.get("state") != pending.state or params.get("iss") != client.base_url:
        raise WalletError("bad_redirect", "state or iss do not match")
    if "error" in params:
        raise WalletError(params["error"], "the authorization was refused")
    form = {
        "grant_type": "authorization_code",
        "code": params.get("code", ""),
        "code_verifier": code_verifier or pending.code_verifier,
        "redirect_uri": pending.redirect_uri,
        "client_id": pending.client_id,
    }
    tokens = client.token(form)
    fetched, _deferred = client._fetch_all(
        tokens["access_token"], list(pending.configuration_ids), _identifiers(tokens)
    )
    return client._store_fetched(fetched, str(tokens["refresh_token"]))

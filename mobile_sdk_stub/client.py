"""The wallet's HTTP client: redeems OpenID4VCI credential offers against ``wallet_api``.

``WalletClient(base_url, wallet_dir, transport=None)`` keeps its device key
(``device.py``) and credentials (``store.py``) in ``wallet_dir``; the httpx transport is
injectable, so the same client runs against uvicorn or in-process ASGI. It speaks only
HTTP to the server and imports no server code (docs/architecture.md).

Flow (OpenID4VCI 1.0, pre-authorized code): offer URL (or a QR image of it; by value, or
by reference: the https ``credential_offer_uri`` is fetched once) → issuer metadata →
token (pre-authorized_code + tx_code, ``authorization_details`` naming the offered
configurations) → for each: nonce, key proof by the device key, credential request by the
``credential_identifier`` of the token response → notification ``credential_accepted``.
A permit still awaiting payment answers 202 with a ``transaction_id``: it is kept in
``pending.json`` and ``collect()`` fetches it from the deferred credential endpoint later.

Refresh: the refresh_token grant, then fresh credentials (new status indices). A
credential is due in the last ``REFRESH_WINDOW_SECONDS`` of its life, or the last third
of it if that is shorter: a yearly permit renewed in its renewal window (up to six weeks
before it ends) reaches the phone about a month before the old one ends, and a credential
that came back unchanged is due again only in the last third of what is left, so a wallet
that checks daily refreshes a handful of times, not daily. The server keeps the refresh
token alive past the expiry of the credentials it serves, so this never runs into an
expired grant.

Tokens are DPoP-bound (RFC 9449): every token and resource request carries a proof by the
wallet's DPoP key (``dpop_key.pem``) with the server's latest ``DPoP-Nonce``; a
``use_dpop_nonce`` answer is retried once with the new nonce. An optional wallet
attestation (``ClientAttestation``) is sent to the token endpoint with a fresh PoP.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from keys.windscreen import (
    PrintedZone,
    WindscreenPermit,
    qr_png,
    qr_svg,
    render_windscreen_pdf,
)
from mobile_sdk_stub.device import DPOP_KEY_FILE, DeviceKey
from mobile_sdk_stub.pending import PendingCredential, PendingStore
from mobile_sdk_stub.presentation import build_presentation
from mobile_sdk_stub.store import CredentialStore, StoredCredential
from verifier import PermitType
from verifier.formats import encode_jws
from verifier.sdjwt import ClaimPath

OFFER_SCHEME = "openid-credential-offer"
PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
MAX_OFFER_CHARS = 8192
MAX_RESPONSE_BYTES = 1024 * 1024
# refresh in the last 30 days of a credential's life, or in its last third if that is shorter
REFRESH_WINDOW_SECONDS = 30 * 24 * 3600
REFRESH_SHARE = 3


class WalletError(Exception):
    """A wallet operation failed; ``code`` is stable (the server's ``error`` when it has one)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ClientAttestation:
    """A wallet attestation (``oauth-client-attestation+jwt``) and the instance key that
    signs its PoPs (attestation-based client authentication)."""

    attestation: str = field(repr=False)
    instance_key: DeviceKey
    client_id: str


@dataclass(frozen=True, slots=True)
class CredentialOffer:
    """A parsed credential offer (§4.1.1)."""

    credential_issuer: str
    configuration_ids: tuple[str, ...]
    pre_authorized_code: str
    tx_code_length: int | None


def offer_reference(uri: str) -> str | None:
    """The https ``credential_offer_uri`` of an offer by reference, else None (§4.1.3)."""
    if len(uri) > MAX_OFFER_CHARS:
        raise WalletError("bad_offer", "offer too long")
    parts = urlsplit(uri.strip())
    if parts.scheme != OFFER_SCHEME:
        raise WalletError("bad_offer", "not an openid-credential-offer URI")
    query = parse_qs(parts.query)
    if "credential_offer_uri" not in query:
        return None
    if "credential_offer" in query or len(query["credential_offer_uri"]) != 1:
        raise WalletError("bad_offer", "credential_offer_uri must stand alone")
    reference = query["credential_offer_uri"][0]
    if not reference.startswith(("https://", "http://")):
        raise WalletError("bad_offer", "credential_offer_uri must be a URL")
    return reference


def parse_offer_uri(uri: str) -> CredentialOffer:
    """``openid-credential-offer://?credential_offer=<JSON>`` (an offer by value)."""
    if len(uri) > MAX_OFFER_CHARS:
        raise WalletError("bad_offer", "offer too long")
    parts = urlsplit(uri.strip())
    if parts.scheme != OFFER_SCHEME:
        raise WalletError("bad_offer", "not an openid-credential-offer URI")
    query = parse_qs(parts.query)
    if "credential_offer" not in query or len(query["credential_offer"]) != 1:
        raise WalletError("bad_offer", "credential_offer by value is required")
    return parse_offer_object(query["credential_offer"][0])


def parse_offer_object(text: str) -> CredentialOffer:
    """A Credential Offer object (§4.1.1) as JSON text."""
    try:
        offer = json.loads(text)
        issuer = offer["credential_issuer"]
        ids = offer["credential_configuration_ids"]
        grant = offer["grants"][PRE_AUTHORIZED_GRANT]
        code = grant["pre-authorized_code"]
        tx = grant.get("tx_code")
    except (ValueError, KeyError, TypeError) as exc:
        raise WalletError("bad_offer", "malformed credential offer") from exc
    if not isinstance(issuer, str) or not issuer.startswith(("https://", "http://")):
        raise WalletError("bad_offer", "credential_issuer")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise WalletError("bad_offer", "credential_configuration_ids")
    if not isinstance(code, str) or not code:
        raise WalletError("bad_offer", "pre-authorized_code")
    length = tx.get("length") if isinstance(tx, dict) else None
    return CredentialOffer(
        credential_issuer=issuer.rstrip("/"),
        configuration_ids=tuple(ids),
        pre_authorized_code=code,
        tx_code_length=length if isinstance(length, int) else None,
    )


def read_offer_from_image(path: Path) -> str:
    """The offer URI in a QR image (zxing-cpp via the verifier's bounded reader)."""
    from verifier.handheld import ScanError, read_qr_texts

    try:
        texts = read_qr_texts(path)
    except ScanError as exc:
        raise WalletError("bad_offer", exc.code) from exc
    for text in texts:
        if text.startswith(OFFER_SCHEME + "://"):
            return text
    raise WalletError("bad_offer", "the image holds no credential offer")


def unverified_claims(sd_jwt: str) -> dict[str, Any]:
    """The plain (always visible) claims of an issued SD-JWT, for display; not a verification."""
    jwt = sd_jwt.split("~", 1)[0]
    try:
        payload = jwt.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error) as exc:
        raise WalletError("bad_credential", "not a JWT") from exc
    if not isinstance(data, dict):
        raise WalletError("bad_credential", "payload is not an object")
    return data


def _identifiers(tokens: dict[str, Any]) -> dict[str, str]:
    """configuration id -> its first credential_identifier, from a token response (§6.2)."""
    out: dict[str, str] = {}
    for detail in tokens.get("authorization_details") or []:
        if not isinstance(detail, dict):
            continue
        cid, identifiers = (
            detail.get("credential_configuration_id"),
            detail.get("credential_identifiers"),
        )
        if isinstance(cid, str) and isinstance(identifiers, list) and identifiers:
            if isinstance(identifiers[0], str):
                out[cid] = identifiers[0]
    return out


def _kind_of(configuration_id: str) -> str:
    return configuration_id.split(".", 1)[1] if "." in configuration_id else configuration_id


class WalletClient:
    """One wallet (device key + credential store) talking to one credential issuer."""

    def __init__(
        self,
        base_url: str,
        wallet_dir: Path,
        transport: httpx.BaseTransport | None = None,
        *,
        clock: Callable[[], float] | None = None,
        timeout_seconds: float = 30.0,
        use_dpop: bool = True,
        attestation: ClientAttestation | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.wallet_dir = Path(wallet_dir)
        self.wallet_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.device = DeviceKey.load_or_create(self.wallet_dir)
        self.dpop_key = (
            DeviceKey.load_or_create(self.wallet_dir, DPOP_KEY_FILE) if use_dpop else None
        )
        self.attestation = attestation
        self.store = CredentialStore(self.wallet_dir)
        self.pending = PendingStore(self.wallet_dir)
        self._clock = clock
        self._http = httpx.Client(
            base_url=self.base_url, transport=transport, timeout=timeout_seconds, verify=verify
        )
        self._metadata: dict[str, Any] | None = None
        self._dpop_nonce: str | None = None

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> WalletClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now(self) -> int:
        """The wallet's clock, integer seconds."""
        return int(self._clock() if self._clock is not None else time.time())

    # ------------------------------------------------------------------ HTTP plumbing

    def _json(self, response: httpx.Response) -> Any:
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise WalletError("bad_response", "response too large")
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if response.is_error:
            code = "http_error"
            if isinstance(body, dict):
                code = str(body.get("error") or body.get("code") or code)
            raise WalletError(code, f"HTTP {response.status_code}")
        return body

    @staticmethod
    def _asks_for_nonce(response: httpx.Response) -> bool:
        # RFC 9449 §8 (token endpoint: 400 use_dpop_nonce) and §9 (resource: 401 challenge)
        if response.status_code == 401:
            return "use_dpop_nonce" in response.headers.get("www-authenticate", "")
        if response.status_code == 400:
            try:
                return bool(response.json().get("error") == "use_dpop_nonce")
            except (ValueError, AttributeError):
                return False
        return False

    def _send(
        self,
        method: str,
        path: str,
        *,
        access_token: str | None = None,
        client_auth: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request with DPoP (retried once for a fresh server nonce) and, for the token
        endpoint, the wallet attestation."""
        url = self.base_url + path
        for attempt in range(2):
            headers: dict[str, str] = dict(kwargs.get("headers") or {})
            if self.dpop_key is not None:
                headers["DPoP"] = self.dpop_key.dpop_proof(
                    method=method,
                    url=url,
                    iat=self.now(),
                    nonce=self._dpop_nonce,
                    access_token=access_token,
                )
            if access_token is not None:
                scheme = "DPoP" if self.dpop_key is not None else "Bearer"
                headers["Authorization"] = f"{scheme} {access_token}"
            if client_auth and self.attestation is not None:
                headers["OAuth-Client-Attestation"] = self.attestation.attestation
                headers["OAuth-Client-Attestation-PoP"] = self._attestation_pop()
            options = {k: v for k, v in kwargs.items() if k != "headers"}
            try:
                response = self._http.request(method, path, headers=headers, **options)
            except httpx.HTTPError as exc:
                raise WalletError("network_error", type(exc).__name__) from exc
            nonce = response.headers.get("DPoP-Nonce")
            if nonce:
                self._dpop_nonce = nonce
            if attempt == 0 and self.dpop_key is not None and self._asks_for_nonce(response):
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _attestation_pop(self) -> str:
        assert self.attestation is not None
        now = self.now()
        header = {"typ": "oauth-client-attestation-pop+jwt", "alg": "ES256"}
        claims = {
            "iss": self.attestation.client_id,
            "aud": self.base_url,
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "exp": now + 60,
        }
        payload = json.dumps(claims, separators=(",", ":")).encode("utf-8")
        return encode_jws(header, payload, self.attestation.instance_key.sign)

    def _post(self, path: str, **kwargs: Any) -> Any:
        return self._json(self._send("POST", path, **kwargs))

    def _get(self, path: str, **kwargs: Any) -> Any:
        return self._json(self._send("GET", path, **kwargs))

    def metadata(self) -> dict[str, Any]:
        """The credential issuer metadata (cached per client)."""
        if self._metadata is None:
            body = self._get("/.well-known/openid-credential-issuer")
            if not isinstance(body, dict) or body.get("credential_issuer") != self.base_url:
                raise WalletError("bad_metadata", "credential_issuer does not match the server")
            self._metadata = body
        return self._metadata

    def _token_endpoint(self) -> str:
        body = self._get("/.well-known/oauth-authorization-server")
        endpoint = body.get("token_endpoint") if isinstance(body, dict) else None
        if not isinstance(endpoint, str) or not endpoint.startswith(self.base_url + "/"):
            raise WalletError("bad_metadata", "token_endpoint")
        return endpoint[len(self.base_url) :]

    def _path_of(self, name: str) -> str:
        endpoint = self.metadata().get(name)
        if not isinstance(endpoint, str) or not endpoint.startswith(self.base_url + "/"):
            raise WalletError("bad_metadata", name)
        return endpoint[len(self.base_url) :]

    # ------------------------------------------------------------------ protocol steps

    def token(self, form: dict[str, str]) -> dict[str, Any]:
        """POST the token endpoint (form-encoded) and return the token response."""
        body = self._post(self._token_endpoint(), data=form, client_auth=True)
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise WalletError("bad_response", "token response")
        return body

    def nonce(self) -> str:
        """A fresh c_nonce from the nonce endpoint."""
        body = self._post(self._path_of("nonce_endpoint"))
        if not isinstance(body, dict) or not isinstance(body.get("c_nonce"), str):
            raise WalletError("bad_response", "nonce response")
        return str(body["c_nonce"])

    def proof(self, nonce: str) -> str:
        """A key proof by the device key for this issuer."""
        return self.device.proof_jwt(aud=self.base_url, iat=self.now(), nonce=nonce)

    def request_credential(
        self,
        access_token: str,
        configuration_id: str,
        proofs: list[str] | None,
        identifier: str | None = None,
    ) -> dict[str, Any]:
        """POST the credential endpoint (by ``credential_identifier`` when the token response
        gave one, §8.2); returns the credential response (or the deferred one: 202)."""
        request: dict[str, Any] = (
            {"credential_identifier": identifier}
            if identifier is not None
            else {"credential_configuration_id": configuration_id}
        )
        if proofs:
            request["proofs"] = {"jwt": proofs}
        response = self._send(
            "POST", self._path_of("credential_endpoint"), access_token=access_token, json=request
        )
        body = self._json(response)
        if response.status_code == 202:
            if not isinstance(body, dict) or not isinstance(body.get("transaction_id"), str):
                raise WalletError("bad_response", "deferred credential response")
            return body
        if not isinstance(body, dict) or not isinstance(body.get("credentials"), list):
            raise WalletError("bad_response", "credential response")
        return body

    def notify(self, access_token: str, notification_id: str, event: str) -> None:
        """Tell the issuer what became of a credential (best effort is the caller's choice)."""
        self._post(
            self._path_of("notification_endpoint"),
            access_token=access_token,
            json={"notification_id": notification_id, "event": event},
        )

    @staticmethod
    def _credentials_of(response: dict[str, Any]) -> list[str]:
        credentials = [c.get("credential") for c in response["credentials"] if isinstance(c, dict)]
        if not credentials or not all(isinstance(c, str) for c in credentials):
            raise WalletError("bad_response", "credentials")
        return [str(c) for c in credentials]

    def _fetch_all(
        self,
        access_token: str,
        configuration_ids: Iterable[str],
        identifiers: dict[str, str] | None = None,
    ) -> tuple[dict[str, list[str]], dict[str, tuple[str, int]]]:
        """Credentials by configuration, and the deferred ones: configuration ->
        (transaction_id, interval)."""
        supported = self.metadata().get("credential_configurations_supported", {})
        out: dict[str, list[str]] = {}
        deferred: dict[str, tuple[str, int]] = {}
        for configuration_id in configuration_ids:
            config = supported.get(configuration_id)
            if not isinstance(config, dict):
                raise WalletError("unknown_credential_configuration", configuration_id)
            proofs = [self.proof(self.nonce())] if "proof_types_supported" in config else None
            response = self.request_credential(
                access_token,
                configuration_id,
                proofs,
                identifier=(identifiers or {}).get(configuration_id),
            )
            if "transaction_id" in response:
                interval = response.get("interval")
                deferred[configuration_id] = (
                    str(response["transaction_id"]),
                    interval if isinstance(interval, int) else 0,
                )
                continue
            out[configuration_id] = self._credentials_of(response)
            notification_id = response.get("notification_id")
            if isinstance(notification_id, str):
                self.notify(access_token, notification_id, "credential_accepted")
        return out, deferred

    def _store_fetched(
        self, fetched: dict[str, list[str]], refresh_token: str
    ) -> list[StoredCredential]:
        """Group what one grant delivered into store entries (permit: SD-JWT VC + QR)."""
        now = self.now()
        sd_jwts: dict[str, str] = {}
        qr: str | None = None
        for configuration_id, credentials in fetched.items():
            kind = _kind_of(configuration_id)
            if kind == "parking-permit-qr":
                qr = credentials[0]
            else:
                sd_jwts[kind] = credentials[0]
        stored: list[StoredCredential] = []
        for kind, sd_jwt in sd_jwts.items():
            claims = unverified_claims(sd_jwt)
            stored.append(
                self.store.add(
                    kind=kind,
                    now=now,
                    sd_jwt=sd_jwt,
                    qr_text=qr if kind == "parking-permit" else None,
                    vct=claims.get("vct"),
                    issuer=claims.get("iss"),
                    expires_at=claims.get("exp"),
                    refresh_token=refresh_token,
                    issued_at=claims.get("iat"),
                )
            )
        return stored

    # ------------------------------------------------------------------ what users do

    def resolve_offer(self, uri: str) -> CredentialOffer:
        """An offer by value, or by reference: its https URL fetched once (§4.1.3)."""
        reference = offer_reference(uri)
        if reference is None:
            return parse_offer_uri(uri)
        if not reference.startswith(self.base_url + "/"):
            raise WalletError("issuer_mismatch", "the offer URI is not this issuer's")
        response = self._send("GET", reference[len(self.base_url) :])
        body = self._json(response)
        if not response.headers.get("content-type", "").startswith("application/json"):
            raise WalletError("bad_offer", "the offer is not application/json")
        return parse_offer_object(json.dumps(body))

    def redeem(self, offer: str | Path, tx_code: str | None) -> list[StoredCredential]:
        """Redeem an offer (URI or QR image): tokens, proofs, credentials, stored; deferred
        ones are kept in ``pending`` for ``collect``."""
        uri = read_offer_from_image(offer) if isinstance(offer, Path) else offer
        parsed = self.resolve_offer(uri)
        if parsed.credential_issuer != self.base_url:
            raise WalletError("issuer_mismatch", "the offer names another credential issuer")
        form = {
            "grant_type": PRE_AUTHORIZED_GRANT,
            "pre-authorized_code": parsed.pre_authorized_code,
            "authorization_details": json.dumps(
                [
                    {"type": "openid_credential", "credential_configuration_id": cid}
                    for cid in parsed.configuration_ids
                ]
            ),
        }
        if tx_code is not None:
            form["tx_code"] = tx_code
        tokens = self.token(form)
        refresh_token = str(tokens["refresh_token"])
        fetched, deferred = self._fetch_all(
            tokens["access_token"], parsed.configuration_ids, _identifiers(tokens)
        )
        for configuration_id, (transaction_id, interval) in deferred.items():
            self.pending.add(
                PendingCredential(
                    configuration_id=configuration_id,
                    kind=_kind_of(configuration_id),
                    requested_at=self.now(),
                    interval=interval,
                    transaction_id=transaction_id,
                    refresh_token=refresh_token,
                )
            )
        return self._store_fetched(fetched, refresh_token) if fetched else []

    def deferred_credential(self, access_token: str, transaction_id: str) -> list[str] | None:
        """The deferred credentials of a transaction, or None while still pending (§9)."""
        response = self._send(
            "POST",
            self._path_of("deferred_credential_endpoint"),
            access_token=access_token,
            json={"transaction_id": transaction_id},
        )
        body = self._json(response)
        if response.status_code == 202:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("credentials"), list):
            raise WalletError("bad_response", "deferred credential response")
        notification_id = body.get("notification_id")
        if isinstance(notification_id, str):
            self.notify(access_token, notification_id, "credential_accepted")
        return self._credentials_of(body)

    def collect(self) -> list[StoredCredential]:
        """Fetch what the issuer deferred, if it can be issued now; the rest stays pending."""
        stored: list[StoredCredential] = []
        by_grant: dict[str, list[PendingCredential]] = {}
        for entry in self.pending.entries():
            by_grant.setdefault(entry.refresh_token, []).append(entry)
        for refresh_token, entries in by_grant.items():
            tokens = self._refreshed_tokens(refresh_token)
            fetched: dict[str, list[str]] = {}
            done: set[str] = set()
            for entry in entries:
                credentials = self.deferred_credential(tokens["access_token"], entry.transaction_id)
                if credentials is not None:
                    fetched[entry.configuration_id] = credentials
                    done.add(entry.transaction_id)
            if fetched:
                stored += self._store_fetched(fetched, str(tokens["refresh_token"]))
            self.pending.save([e for e in self.pending.entries() if e.transaction_id not in done])
        return stored

    def _refreshed_tokens(self, refresh_token: str) -> dict[str, Any]:
        tokens = self.token({"grant_type": "refresh_token", "refresh_token": refresh_token})
        new_refresh = str(tokens["refresh_token"])
        for credential in self.store.list_credentials():
            if credential.refresh_token == refresh_token:
                self.store.replace(credential.id, refresh_token=new_refresh)
        self.pending.rotate_refresh_token(refresh_token, new_refresh)
        return tokens

    def needs_refresh(self, credential: StoredCredential, now: int | None = None) -> bool:
        """True in the credential's refresh window: its last ``REFRESH_WINDOW_SECONDS``, or
        the last ``1/REFRESH_SHARE`` of its lifetime (``iat`` to ``exp``) if that is shorter."""
        if credential.expires_at is None or credential.refresh_token is None:
            return False
        at = self.now() if now is None else now
        issued = credential.issued_at if credential.issued_at is not None else credential.added_at
        lifetime = max(credential.expires_at - issued, 0)
        window = min(REFRESH_WINDOW_SECONDS, lifetime // REFRESH_SHARE)
        return credential.expires_at - at <= window

    def refresh(self, *, force: bool = False) -> list[StoredCredential]:
        """Replace every credential due for refresh (or all, with ``force``) by fresh ones."""
        done: list[StoredCredential] = []
        for credential in self.store.list_credentials():
            if credential.refresh_token is None or not (force or self.needs_refresh(credential)):
                continue
            current = self.store.get(credential.id)  # the refresh token may have rotated
            assert current.refresh_token is not None
            tokens = self._refreshed_tokens(current.refresh_token)
            ids = [
                d["credential_configuration_id"]
                for d in tokens.get("authorization_details", [])
                if isinstance(d, dict) and isinstance(d.get("credential_configuration_id"), str)
            ]
            wanted = [i for i in ids if _kind_of(i).startswith(credential.kind)]
            fetched, _deferred = self._fetch_all(
                tokens["access_token"], wanted, _identifiers(tokens)
            )
            sd_jwt = next(
                (v[0] for k, v in fetched.items() if _kind_of(k) == credential.kind), None
            )
            if sd_jwt is None:
                raise WalletError("bad_response", "no credential of the kind came back")
            qr = next((v[0] for k, v in fetched.items() if _kind_of(k).endswith("-qr")), None)
            claims = unverified_claims(sd_jwt)
            done.append(
                self.store.replace(
                    credential.id,
                    sd_jwt=sd_jwt,
                    qr_text=qr if qr is not None else current.qr_text,
                    expires_at=claims.get("exp"),
                    refresh_token=str(tokens["refresh_token"]),
                    issued_at=claims.get("iat"),
                )
            )
        return done

    def devices(self, credential_id: str) -> list[dict[str, Any]]:
        """The holder's devices (uses the credential's refresh token for an access token)."""
        tokens = self._tokens_for(credential_id)
        body = self._get("/wallet/devices", access_token=tokens["access_token"])
        if not isinstance(body, list):
            raise WalletError("bad_response", "devices")
        return body

    def remove_device(self, credential_id: str, device_id: str) -> int:
        """Remove a (lost) device of the holder; returns how many credentials were revoked."""
        tokens = self._tokens_for(credential_id)
        body = self._json(
            self._send(
                "DELETE", f"/wallet/devices/{device_id}", access_token=tokens["access_token"]
            )
        )
        return int(body["revoked_credentials"])

    def _tokens_for(self, credential_id: str) -> dict[str, Any]:
        credential = self.store.get(credential_id)
        if credential.refresh_token is None:
            raise WalletError("no_refresh_token", "this credential cannot reach the server")
        return self._refreshed_tokens(credential.refresh_token)

    # ------------------------------------------------------------------ local things

    def permit_print(self, credential_id: str) -> WindscreenPermit:
        """What the windscreen permit shows, from the stored permit credential (the
        credential names zones by code only, so the wallet prints no zone names)."""
        credential = self.store.get(credential_id)
        if credential.qr_text is None or credential.sd_jwt is None:
            raise WalletError("not_a_permit", "no QR token stored")
        claims = unverified_claims(credential.sd_jwt)
        authority = str(claims.get("issuing_authority") or claims.get("iss"))
        try:
            return WindscreenPermit(
                qr_text=credential.qr_text,
                city=authority,
                zones=tuple(PrintedZone(str(code)) for code in claims.get("zones", [])),
                plates=tuple(str(p) for p in claims.get("plates", [])),
                valid_from=datetime.fromtimestamp(int(claims["valid_from"]), UTC),
                valid_until=datetime.fromtimestamp(int(claims["valid_until"]), UTC),
                permit_number=int(claims["permit_number"]),
                office=(authority,),
                permit_type=str(claims.get("permit_type", PermitType.BEW)),
                fleet=claims.get("fleet"),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise WalletError("not_a_permit", "the credential lacks a permit claim") from exc

    def qr_png(self, credential_id: str, *, scale: int = 8) -> bytes:
        """The permit QR as PNG."""
        return qr_png(self.permit_print(credential_id).qr_text, scale=scale)

    def qr_svg(self, credential_id: str) -> bytes:
        """The permit QR as SVG."""
        return qr_svg(self.permit_print(credential_id).qr_text)

    def pdf(self, credential_id: str, *, page: str = "A6") -> bytes:
        """The printable windscreen permit."""
        data, _layout = render_windscreen_pdf(self.permit_print(credential_id), page=page)
        return data

    def present(
        self, credential_id: str, disclose: Iterable[ClaimPath], *, aud: str, nonce: str
    ) -> str:
        """A presentation of a stored SD-JWT VC with a KB-JWT for a verifier's aud/nonce."""
        credential = self.store.get(credential_id)
        if credential.sd_jwt is None:
            raise WalletError("not_an_sd_jwt", "nothing to present")
        return build_presentation(
            credential.sd_jwt, disclose, device=self.device, aud=aud, nonce=nonce, iat=self.now()
        )

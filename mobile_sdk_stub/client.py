"""The wallet's HTTP client: redeems OpenID4VCI credential offers against ``wallet_api``.

``WalletClient(base_url, wallet_dir, transport=None)`` keeps its device key
(``device.py``) and credentials (``store.py``) in ``wallet_dir``; the httpx transport is
injectable, so the same client runs against uvicorn or in-process ASGI. It speaks only
HTTP to the server and imports no server code (DESIGN §2).

Flow (OpenID4VCI 1.0, pre-authorized code): offer URI (or a QR image of it) → issuer
metadata → token (pre-authorized_code + tx_code) → for each offered configuration: nonce,
key proof by the device key, credential request → notification ``credential_accepted``.
Refresh: the refresh_token grant, then fresh credentials (new status indices). A
credential is due in the last ``REFRESH_WINDOW_SECONDS`` of its life, or the last third
of it if that is shorter: a yearly permit renewed in its renewal window (up to six weeks
before it ends) reaches the phone about a month before the old one ends, and a credential
that came back unchanged is due again only in the last third of what is left, so a wallet
that checks daily refreshes a handful of times, not daily. The server keeps the refresh
token alive past the expiry of the credentials it serves, so this never runs into an
expired grant.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from mobile_sdk_stub.device import DeviceKey
from mobile_sdk_stub.presentation import build_presentation
from mobile_sdk_stub.render import WindscreenPermit, qr_png, qr_svg, windscreen_pdf
from mobile_sdk_stub.store import CredentialStore, StoredCredential
from verifier._sdjwt import ClaimPath

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
class CredentialOffer:
    """A parsed credential offer (§4.1.1)."""

    credential_issuer: str
    configuration_ids: tuple[str, ...]
    pre_authorized_code: str
    tx_code_length: int | None


def parse_offer_uri(uri: str) -> CredentialOffer:
    """``openid-credential-offer://?credential_offer=<JSON>``; by-reference offers are refused."""
    if len(uri) > MAX_OFFER_CHARS:
        raise WalletError("bad_offer", "offer too long")
    parts = urlsplit(uri.strip())
    if parts.scheme != OFFER_SCHEME:
        raise WalletError("bad_offer", "not an openid-credential-offer URI")
    query = parse_qs(parts.query)
    if "credential_offer" not in query or len(query["credential_offer"]) != 1:
        raise WalletError("bad_offer", "credential_offer by value is required")
    try:
        offer = json.loads(query["credential_offer"][0])
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
    from verifier._qr import ScanError, read_qr_texts

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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.wallet_dir = Path(wallet_dir)
        self.wallet_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.device = DeviceKey.load_or_create(self.wallet_dir)
        self.store = CredentialStore(self.wallet_dir)
        self._clock = clock
        self._http = httpx.Client(
            base_url=self.base_url, transport=transport, timeout=timeout_seconds
        )
        self._metadata: dict[str, Any] | None = None

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

    def _post(self, path: str, **kwargs: Any) -> Any:
        try:
            return self._json(self._http.post(path, **kwargs))
        except httpx.HTTPError as exc:
            raise WalletError("network_error", type(exc).__name__) from exc

    def _get(self, path: str, **kwargs: Any) -> Any:
        try:
            return self._json(self._http.get(path, **kwargs))
        except httpx.HTTPError as exc:
            raise WalletError("network_error", type(exc).__name__) from exc

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
        body = self._post(self._token_endpoint(), data=form)
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
        self, access_token: str, configuration_id: str, proofs: list[str] | None
    ) -> dict[str, Any]:
        """POST the credential endpoint; returns the credential response."""
        request: dict[str, Any] = {"credential_configuration_id": configuration_id}
        if proofs:
            request["proofs"] = {"jwt": proofs}
        body = self._post(
            self._path_of("credential_endpoint"),
            json=request,
            headers={"Authorization": f"Bearer {access_token}"},
        )
        if not isinstance(body, dict) or not isinstance(body.get("credentials"), list):
            raise WalletError("bad_response", "credential response")
        return body

    def notify(self, access_token: str, notification_id: str, event: str) -> None:
        """Tell the issuer what became of a credential (best effort is the caller's choice)."""
        self._post(
            self._path_of("notification_endpoint"),
            json={"notification_id": notification_id, "event": event},
            headers={"Authorization": f"Bearer {access_token}"},
        )

    def _fetch_all(
        self, access_token: str, configuration_ids: Iterable[str]
    ) -> dict[str, list[str]]:
        supported = self.metadata().get("credential_configurations_supported", {})
        out: dict[str, list[str]] = {}
        for configuration_id in configuration_ids:
            config = supported.get(configuration_id)
            if not isinstance(config, dict):
                raise WalletError("unknown_credential_configuration", configuration_id)
            proofs = [self.proof(self.nonce())] if "proof_types_supported" in config else None
            response = self.request_credential(access_token, configuration_id, proofs)
            credentials = [
                c.get("credential") for c in response["credentials"] if isinstance(c, dict)
            ]
            if not credentials or not all(isinstance(c, str) for c in credentials):
                raise WalletError("bad_response", "credentials")
            out[configuration_id] = [str(c) for c in credentials]
            notification_id = response.get("notification_id")
            if isinstance(notification_id, str):
                self.notify(access_token, notification_id, "credential_accepted")
        return out

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

    def redeem(self, offer: str | Path, tx_code: str | None) -> list[StoredCredential]:
        """Redeem an offer (URI or QR image): tokens, proofs, credentials, stored."""
        uri = read_offer_from_image(offer) if isinstance(offer, Path) else offer
        parsed = parse_offer_uri(uri)
        if parsed.credential_issuer != self.base_url:
            raise WalletError("issuer_mismatch", "the offer names another credential issuer")
        form = {
            "grant_type": PRE_AUTHORIZED_GRANT,
            "pre-authorized_code": parsed.pre_authorized_code,
        }
        if tx_code is not None:
            form["tx_code"] = tx_code
        tokens = self.token(form)
        fetched = self._fetch_all(tokens["access_token"], parsed.configuration_ids)
        return self._store_fetched(fetched, str(tokens["refresh_token"]))

    def _refreshed_tokens(self, refresh_token: str) -> dict[str, Any]:
        tokens = self.token({"grant_type": "refresh_token", "refresh_token": refresh_token})
        new_refresh = str(tokens["refresh_token"])
        for credential in self.store.list_credentials():
            if credential.refresh_token == refresh_token:
                self.store.replace(credential.id, refresh_token=new_refresh)
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
            fetched = self._fetch_all(tokens["access_token"], wanted)
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
        body = self._get(
            "/wallet/devices", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        if not isinstance(body, list):
            raise WalletError("bad_response", "devices")
        return body

    def remove_device(self, credential_id: str, device_id: str) -> int:
        """Remove a (lost) device of the holder; returns how many credentials were revoked."""
        tokens = self._tokens_for(credential_id)
        try:
            response = self._http.delete(
                f"/wallet/devices/{device_id}",
                headers={"Authorization": f"Bearer {tokens['access_token']}"},
            )
        except httpx.HTTPError as exc:
            raise WalletError("network_error", type(exc).__name__) from exc
        body = self._json(response)
        return int(body["revoked_credentials"])

    def _tokens_for(self, credential_id: str) -> dict[str, Any]:
        credential = self.store.get(credential_id)
        if credential.refresh_token is None:
            raise WalletError("no_refresh_token", "this credential cannot reach the server")
        return self._refreshed_tokens(credential.refresh_token)

    # ------------------------------------------------------------------ local things

    def permit_print(self, credential_id: str) -> WindscreenPermit:
        """What the windscreen permit shows, from the stored permit credential."""
        credential = self.store.get(credential_id)
        if credential.qr_text is None or credential.sd_jwt is None:
            raise WalletError("not_a_permit", "no QR token stored")
        claims = unverified_claims(credential.sd_jwt)
        until = datetime.fromtimestamp(int(claims["valid_until"]) - 1, UTC).date()
        return WindscreenPermit(
            qr_text=credential.qr_text,
            issuer_name=str(claims.get("issuing_authority") or claims.get("iss")),
            zones=tuple(claims.get("zones", [])),
            plates=tuple(claims.get("plates", [])),
            valid_until=until,
            permit_number=int(claims["permit_number"]),
            permit_type=str(claims.get("permit_type", "BEW")),
            fleet=claims.get("fleet"),
        )

    def qr_png(self, credential_id: str, *, scale: int = 8) -> bytes:
        """The permit QR as PNG."""
        return qr_png(self.permit_print(credential_id).qr_text, scale=scale)

    def qr_svg(self, credential_id: str) -> bytes:
        """The permit QR as SVG."""
        return qr_svg(self.permit_print(credential_id).qr_text)

    def pdf(self, credential_id: str, *, page: str = "A6") -> bytes:
        """The printable windscreen permit."""
        data, _layout = windscreen_pdf(self.permit_print(credential_id), page=page)
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

"""The wallet's side of OpenID4VP 1.0: answer a relying party's request (QR or link).

1. ``resolve``: parse ``openid4vp://?client_id=…&request_uri=…``, fetch the request object
   (once), check it: ``typ oauth-authz-req+jwt``, ES256, an ``x5c`` chain valid up to a
   relying-party root the wallet trusts, the client identifier bound to that certificate
   (``x509_hash``: SHA-256 of the end-entity DER; ``x509_san_dns``: one of its DNS names,
   the host of the ``response_uri``), the same ``client_id`` as the link;
2. ``choose``: for each credential query of the DCQL query, a stored credential whose
   ``vct`` is asked for and that holds the claims (the first option of a credential set
   the wallet can answer);
3. ``respond``: a presentation per chosen credential, with exactly the requested claims (a
   path to an object or an array asks for all of it, DCQL claims path pointers) and
   a KB-JWT (``aud`` = client_id, ``nonce`` = the request's), put into ``vp_token``
   (an array per query id), encrypted for ``direct_post.jwt`` (ECDH-ES to the request's
   ``client_metadata.jwks``, A128GCM unless only A256GCM is offered), posted to
   ``response_uri``; the ``redirect_uri`` of the answer is returned (same device).

Refusals are ``WalletError`` with a code: ``bad_request_object``, ``untrusted_verifier``,
``no_matching_credential``, ``response_refused``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mobile_sdk_stub.device import DeviceKey
from mobile_sdk_stub.presentation import build_presentation
from mobile_sdk_stub.store import CredentialStore, StoredCredential
from verifier import VerifierError
from verifier.formats import decode_jws, jwe_encrypt, key_from_jwk, peek_jws_header, validate_x5c
from verifier.sdjwt import disclosable_paths

SCHEMES = ("openid4vp", "haip-vp", "eudi-openid4vp")
REQUEST_TYP = "oauth-authz-req+jwt"
MAX_LINK_CHARS = 4096
MAX_REQUEST_BYTES = 64 * 1024


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class PresentationRefused(Exception):
    """The wallet will not answer (or the verifier refused the answer); ``code`` says why."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


@dataclass(frozen=True, slots=True)
class Request:
    """A verified request object."""

    client_id: str
    claims: dict[str, Any]
    client_name: str | None

    @property
    def dcql(self) -> dict[str, Any]:
        """The DCQL query."""
        query = self.claims.get("dcql_query")
        if not isinstance(query, dict):
            raise PresentationRefused("bad_request_object", "no dcql_query")
        return query


def _x509_hash(certificate: x509.Certificate) -> str:
    der = certificate.public_bytes(serialization.Encoding.DER)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def _secure(url: str) -> bool:
    """https, or http to this machine (a development server of ``make run``)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and parts.hostname in LOOPBACK


def parse_link(link: str) -> tuple[str, str]:
    """``(client_id, request_uri)`` of an OpenID4VP link."""
    if len(link) > MAX_LINK_CHARS:
        raise PresentationRefused("bad_request_object", "link too long")
    parts = urlsplit(link)
    if parts.scheme not in SCHEMES:
        raise PresentationRefused("bad_request_object", "not an OpenID4VP link")
    query = parse_qs(parts.query)
    client_id, request_uri = query.get("client_id"), query.get("request_uri")
    if not client_id or not request_uri or len(client_id) != 1 or len(request_uri) != 1:
        raise PresentationRefused("bad_request_object", "client_id and request_uri needed")
    return client_id[0], request_uri[0]


class Presenter:
    """Answers OpenID4VP requests with the credentials of one wallet."""

    def __init__(
        self,
        device: DeviceKey,
        store: CredentialStore,
        *,
        verifier_roots: Sequence[x509.Certificate],
        clock: Callable[[], int],
        verify: ssl.SSLContext | bool = True,
        transport: httpx.BaseTransport | None = None,
        timeout_seconds: float = 30.0,
    ) -> None:
        self.device = device
        self.store = store
        self.roots = tuple(verifier_roots)
        self.now = clock
        self._http = httpx.Client(verify=verify, transport=transport, timeout=timeout_seconds)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def resolve(self, link: str) -> Request:
        """Fetch and check the request object of `link` (step 1 of the module docstring)."""
        client_id, request_uri = parse_link(link)
        if not _secure(request_uri):
            raise PresentationRefused("bad_request_object", "request_uri must be https")
        answer = self._http.get(request_uri)
        if answer.status_code != 200 or len(answer.content) > MAX_REQUEST_BYTES:
            raise PresentationRefused("bad_request_object", f"HTTP {answer.status_code}")
        token = answer.text.strip()
        try:
            header = peek_jws_header(token)
        except VerifierError as exc:
            raise PresentationRefused("bad_request_object", "not a JWS") from exc
        if header.get("typ") != REQUEST_TYP or header.get("alg") != "ES256":
            raise PresentationRefused("bad_request_object", "typ or alg")
        try:
            chain = validate_x5c(header.get("x5c"), self.roots, self.now())
            _, payload = decode_jws(token, chain.public_key, algorithms=("ES256",))
            claims = json.loads(payload)
        except VerifierError as exc:
            raise PresentationRefused("untrusted_verifier", str(exc.reason)) from exc
        except ValueError as exc:
            raise PresentationRefused("bad_request_object", "payload") from exc
        if not isinstance(claims, dict) or claims.get("client_id") != client_id:
            raise PresentationRefused("bad_request_object", "client_id differs from the link")
        prefix, _, value = client_id.partition(":")
        response_uri = str(claims.get("response_uri", ""))
        if prefix == "x509_hash":
            if value != _x509_hash(chain.leaf):
                raise PresentationRefused("untrusted_verifier", "x509_hash")
        elif prefix == "x509_san_dns":
            names = chain.leaf.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value.get_values_for_type(x509.DNSName)
            if value not in names or urlsplit(response_uri).hostname != value:
                raise PresentationRefused("untrusted_verifier", "x509_san_dns")
        else:
            raise PresentationRefused("untrusted_verifier", "unsupported client id prefix")
        if claims.get("response_type") != "vp_token" or not _secure(response_uri):
            raise PresentationRefused("bad_request_object", "response_type or response_uri")
        exp = claims.get("exp")
        if isinstance(exp, int) and self.now() >= exp:
            raise PresentationRefused("bad_request_object", "expired")
        metadata = claims.get("client_metadata")
        name = metadata.get("client_name") if isinstance(metadata, dict) else None
        return Request(client_id=client_id, claims=claims, client_name=name)

    def choose(self, request: Request) -> dict[str, tuple[StoredCredential, list[tuple[Any, ...]]]]:
        """A credential and the claim paths to disclose, per credential query id."""
        query = request.dcql
        candidates: dict[str, tuple[StoredCredential, list[tuple[Any, ...]]]] = {}
        for cq in query.get("credentials", []):
            vcts = cq.get("meta", {}).get("vct_values", [])
            paths = [tuple(c["path"]) for c in cq.get("claims", [])]
            for stored in self.store.list_credentials():
                if stored.sd_jwt is None or stored.vct not in vcts:
                    continue
                if stored.expires_at is not None and self.now() >= stored.expires_at:
                    continue
                needed = list(paths)
                if _has_claims(stored.sd_jwt, needed, cq):
                    # plain claims are always visible; only disclosable ones are chosen
                    available = set(disclosable_paths(stored.sd_jwt))
                    candidates[cq["id"]] = (stored, [p for p in needed if p in available])
                    break
        sets = query.get("credential_sets")
        if not sets:
            if set(candidates) != {c["id"] for c in query.get("credentials", [])}:
                raise PresentationRefused("no_matching_credential", "a credential is missing")
            return candidates
        chosen: dict[str, tuple[StoredCredential, list[tuple[Any, ...]]]] = {}
        for cset in sets:
            for option in cset.get("options", []):
                if all(o in candidates for o in option):
                    chosen.update({o: candidates[o] for o in option})
                    break
            else:
                if cset.get("required", True):
                    raise PresentationRefused("no_matching_credential", "no option answered")
        return chosen

    def respond(
        self,
        request: Request,
        *,
        chosen: dict[str, tuple[StoredCredential, list[tuple[Any, ...]]]] | None = None,
        tamper: Callable[[dict[str, Any]], None] | None = None,
        nonce: str | None = None,
        aud: str | None = None,
    ) -> str | None:
        """Present and post (step 3); the ``redirect_uri`` of the answer, if any.
        `tamper`, `nonce` and `aud` let tests send what an attacker would."""
        claims = request.claims
        selection = self.choose(request) if chosen is None else chosen
        vp_token: dict[str, list[str]] = {}
        for cid, (stored, paths) in selection.items():
            assert stored.sd_jwt is not None
            vp_token[cid] = [
                build_presentation(
                    stored.sd_jwt,
                    paths,
                    device=self.device,
                    aud=aud or request.client_id,
                    nonce=nonce or str(claims["nonce"]),
                    iat=self.now(),
                    # a path to an object or array asks for its whole value, with every
                    # claim inside disclosed: a bare object would reach the verifier empty
                    include_subtree=True,
                )
            ]
        payload: dict[str, Any] = {"vp_token": vp_token}
        if "state" in claims:
            payload["state"] = claims["state"]
        if tamper is not None:
            tamper(payload)
        return self.post(request, payload)

    def post(self, request: Request, payload: dict[str, Any]) -> str | None:
        """Send a response payload as the request's response mode asks."""
        claims = request.claims
        mode = claims.get("response_mode")
        if mode == "direct_post.jwt":
            form = {"response": self.encrypt(request, payload)}
        elif mode == "direct_post":
            form = {k: json.dumps(v) if isinstance(v, dict) else str(v) for k, v in payload.items()}
        else:
            raise PresentationRefused("bad_request_object", "unsupported response_mode")
        answer = self._http.post(str(claims["response_uri"]), data=form)
        if answer.status_code != 200:
            code = "response_refused"
            try:
                code = str(answer.json().get("error", code))
            except ValueError:
                pass
            raise PresentationRefused(code, f"HTTP {answer.status_code}")
        body = answer.json()
        redirect = body.get("redirect_uri") if isinstance(body, dict) else None
        return redirect if isinstance(redirect, str) else None

    @staticmethod
    def encrypt(request: Request, payload: dict[str, Any]) -> str:
        """The JWE of a response (ECDH-ES to the request's encryption key)."""
        metadata = request.claims.get("client_metadata") or {}
        keys = (metadata.get("jwks") or {}).get("keys") or []
        jwk = next((k for k in keys if k.get("use", "enc") == "enc"), None)
        if jwk is None:
            raise PresentationRefused("bad_request_object", "no encryption key")
        key = key_from_jwk({k: jwk[k] for k in ("kty", "crv", "x", "y") if k in jwk})
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise PresentationRefused("bad_request_object", "the encryption key is not P-256")
        encs = metadata.get("encrypted_response_enc_values_supported") or ["A128GCM"]
        enc = "A128GCM" if "A128GCM" in encs else "A256GCM"
        plaintext = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        return jwe_encrypt(plaintext, key, enc=enc, kid=jwk.get("kid"))


def _has_claims(sd_jwt: str, paths: list[tuple[Any, ...]], query: dict[str, Any]) -> bool:
    """Whether the credential holds `paths` (or one claim set); narrows `paths` to the set."""
    from mobile_sdk_stub.client import unverified_claims

    plain = unverified_claims(sd_jwt)
    disclosable = set(disclosable_paths(sd_jwt))

    def present(path: tuple[Any, ...]) -> bool:
        if path in disclosable:
            return True
        node: Any = plain
        for part in path:
            if isinstance(node, dict) and isinstance(part, str) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                return False
        return True

    sets = query.get("claim_sets")
    if not sets:
        return all(present(p) for p in paths)
    by_id = {c.get("id"): tuple(c["path"]) for c in query.get("claims", [])}
    for option in sets:
        if all(present(by_id[i]) for i in option):
            paths[:] = [by_id[i] for i in option]
            return True
    return False

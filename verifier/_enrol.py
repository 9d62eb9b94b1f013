"""The handheld's enrolment for plate checks, and the service sync it unlocks.

The plate index is personal data, served only to enforcement devices. A handheld gets
access without any shared secret stored on it:

1. The operator issues a one-time enrolment code for an enforcement client (which may cover
   several municipalities) and hands it to the officer's IT team.
2. ``buergerid-verify enrol URL`` generates a P-256 key on the device (``device-key.pem``,
   0600, never leaves the data directory) and redeems the code with a JWS signed by that key
   (its public JWK in the header: proof of possession, as in ACME). The server binds the
   key to a new device id; the code is spent.
3. Every ``sync`` authenticates with RFC 7523 ``private_key_jwt``: a client assertion JWT
   (``iss`` = ``sub`` = the device id, ``aud`` = the token endpoint, 60 s lifetime, a fresh
   ``jti`` the server remembers until it expires) buys a 5-minute access token held only in
   memory; the token fetches the trust bundle's companions, the plate indexes of every
   municipality the client covers.

``enrolment.json`` holds only public facts (service URLs, device id, the key's thumbprint):
copied to another device without ``device-key.pem`` it is useless. The operator withdraws a
device at the server; its next sync is refused (``device_refused``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from verifier._errors import VerifierError
from verifier._http import FetchError, http_request, read_regular_file
from verifier._jws import encode_jws
from verifier._keys import jws_kid, key_to_jwk, software_signer

ENROL_PATH = "/api/v1/enforcement/enrol"
ENROL_TYP = "buergerid-enrol+jwt"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_SECONDS = 60
MAX_ANSWER_BYTES = 64 * 1024
KEY_FILE = "device-key.pem"
ENROLMENT_FILE = "enrolment.json"
MAX_KEY_FILE_BYTES = 16 * 1024


class EnrolmentError(Exception):
    """Enrolment or device authentication failed; ``code`` is stable.

    ``not_enrolled`` (no enrolment on this device), ``key_missing`` (enrolment.json without
    its key: a copied file), ``code_refused`` (unknown, used or expired enrolment code),
    ``device_refused`` (the server refused this device: withdrawn, or a foreign key),
    ``bad_answer`` (the server's answer is not what the protocol says).
    """

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What ``enrolment.json`` holds: public facts only."""

    service: str
    device_id: str
    token_endpoint: str
    trust_bundle_url: str
    plate_index_url: str
    """With ``{ags}`` where the municipality goes."""
    key_thumbprint: str
    municipalities: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "service": self.service,
            "device_id": self.device_id,
            "token_endpoint": self.token_endpoint,
            "trust_bundle_url": self.trust_bundle_url,
            "plate_index_url": self.plate_index_url,
            "key_thumbprint": self.key_thumbprint,
            "municipalities": list(self.municipalities),
        }


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def service_base(url: str) -> str:
    """The service's base URL as the officer typed it (trailing slash dropped)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise FetchError("bad_url")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _json_answer(status: int, body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise EnrolmentError("bad_answer", f"HTTP {status}, not JSON") from exc
    if not isinstance(doc, dict):
        raise EnrolmentError("bad_answer", "not a JSON object")
    return doc


def _text(doc: Mapping[str, Any], name: str, max_chars: int = 500) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= max_chars:
        raise EnrolmentError("bad_answer", f"{name} missing")
    return value


def _municipalities(doc: Mapping[str, Any]) -> tuple[str, ...]:
    value = doc.get("municipalities")
    if not isinstance(value, list) or len(value) > 1000:
        raise EnrolmentError("bad_answer", "municipalities missing")
    out = []
    for ags in value:
        if not isinstance(ags, str) or len(ags) != 8 or not ags.isdigit():
            raise EnrolmentError("bad_answer", "a municipality is not an AGS")
        out.append(ags)
    return tuple(out)


def _write_private(path: Path, data: bytes) -> None:
    from verifier._store import _atomic_write  # 0600 file, 0700 folders, all or nothing

    _atomic_write(path, data)


class DeviceIdentity:
    """The device key and enrolment in a data directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.key_path = root / KEY_FILE
        self.enrolment_path = root / ENROLMENT_FILE

    @property
    def is_enrolled(self) -> bool:
        """True when ``enrolment.json`` exists (whether or not its key is there)."""
        return self.enrolment_path.is_file()

    def read_enrolment(self) -> Enrolment:
        """The stored enrolment; ``EnrolmentError("not_enrolled")`` when there is none."""
        try:
            doc = _json_answer(200, read_regular_file(self.enrolment_path, MAX_ANSWER_BYTES))
        except FileNotFoundError:
            raise EnrolmentError("not_enrolled") from None
        except (EnrolmentError, VerifierError) as exc:
            raise EnrolmentError("not_enrolled", "enrolment.json unreadable") from exc
        return Enrolment(
            service=_text(doc, "service"),
            device_id=_text(doc, "device_id", 64),
            token_endpoint=_text(doc, "token_endpoint"),
            trust_bundle_url=_text(doc, "trust_bundle_url"),
            plate_index_url=_text(doc, "plate_index_url"),
            key_thumbprint=_text(doc, "key_thumbprint", 64),
            municipalities=_municipalities(doc),
        )

    def read_key(self, enrolment: Enrolment) -> ec.EllipticCurvePrivateKey:
        """The device key of this enrolment; ``key_missing`` when absent or another key."""
        try:
            pem = read_regular_file(self.key_path, MAX_KEY_FILE_BYTES)
            key = serialization.load_pem_private_key(pem, password=None)
        except (OSError, ValueError, TypeError, VerifierError) as exc:
            raise EnrolmentError("key_missing") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise EnrolmentError("key_missing")
        if jws_kid(key.public_key()) != enrolment.key_thumbprint:
            raise EnrolmentError("key_missing", "the key is not the enrolled one")
        return key

    # enrolment -------------------------------------------------------------

    def enrol(
        self,
        url: str,
        code: str,
        *,
        now: int,
        timeout_seconds: float = 30.0,
        label: str | None = None,
        transport: Any = None,
    ) -> Enrolment:
        """Generate the device key, redeem the one-time ``code`` at the service, store both.

        Nothing is stored unless the server accepted the code.
        """
        base = service_base(url)
        key = ec.generate_private_key(ec.SECP256R1())
        public = key.public_key()
        enrol_url = base + ENROL_PATH
        claims = {
            "code": code.strip(),
            "aud": enrol_url,
            "iat": now,
            "jti": secrets.token_urlsafe(16),
        }
        if label:
            claims["label"] = label[:200]
        request = encode_jws(
            {"alg": "ES256", "typ": ENROL_TYP, "jwk": key_to_jwk(public)},
            json.dumps(claims, separators=(",", ":")).encode("utf-8"),
            software_signer(key),
        )
        answer = http_request(
            "POST",
            enrol_url,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            content=json.dumps({"enrolment_request": request}).encode("utf-8"),
            timeout_seconds=timeout_seconds,
            max_bytes=MAX_ANSWER_BYTES,
            transport=transport,
        )
        if answer.status in (400, 401, 403, 404, 409, 422):
            raise EnrolmentError("code_refused", f"HTTP {answer.status}")
        if answer.status != 201:
            raise FetchError("http_status", str(answer.status), status=answer.status)
        doc = _json_answer(answer.status, answer.body)
        enrolment = Enrolment(
            service=base,
            device_id=_text(doc, "device_id", 64),
            token_endpoint=_text(doc, "token_endpoint"),
            trust_bundle_url=_text(doc, "trust_bundle_url"),
            plate_index_url=_text(doc, "plate_index_url"),
            key_thumbprint=jws_kid(public),
            municipalities=_municipalities(doc),
        )
        for link in (
            enrolment.token_endpoint,
            enrolment.trust_bundle_url,
            enrolment.plate_index_url.replace("{ags}", "00000000"),
        ):
            if _origin(link) != _origin(base):  # never sent elsewhere than the service
                raise EnrolmentError("bad_answer", "a link outside the service")
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(self.key_path, pem)
        _write_private(
            self.enrolment_path, json.dumps(enrolment.to_json(), indent=1).encode("utf-8")
        )
        return enrolment

    # device authentication -------------------------------------------------

    def client_assertion(
        self, enrolment: Enrolment, key: ec.EllipticCurvePrivateKey, now: int
    ) -> str:
        """An RFC 7523 client assertion for the token endpoint, valid 60 s, single use."""
        claims = {
            "iss": enrolment.device_id,
            "sub": enrolment.device_id,
            "aud": enrolment.token_endpoint,
            "iat": now,
            "exp": now + ASSERTION_SECONDS,
            "jti": secrets.token_urlsafe(16),
        }
        return encode_jws(
            {"alg": "ES256", "typ": "JWT", "kid": enrolment.key_thumbprint},
            json.dumps(claims, separators=(",", ":")).encode("utf-8"),
            software_signer(key),
        )

    def access_token(
        self,
        *,
        now: int,
        timeout_seconds: float = 30.0,
        transport: Any = None,
    ) -> tuple[str, Enrolment]:
        """A short-lived access token (memory only) and the enrolment with the current
        list of municipalities the device may fetch plate indexes for."""
        enrolment = self.read_enrolment()
        key = self.read_key(enrolment)
        form = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": enrolment.device_id,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.client_assertion(enrolment, key, now),
            }
        ).encode("ascii")
        answer = http_request(
            "POST",
            enrolment.token_endpoint,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            content=form,
            timeout_seconds=timeout_seconds,
            max_bytes=MAX_ANSWER_BYTES,
            transport=transport,
        )
        if answer.status in (400, 401, 403):
            raise EnrolmentError("device_refused", f"HTTP {answer.status}")
        if answer.status != 200:
            raise FetchError("http_status", str(answer.status), status=answer.status)
        doc = _json_answer(answer.status, answer.body)
        token = _text(doc, "access_token", 200)
        if doc.get("token_type", "").lower() != "bearer":
            raise EnrolmentError("bad_answer", "token_type is not Bearer")
        current = Enrolment(**{**_fields(enrolment), "municipalities": _municipalities(doc)})
        return token, current


def _fields(enrolment: Enrolment) -> dict[str, Any]:
    return {name: getattr(enrolment, name) for name in Enrolment.__slots__}


def plate_index_urls(enrolment: Enrolment) -> Sequence[tuple[str, str]]:
    """(municipality, URL) of every plate index the device may fetch."""
    return [
        (ags, enrolment.plate_index_url.replace("{ags}", ags)) for ags in enrolment.municipalities
    ]

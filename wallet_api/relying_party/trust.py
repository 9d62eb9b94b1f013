"""The PID providers this deployment accepts: a trust list the operator configures.

``rp_pid_trust_list`` names a JSON file (at most 64 KiB)::

    {"providers": [{
        "name": "PID-Anbieter des Bundes",
        "vcts": ["urn:eudi:pid:de:1"],
        "issuers": ["https://pid.example.de"],   # optional: accepted `iss` values
        "roots_pem": "pid-roots.pem",            # root certificates (path relative to the
                                                 # trust list) the credential's x5c chains to
        "jwks": {"keys": [...]},                 # or: pinned public keys, by kid
        "status": "required"                     # "required" | "when_present" | "ignore"
    }]}

A credential is accepted from a provider when its ``vct`` is one of the provider's, its
``iss`` is one of ``issuers`` (when given) and its signature verifies with a key the
provider vouches for: an ``x5c`` chain valid up to one of ``roots_pem`` whose end-entity
certificate names the ``iss`` (as a URI, or its host as a DNS name), or a pinned key with
the header's ``kid``. ``status`` is the status-list policy: ``required`` refuses a PID
without a status reference and fetches the list (bounded, timed); ``when_present`` fetches
it when the PID has one; ``ignore`` never fetches (the provider's own assurance then
covers revocation). A file that does not parse stops the service at start.

A fetched status list that verified is kept (``ProviderStatusLists``, one per trust list,
so it lives as long as the app) for the ``ttl`` its token states, never beyond its ``exp``
and never longer than ``MAX_KEEP_SECONDS``; a token without ``ttl`` is not kept, and every
PID presentation under it fetches the list again.

The development PID provider (``rp_dev_pid_provider``, refused in production) is one
provider made from ``<data_dir>/dev-pid-provider/ca.pem``, status ``when_present``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from verifier import VerifierError
from verifier.formats import PublicKey, StatusListToken, decode_public_jwk

MAX_TRUST_LIST_BYTES = 64 * 1024
MAX_PROVIDERS = 32
STATUS_POLICIES = ("required", "when_present", "ignore")
PID_VCTS = ("urn:eudi:pid:1", "urn:eudi:pid:de:1")
DEV_PROVIDER_NAME = "Entwicklungs-PID-Anbieter (nur Entwicklung)"


@dataclass(frozen=True, slots=True)
class PidProvider:
    """One trusted PID provider."""

    name: str
    vcts: tuple[str, ...]
    issuers: tuple[str, ...]  # empty: whatever iss the certificate names
    roots: tuple[x509.Certificate, ...]
    keys: dict[str, PublicKey]
    status: str

    def accepts(self, vct: str, iss: str) -> bool:
        """Whether a credential of `vct` from `iss` may come from this provider."""
        return vct in self.vcts and (not self.issuers or iss in self.issuers)


MAX_KEEP_SECONDS = 300  # a PID revoked shows at the latest this long after its list changed
MAX_KEPT_LISTS = 256  # lists kept at once; the one closest to going stale makes room


class ProviderStatusLists:
    """Verified status lists of PID providers, by (provider, uri), each until it goes stale
    (see the module docstring). Thread-safe; bounded to ``MAX_KEPT_LISTS`` lists."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lists: dict[tuple[str, str], tuple[StatusListToken, int]] = {}

    def get(self, provider: str, uri: str, now: int) -> StatusListToken | None:
        """The list kept for `uri` from `provider`, while it is fresh at `now`."""
        with self._lock:
            kept = self._lists.get((provider, uri))
            if kept is None:
                return None
            if now >= kept[1]:
                del self._lists[(provider, uri)]
                return None
            return kept[0]

    def keep(self, provider: str, uri: str, token: StatusListToken, now: int) -> None:
        """Keep a list that verified at `now`, for its ``ttl`` (none: not kept)."""
        if token.ttl is None or token.ttl <= 0:
            return
        until = now + min(token.ttl, MAX_KEEP_SECONDS)
        if token.exp is not None:
            until = min(until, token.exp)
        if until <= now:
            return
        with self._lock:
            if (provider, uri) not in self._lists and len(self._lists) >= MAX_KEPT_LISTS:
                stalest = min(self._lists, key=lambda k: self._lists[k][1])
                del self._lists[stalest]
            self._lists[(provider, uri)] = (token, until)


@dataclass(frozen=True, slots=True)
class TrustList:
    """Every trusted PID provider, and the status lists fetched under their policies."""

    providers: tuple[PidProvider, ...] = ()
    status_lists: ProviderStatusLists = field(
        default_factory=ProviderStatusLists, compare=False, repr=False
    )

    def for_credential(self, vct: str, iss: str) -> tuple[PidProvider, ...]:
        """The providers a credential of `vct` from `iss` may come from."""
        return tuple(p for p in self.providers if p.accepts(vct, iss))


def _strings(value: Any, name: str, *, required: bool) -> tuple[str, ...]:
    if value is None and not required:
        return ()
    if not isinstance(value, list) or not value or len(value) > 16:
        raise ValueError(f"trust list: {name} must be a non-empty list")
    if not all(isinstance(v, str) and 0 < len(v) <= 500 for v in value):
        raise ValueError(f"trust list: {name} must hold strings")
    return tuple(value)


def _roots(path: Path) -> tuple[x509.Certificate, ...]:
    raw = path.read_bytes()
    if len(raw) > MAX_TRUST_LIST_BYTES:
        raise ValueError("trust list: roots file too large")
    roots = tuple(x509.load_pem_x509_certificates(raw))
    if not roots:
        raise ValueError("trust list: no root certificate")
    return roots


def _keys(jwks: Any) -> dict[str, PublicKey]:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError("trust list: jwks must be {'keys': [...]}")
    out: dict[str, PublicKey] = {}
    for jwk in jwks["keys"][:32]:
        if not isinstance(jwk, dict):
            raise ValueError("trust list: a key is not an object")
        try:
            decoded = decode_public_jwk({k: v for k, v in jwk.items() if k != "kid"})
        except VerifierError as exc:
            raise ValueError("trust list: a key does not decode") from exc
        kid = jwk.get("kid")
        out[kid if isinstance(kid, str) and kid else decoded.kid] = decoded.key
    return out


def _provider(entry: Any, base: Path) -> PidProvider:
    if not isinstance(entry, dict):
        raise ValueError("trust list: a provider is not an object")
    name = entry.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= 200:
        raise ValueError("trust list: name is required")
    status = entry.get("status", "required")
    if status not in STATUS_POLICIES:
        raise ValueError("trust list: status must be required, when_present or ignore")
    roots = _roots(base / str(entry["roots_pem"])) if "roots_pem" in entry else ()
    keys = _keys(entry["jwks"]) if "jwks" in entry else {}
    if not roots and not keys:
        raise ValueError("trust list: a provider needs roots_pem or jwks")
    return PidProvider(
        name=name,
        vcts=_strings(entry.get("vcts"), "vcts", required=True),
        issuers=_strings(entry.get("issuers"), "issuers", required=False),
        roots=roots,
        keys=keys,
        status=status,
    )


def load_trust_list(path: Path | None, *, dev_provider_dir: Path | None = None) -> TrustList:
    """The configured trust list (empty without a file), plus the development provider."""
    providers: list[PidProvider] = []
    if path is not None:
        raw = Path(path).read_bytes()
        if len(raw) > MAX_TRUST_LIST_BYTES:
            raise ValueError("trust list: file too large")
        doc = json.loads(raw.decode("utf-8"))
        entries = doc.get("providers") if isinstance(doc, dict) else None
        if not isinstance(entries, list) or len(entries) > MAX_PROVIDERS:
            raise ValueError("trust list: providers must be a list of at most 32")
        providers.extend(_provider(e, Path(path).parent) for e in entries)
    if dev_provider_dir is not None and (dev_provider_dir / "ca.pem").is_file():
        providers.append(
            PidProvider(
                name=DEV_PROVIDER_NAME,
                vcts=PID_VCTS,
                issuers=(),
                roots=_roots(dev_provider_dir / "ca.pem"),
                keys={},
                status="when_present",
            )
        )
    return TrustList(tuple(providers))

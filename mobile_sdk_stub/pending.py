"""Credential requests the issuer deferred (OpenID4VCI 1.0 §9): a permit still awaiting
payment. One JSON file in the wallet directory (`pending.json`, mode 0600, written like the
credential store); each entry keeps the transaction_id, the configuration it is for and the
refresh token that gets a fresh access token when the wallet comes back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from mobile_sdk_stub.store import StoreError, write_private_file

PENDING_FILE = "pending.json"
MAX_PENDING_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class PendingCredential:
    """A deferred request; secrets stay out of `repr`."""

    configuration_id: str
    kind: str
    requested_at: int
    interval: int
    transaction_id: str = field(repr=False)
    refresh_token: str = field(repr=False)

    @classmethod
    def from_json(cls, data: Any) -> PendingCredential:
        """An entry of the file; `StoreError("corrupt_store")` if it is malformed."""
        if not isinstance(data, dict) or set(data) != set(cls.__dataclass_fields__):
            raise StoreError("corrupt_store", "pending entry")
        entry = cls(**data)
        if not all(
            isinstance(getattr(entry, n), str)
            for n in ("configuration_id", "kind", "transaction_id", "refresh_token")
        ) or not all(isinstance(getattr(entry, n), int) for n in ("requested_at", "interval")):
            raise StoreError("corrupt_store", "pending entry")
        return entry


class PendingStore:
    """The deferred requests of one wallet directory."""

    def __init__(self, wallet_dir: Path) -> None:
        self.path = Path(wallet_dir) / PENDING_FILE

    def entries(self) -> list[PendingCredential]:
        """Every pending request, oldest first."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        if len(raw) > MAX_PENDING_BYTES:
            raise StoreError("store_too_large")
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise StoreError("corrupt_store", "pending.json is not JSON") from exc
        if not isinstance(document, list):
            raise StoreError("corrupt_store", "pending.json is not a list")
        return [PendingCredential.from_json(e) for e in document]

    def save(self, entries: list[PendingCredential]) -> None:
        """Replace the file's content."""
        text = json.dumps([asdict(e) for e in entries], indent=1, sort_keys=True)
        write_private_file(self.path, text.encode("utf-8"))

    def add(self, entry: PendingCredential) -> None:
        """Remember one more deferred request."""
        self.save([*self.entries(), entry])

    def rotate_refresh_token(self, old: str, new: str) -> None:
        """After a refresh: the entries of that grant carry its new refresh token."""
        entries = self.entries()
        if any(e.refresh_token == old for e in entries):
            self.save(
                [replace(e, refresh_token=new) if e.refresh_token == old else e for e in entries]
            )

"""Lifetimes and bounds of the wallet API, one frozen value passed to every service."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WalletPolicy:
    """Defaults follow OpenID4VCI 1.0 §3.5 advice: codes and nonces short-lived, single use."""

    offer_ttl_seconds: int = 15 * 60
    max_offer_ttl_seconds: int = 72 * 3600  # a letter takes days; the municipality decides
    # an offer by reference is for a screen at the counter: its URI lives at most this long
    max_offer_uri_ttl_seconds: int = 15 * 60
    tx_code_digits: int = 8
    max_tx_code_attempts: int = 5  # wrong codes; the offer dies with the last one
    # OpenID4VCI 1.0 §13.10: an access token that is not sender-constrained lives at most
    # five minutes; a DPoP-bound one this long too (a deferred wallet refreshes anyway)
    access_token_ttl_seconds: int = 300
    refresh_token_ttl_seconds: int = 90 * 24 * 3600
    nonce_ttl_seconds: int = 300
    batch_size: int = 10
    # deferred issuance (a permit awaiting payment): how long a transaction_id lives, and
    # the interval the wallet is asked to wait between polls
    deferred_ttl_seconds: int = 30 * 24 * 3600
    deferred_interval_seconds: int = 3600
    residence_credential_ttl_seconds: int = 30 * 24 * 3600
    token_requests_per_window: int = 30  # per client address
    token_window_seconds: int = 60
    max_body_bytes: int = 32 * 1024

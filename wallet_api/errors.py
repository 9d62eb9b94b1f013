"""Errors of the wallet API: one family, every instance carries a stable code.

    WalletApiError                 a request was refused (never raised for our own bugs)
    ├── OAuthError                 answered as JSON {"error", "error_description"}
    │   ├── TokenError             token endpoint (RFC 6749 §5.2): invalid_request, invalid_grant,
    │   │                          unsupported_grant_type, slow_down (rate limit, 429),
    │   │                          invalid_client (wallet attestation), invalid_dpop_proof,
    │   │                          use_dpop_nonce (RFC 9449 §8), invalid_authorization_details
    │   ├── BearerError            access token refused (RFC 6750 §3.1): invalid_token, 401
    │   ├── DpopError              a DPoP-bound access token without a valid proof (RFC 9449
    │   │                          §7.1): invalid_dpop_proof, use_dpop_nonce, invalid_token, 401
    │   ├── CredentialError        credential endpoint (OpenID4VCI 1.0 §8.3.1.2): invalid_proof,
    │   │                          invalid_nonce, invalid_credential_request,
    │   │                          unknown_credential_configuration, credential_request_denied,
    │   │                          unsupported_credential_format
    │   └── NotificationError      notification endpoint (§11.3): invalid_notification_id,
    │                              invalid_notification_request
    └── WalletProblem              everything else: RFC 9457 problem+json with a `code`

`code` is the contract: tests and clients compare it, never the description.
"""

from __future__ import annotations


class WalletApiError(Exception):
    """A request was refused; ``code`` is stable, ``status`` the HTTP status."""

    status: int = 400

    def __init__(
        self,
        code: str,
        description: str = "",
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description
        self.headers = dict(headers or {})  # extra response headers (e.g. DPoP-Nonce)
        if status is not None:
            self.status = status


class PageProblem(WalletApiError):
    """A refusal on a page a person opened in her browser: answered with ``html`` (a whole
    page in her language) and ``headers``, never with problem+json. ``code`` stays the stable
    name of the refusal."""

    def __init__(
        self, code: str, html: str, *, status: int, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(code, status=status, headers=headers)
        self.html = html


class OAuthError(WalletApiError):
    """Answered as ``{"error": code, "error_description": ...}`` (RFC 6749 §5.2 shape)."""


class TokenError(OAuthError):
    """The token endpoint refused a grant."""


class BearerError(OAuthError):
    """The access token is missing, unknown, expired or revoked (RFC 6750 §3.1)."""

    status = 401


class DpopError(OAuthError):
    """A DPoP-bound access token came without a valid proof (challenge: the DPoP scheme)."""

    status = 401


class CredentialError(OAuthError):
    """The credential endpoint refused a request."""


class NotificationError(OAuthError):
    """The notification endpoint refused a request."""


class WalletProblem(WalletApiError):
    """Answered as RFC 9457 problem+json with ``code``."""

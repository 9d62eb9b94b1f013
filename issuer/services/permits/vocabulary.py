"""The permit's words, defined once: states and the actions each allows, the events the audit
log records, reason codes, flags, legal bases, token kinds and charge reasons.

Permit types are wire format (`verifier.PermitType`); the registry's words (residence and
vehicle kinds, vehicle classes) are in `issuer.vocabulary`. The lifecycle drawn as states:

    awaiting_payment ──pay──▶ active ◀──resume── suspended
            │                  │ ──suspend──────────▲   │
            └──revoke──▶ revoked ◀──revoke── (any live state)
                         expired   (the job, or lazily, once valid_until has passed)
                         replaced  (replace: a new permit for the remaining term)
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from verifier import PermitType


class PermitState(StrEnum):
    """Where a permit is in its lifecycle (the `state` of the API and of the row)."""

    AWAITING_PAYMENT = "awaiting_payment"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"
    REPLACED = "replaced"


LIVE_STATES: tuple[PermitState, ...] = (
    PermitState.AWAITING_PAYMENT,
    PermitState.ACTIVE,
    PermitState.SUSPENDED,
)
"""States in which a permit holds its resident's and plates' slots."""
END_STATES: tuple[PermitState, ...] = (
    PermitState.REVOKED,
    PermitState.EXPIRED,
    PermitState.REPLACED,
)
INDEXED_STATES: tuple[PermitState, ...] = (
    PermitState.ACTIVE,
    PermitState.SUSPENDED,
    PermitState.REVOKED,
    PermitState.REPLACED,
)
"""States a permit is in the plate index with until its end: a revoked or replaced permit
stays, so an officer reads "revoked" (the status list says so) rather than "no permit"."""


class Action(StrEnum):
    """What a caller asks of an existing permit."""

    PAY = "pay"
    SUSPEND = "suspend"
    RESUME = "resume"
    REVOKE = "revoke"
    RENEW = "renew"
    REPLACE = "replace"
    FINALISE = "finalise"
    QR = "qr"  # a QR token for the current version


TRANSITIONS: Mapping[Action, tuple[PermitState, ...]] = MappingProxyType(
    {
        Action.PAY: (PermitState.AWAITING_PAYMENT, PermitState.ACTIVE, PermitState.SUSPENDED),
        Action.SUSPEND: (PermitState.ACTIVE,),
        Action.RESUME: (PermitState.SUSPENDED,),
        Action.REVOKE: LIVE_STATES,
        Action.RENEW: (PermitState.ACTIVE,),
        Action.REPLACE: (PermitState.ACTIVE,),
        Action.FINALISE: (PermitState.ACTIVE, PermitState.AWAITING_PAYMENT),
        Action.QR: (PermitState.ACTIVE,),
    }
)
"""The states each action may start from; any other answers 409 `illegal_transition`."""


class Event(StrEnum):
    """What happened to a permit: the audit log's action is ``permit.<event>``."""

    ISSUED = "issued"
    PAID = "paid"
    SUSPENDED = "suspended"
    RESUMED = "resumed"
    REVOKED = "revoked"
    RENEWED = "renewed"
    REPLACED = "replaced"
    FINALISED = "finalised"
    EXPIRED = "expired"
    VALIDITY_EXTENDED = "validity_extended"
    FLAGGED = "flagged"
    AUTO_RENEW_REFUSED = "auto_renew_refused"

    @property
    def audit_action(self) -> str:
        """The audit entry's `action`."""
        return f"permit.{self.value}"


class RevocationReason(StrEnum):
    """Reason codes for revoking a permit (documented; a client may send another code)."""

    MOVED_OUT = "moved_out"
    VEHICLE_LEFT = "vehicle_left"
    MISUSE = "misuse"
    RETURNED = "returned"
    LOST = "lost"
    PLATE_CORRECTION = "plate_correction"
    FEE_UNPAID = "fee_unpaid"
    ERROR = "error"
    DECEASED = "deceased"
    OTHER = "other"


class SuspensionReason(StrEnum):
    """Reason codes for suspending a permit (documented; a client may send another code)."""

    FEE_UNPAID = "fee_unpaid"
    INVESTIGATION = "investigation"
    VEHICLE_UNCLEAR = "vehicle_unclear"
    OTHER = "other"


class Flag(StrEnum):
    """Why a permit waits for a person's review (`flagged`)."""

    VEHICLE_LEFT = "vehicle_left"  # one of several vehicles left the resident or the road
    PLATE_CHANGED = "plate_changed"  # a vehicle's plate changed in the registry
    AUTO_RENEW_REFUSED = "auto_renew_refused"  # the job could not renew it


class LegalBasis(StrEnum):
    """The provision a permit is issued under (printed, and in the API answer)."""

    RESIDENT_PARKING = "§45 Abs. 1b StVO"  # residents' parking areas
    EXEMPTION = "§46 Abs. 1 Nr. 11 StVO"  # exemptions: trades and care services


def legal_basis(permit_type: str) -> LegalBasis:
    """The legal basis of a new permit of this type."""
    if permit_type in (PermitType.HAN, PermitType.PFL):
        return LegalBasis.EXEMPTION
    return LegalBasis.RESIDENT_PARKING


class TokenKind(StrEnum):
    """What a token recorded against a permit is."""

    QR = "qr"  # the BID1: QR text
    SD_JWT = "sd-jwt"  # an SD-JWT VC in a wallet


class ChargeReason(StrEnum):
    """Why a fee was charged."""

    ISSUE = "issue"
    RENEW = "renew"


SYSTEM_ACTOR = "system"
"""The audit actor of changes no person asked for (expiry)."""
REGISTRY_ACTOR = "registry"
"""The audit actor of changes a registry event caused."""

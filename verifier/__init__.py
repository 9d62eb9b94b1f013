"""buergerid verifier: check resident parking permits offline, as an officer's handheld does.

The names here are what a handheld integrator needs: load the synced trust store, check a
QR text, a plate or both, and read the verdict. Three documented submodules serve the other
users of the library:

- ``verifier.formats``: every wire format, encoded and strictly decoded (permit claims,
  COSE_Sign1, status lists, trust bundle, plate index, keys and JWS, x5c chains), for the
  issuing side and other vendors' tools;
- ``verifier.sdjwt``: SD-JWT and SD-JWT VC, issued, presented and verified, for wallets
  and relying parties;
- ``verifier.handheld``: the device around the check (reading QR images, enrolment, sync,
  the officer's app).

Every module whose name starts with an underscore is private; docs/dev/verifier-api.md
lists the public names.
"""

from __future__ import annotations

from verifier._claims import PermitType
from verifier._errors import (
    DecodeError,
    Notice,
    Reason,
    SignatureError,
    TrustError,
    VerifierError,
)
from verifier._plates import canonical_plate, canonical_zone
from verifier._store import DataDir, TrustStore, default_data_dir
from verifier._verdict import BundleInfo, Context, Outcome, Permit, Verdict
from verifier._verify import verify, verify_car, verify_plate
from verifier._zones import Zone, ZoneError, resolve_zone

__all__ = [
    "BundleInfo",
    "Context",
    "DataDir",
    "DecodeError",
    "Notice",
    "Outcome",
    "Permit",
    "PermitType",
    "Reason",
    "SignatureError",
    "TrustError",
    "TrustStore",
    "Verdict",
    "VerifierError",
    "Zone",
    "ZoneError",
    "canonical_plate",
    "canonical_zone",
    "default_data_dir",
    "resolve_zone",
    "verify",
    "verify_car",
    "verify_plate",
]

"""The handheld around the check: reading QR images, enrolment, sync, the officer's app.

For software that runs on an enforcement device (or stands in for a phone's camera):

- ``read_qr_texts`` / ``read_qr_texts_from_image``: QR symbols from a PNG/JPEG file or a
  Pillow image, bounded before decoding; ``ScanError`` with a stable ``code``;
- ``DeviceIdentity``: the device key and enrolment for plate checks (``enrol``, a
  short-lived access token from ``private_key_jwt``); ``EnrolmentError`` with a ``code``;
- ``sync_once`` and ``SyncLoop``: one sync attempt under one total deadline, or attempts
  every interval with backoff in a background thread (``Attempt`` says how it went;
  ``SyncSetupError`` when there is nothing to sync from);
- ``App`` and ``AppServer``: the officer's screen, served on 127.0.0.1 to the device's own
  browser.

What each does for the officer is in docs/verifier.md; the CLI (``buergerid-verify``) is
built from the same pieces.
"""

from __future__ import annotations

from verifier._app import App, AppServer
from verifier._enrol import DeviceIdentity, EnrolmentError
from verifier._qr import ScanError, read_qr_texts, read_qr_texts_from_image
from verifier._sync import Attempt, SyncLoop, SyncSetupError, sync_once

__all__ = [
    "App",
    "AppServer",
    "Attempt",
    "DeviceIdentity",
    "EnrolmentError",
    "ScanError",
    "SyncLoop",
    "SyncSetupError",
    "read_qr_texts",
    "read_qr_texts_from_image",
    "sync_once",
]

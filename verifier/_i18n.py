"""Words for the officer's screen in German and English: outcomes, reasons, warnings, labels.

The reason *codes* are the contract; these words are only for people. ``pick_language``
chooses from ``--lang`` or the locale variables (``LC_ALL``, ``LC_MESSAGES``, ``LANG``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from verifier._errors import Notice, Reason
from verifier._verdict import Outcome

Lang = Literal["de", "en"]
LANGUAGES: tuple[Lang, ...] = ("de", "en")

OUTCOME_WORDS: dict[Lang, dict[Outcome, str]] = {
    "de": {
        Outcome.VALID: "GÜLTIG",
        Outcome.INVALID: "UNGÜLTIG",
        Outcome.INDETERMINATE: "NICHT PRÜFBAR",
    },
    "en": {
        Outcome.VALID: "VALID",
        Outcome.INVALID: "INVALID",
        Outcome.INDETERMINATE: "CANNOT BE CHECKED",
    },
}

REASON_WORDS: dict[Lang, dict[Reason, str]] = {
    "de": {
        Reason.UNSUPPORTED_FORMAT: "kein Parkausweis-Code (BID1:)",
        Reason.BAD_BASE45: "Code beschädigt (Base45)",
        Reason.BAD_COSE: "Code beschädigt (Signaturcontainer)",
        Reason.UNSUPPORTED_ALG: "Signaturverfahren nicht unterstützt",
        Reason.NO_BUNDLE: "keine Vertrauensliste geladen – Gerät synchronisieren",
        Reason.CLOCK_BEHIND: "Geräteuhr geht nach – Uhrzeit prüfen",
        Reason.BUNDLE_EXPIRED: "Vertrauensliste abgelaufen – Gerät synchronisieren",
        Reason.BAD_CLAIMS: "Ausweisinhalt fehlerhaft",
        Reason.UNKNOWN_ISSUER: "unbekannte ausstellende Stelle",
        Reason.UNKNOWN_KEY: "unbekannter Schlüssel der ausstellenden Stelle",
        Reason.BAD_SIGNATURE: "Signatur ungültig – möglicherweise gefälscht",
        Reason.KEY_NOT_VALID: "Schlüssel durfte diesen Ausweis nicht ausstellen",
        Reason.NOT_YET_VALID: "noch nicht gültig",
        Reason.EXPIRED: "abgelaufen",
        Reason.STATUS_UNKNOWN: "Sperrstatus unbekannt – Gerät synchronisieren",
        Reason.REVOKED: "widerrufen",
        Reason.SUSPENDED: "vorläufig gesperrt",
        Reason.OUTSIDE_HOURS: "außerhalb der erlaubten Zeiten",
        Reason.WRONG_ZONE: "gilt nicht in dieser Zone",
        Reason.WRONG_PLATE: "gilt nicht für dieses Kennzeichen",
        Reason.NO_PERMIT: "kein digitaler Parkausweis für dieses Kennzeichen – "
        "ausgelegten Ausweis suchen, QR-Code prüfen",
        Reason.NO_PLATE_INDEX: "kein Kennzeichenverzeichnis geladen – Gerät synchronisieren",
        Reason.BAD_CBOR: "Daten beschädigt (CBOR)",
        Reason.TOO_LARGE: "Daten zu groß",
        Reason.BAD_KEY: "Schlüssel unlesbar",
        Reason.BAD_STATUS_LIST: "Sperrliste fehlerhaft",
        Reason.BAD_BUNDLE: "Vertrauensliste fehlerhaft",
        Reason.UNTRUSTED_BUNDLE: "Vertrauensliste nicht von einem hinterlegten Wurzelschlüssel",
        Reason.BUNDLE_ROLLBACK: "Vertrauensliste älter als die gespeicherte",
        Reason.BAD_PLATE_INDEX: "Kennzeichenverzeichnis fehlerhaft",
        Reason.UNTRUSTED_PLATE_INDEX: "Kennzeichenverzeichnis nicht von der ausstellenden Stelle",
        Reason.BAD_PLATE: "Kennzeichen nicht lesbar",
    },
    "en": {
        Reason.UNSUPPORTED_FORMAT: "not a parking permit code (BID1:)",
        Reason.BAD_BASE45: "code damaged (Base45)",
        Reason.BAD_COSE: "code damaged (signature container)",
        Reason.UNSUPPORTED_ALG: "signature algorithm not supported",
        Reason.NO_BUNDLE: "no trust bundle loaded – sync the device",
        Reason.CLOCK_BEHIND: "device clock is behind – check the time",
        Reason.BUNDLE_EXPIRED: "trust bundle expired – sync the device",
        Reason.BAD_CLAIMS: "permit content malformed",
        Reason.UNKNOWN_ISSUER: "unknown issuing authority",
        Reason.UNKNOWN_KEY: "unknown key of the issuing authority",
        Reason.BAD_SIGNATURE: "signature invalid – possibly forged",
        Reason.KEY_NOT_VALID: "key was not allowed to issue this permit",
        Reason.NOT_YET_VALID: "not yet valid",
        Reason.EXPIRED: "expired",
        Reason.STATUS_UNKNOWN: "revocation status unknown – sync the device",
        Reason.REVOKED: "revoked",
        Reason.SUSPENDED: "suspended",
        Reason.OUTSIDE_HOURS: "outside the permitted hours",
        Reason.WRONG_ZONE: "not valid in this zone",
        Reason.WRONG_PLATE: "not valid for this plate",
        Reason.NO_PERMIT: "no digital permit for this plate – "
        "look for a displayed permit, scan its QR code",
        Reason.NO_PLATE_INDEX: "no plate index loaded – sync the device",
        Reason.BAD_CBOR: "data damaged (CBOR)",
        Reason.TOO_LARGE: "data too large",
        Reason.BAD_KEY: "key unreadable",
        Reason.BAD_STATUS_LIST: "status list malformed",
        Reason.BAD_BUNDLE: "trust bundle malformed",
        Reason.UNTRUSTED_BUNDLE: "trust bundle not signed by a pinned root key",
        Reason.BUNDLE_ROLLBACK: "trust bundle older than the stored one",
        Reason.BAD_PLATE_INDEX: "plate index malformed",
        Reason.UNTRUSTED_PLATE_INDEX: "plate index not signed by its issuer",
        Reason.BAD_PLATE: "plate not readable",
    },
}

NOTICE_WORDS: dict[Lang, dict[Notice, str]] = {
    "de": {
        Notice.BUNDLE_STALE: "Vertrauensliste veraltet – bald synchronisieren",
        Notice.STATUS_STALE: "Sperrliste veraltet – bald synchronisieren",
        Notice.PLATE_NOT_CHECKED: "Flottenausweis: Kennzeichen nicht geprüft",
    },
    "en": {
        Notice.BUNDLE_STALE: "trust bundle stale – sync soon",
        Notice.STATUS_STALE: "status list stale – sync soon",
        Notice.PLATE_NOT_CHECKED: "fleet permit: plate not checked",
    },
}

LABELS: dict[Lang, dict[str, str]] = {
    "de": {
        "reason": "Grund",
        "type": "Art",
        "zones": "Zonen",
        "plates": "Kennzeichen",
        "fleet": "Flotte",
        "number": "Ausweis-Nr.",
        "issuer": "Aussteller",
        "valid_from": "gültig ab",
        "valid_until": "gültig bis",
        "max_stay": "Höchstparkdauer",
        "minutes": "Min.",
        "windows": "Zeiten",
        "warnings": "Hinweise",
        "bundle_age": "Vertrauensliste",
        "bundle_none": "keine",
        "age": "Alter",
        "file": "Datei",
        "error": "Fehler",
    },
    "en": {
        "reason": "Reason",
        "type": "Type",
        "zones": "Zones",
        "plates": "Plates",
        "fleet": "Fleet",
        "number": "Permit no.",
        "issuer": "Issuer",
        "valid_from": "valid from",
        "valid_until": "valid until",
        "max_stay": "Maximum stay",
        "minutes": "min",
        "windows": "Hours",
        "warnings": "Warnings",
        "bundle_age": "Trust bundle",
        "bundle_none": "none",
        "age": "age",
        "file": "File",
        "error": "Error",
    },
}

PERMIT_TYPE_WORDS: dict[Lang, dict[str, str]] = {
    "de": {
        "BEW": "Bewohner",
        "BES": "Besucher",
        "HAN": "Handwerker",
        "PFL": "Pflegedienst",
        "SON": "Sonstige",
    },
    "en": {
        "BEW": "resident",
        "BES": "visitor",
        "HAN": "tradesperson",
        "PFL": "care service",
        "SON": "other",
    },
}

DAY_WORDS: dict[Lang, tuple[str, ...]] = {
    "de": ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def pick_language(explicit: str | None, environ: Mapping[str, str]) -> Lang:
    """``--lang`` if given, else the first locale variable set; German only if it says so."""
    candidates: list[str | None] = [explicit]
    candidates += [environ.get(name) for name in ("LC_ALL", "LC_MESSAGES", "LANG")]
    for value in candidates:
        if value:
            return "de" if value.lower().startswith("de") else "en"
    return "en"


def reason_words(lang: Lang, reason: Reason) -> str:
    """The words for a reason code, falling back to the code itself."""
    return REASON_WORDS[lang].get(reason, str(reason))

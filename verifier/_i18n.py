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


MESSAGES: dict[Lang, dict[str, str]] = {
    "de": {
        # trust and sync
        "pinned": "hinterlegt: {fp}",
        "already_pinned": "bereits hinterlegt: {fp}",
        "not_modified": "unverändert (der Server meldet keine Änderung): {source}",
        "bundle_stored": "Vertrauensliste seq {seq} gespeichert",
        "bundle_unchanged": "Vertrauensliste seq {seq} unverändert",
        "anchors_added": "; {n} neue(r) Wurzelschlüssel hinterlegt",
        "plate_index_stored": "Kennzeichenverzeichnis von {issuer} gespeichert",
        "plate_index_unchanged": "Kennzeichenverzeichnis von {issuer} unverändert",
        "sync_retry": "Synchronisierung fehlgeschlagen; nächster Versuch in {seconds} s",
        "sync_next": "nächste Synchronisierung in {seconds} s",
        "enrolled": "angemeldet: Gerät {device}; Kennzeichenverzeichnisse von {municipalities}",
        "enrolled_none": "keine",
        # config
        "config_municipality": "Gemeinde dieses Geräts: {value}",
        "config_municipality_env": "Gemeinde dieses Geräts: {value} (aus {env})",
        "config_sync_source": "Synchronisierungsquelle: {value}",
        "config_enrolment": "Anmeldung: {value}",
        "config_shift_hours": "Schichtprotokoll wird gelöscht nach: {value} h",
        "config_none": "(nicht gesetzt)",
        "config_not_in_bundle": (
            "Hinweis: {ags} steht nicht in der synchronisierten Vertrauensliste"
        ),
        # app
        "app_serving": "Prüf-App: {url} – im Browser des Geräts öffnen (Strg+C beendet)",
        # status
        "status_no_bundle": (
            "{anchors} Wurzelschlüssel hinterlegt; keine Vertrauensliste synchronisiert"
        ),
        "status_bundle": (
            "Vertrauensliste seq {seq}, ausgestellt {iat}, Alter {age}, frisch bis {fresh}, "
            "läuft ab {exp}"
        ),
        "status_roots": "hinterlegte Wurzelschlüssel: {anchors}; Datenordner: {data_dir}",
        "status_last_sync": "letzte Synchronisierung: {at} – {result}",
        "status_ok": "erfolgreich",
        "status_issuer": "Aussteller",
        "status_name": "Name",
        "status_keys": "Schlüssel",
        "status_lists": "Sperrlisten",
        "status_plate_index": "Kennzeichenverzeichnis",
        "status_plates": "{n} Kennzeichen, bis {exp}",
        # errors (one stderr line each)
        "usage_bad_zone": "--zone ist keine Zone (AGS:ZONE, z. B. 05513000:A3, oder ein Zonencode)",
        "usage_ambiguous_zone": (
            "ein Zonencode allein ist mehrdeutig: AGS:ZONE angeben oder die Gemeinde des "
            "Geräts festlegen (buergerid-verify config --municipality AGS)"
        ),
        "usage_bad_plate": "--plate ist kein Kennzeichen",
        "usage_bad_plate_arg": "KENNZEICHEN ist kein Kennzeichen",
        "usage_missing_text": "QR-Text fehlt (oder '-' für die Standardeingabe)",
        "usage_text_and_batch": "entweder TEXT oder --batch angeben, nicht beides",
        "usage_stdin_too_long": "Standardeingabe zu lang für einen QR-Text",
        "usage_batch_too_large": "Stapeldatei zu groß",
        "usage_bad_municipality": "--municipality ist kein Gemeindeschlüssel (8 Ziffern)",
        "usage_bad_duration": "--every braucht eine Dauer wie 30m, 6h oder 1d",
        "usage_no_source": (
            "keine Quelle: SOURCE angeben, das Gerät anmelden (buergerid-verify enrol URL) "
            "oder buergerid-verify config --sync-source URL"
        ),
        "usage_no_code": "Anmeldecode fehlt (--code oder auf der Standardeingabe)",
        "not_utf8": "Eingabe ist kein gültiger UTF-8-Text",
        "internal": "interner Fehler ({name})",
        "interrupted": "abgebrochen",
        "file_error": "Datei nicht lesbar: {detail}",
        "fetch_unreachable": "Server nicht erreichbar: {detail}",
        "fetch_deadline_exceeded": "Zeitlimit überschritten – der Server antwortet zu langsam",
        "fetch_http_status": "der Server antwortet mit HTTP-Status {detail}",
        "fetch_content_encoding": "komprimierte Antwort abgelehnt ({detail})",
        "fetch_not_a_file": "keine reguläre Datei: {detail}",
        "fetch_bad_url": "keine gültige Adresse",
        "enrol_not_enrolled": "Gerät nicht angemeldet – zuerst buergerid-verify enrol URL",
        "enrol_key_missing": "Geräteschlüssel fehlt oder passt nicht – Gerät neu anmelden",
        "enrol_code_refused": "Anmeldecode abgelehnt (unbekannt, schon benutzt oder abgelaufen)",
        "enrol_device_refused": "der Server lehnt dieses Gerät ab (zurückgezogen?) – IT fragen",
        "enrol_bad_answer": "unerwartete Antwort des Servers ({detail})",
        "scan_no_qr_code": "kein QR-Code im Bild",
        "scan_image_unreadable": "Bild nicht lesbar",
        "scan_not_an_image": "keine Bilddatei",
        "scan_image_too_large": "Bild zu groß",
        # verdict screen
        "zone_checked": "geprüfte Zone",
        "issued": "ausgestellt",
    },
    "en": {
        "pinned": "pinned: {fp}",
        "already_pinned": "already pinned: {fp}",
        "not_modified": "not modified (the server reports no change): {source}",
        "bundle_stored": "trust bundle seq {seq} stored",
        "bundle_unchanged": "trust bundle seq {seq} unchanged",
        "anchors_added": "; {n} new root key(s) pinned",
        "plate_index_stored": "plate index of {issuer} stored",
        "plate_index_unchanged": "plate index of {issuer} unchanged",
        "sync_retry": "sync failed; next attempt in {seconds} s",
        "sync_next": "next sync in {seconds} s",
        "enrolled": "enrolled: device {device}; plate indexes of {municipalities}",
        "enrolled_none": "none",
        "config_municipality": "this handheld's municipality: {value}",
        "config_municipality_env": "this handheld's municipality: {value} (from {env})",
        "config_sync_source": "sync source: {value}",
        "config_enrolment": "enrolment: {value}",
        "config_shift_hours": "shift log cleared after: {value} h",
        "config_none": "(not set)",
        "config_not_in_bundle": "note: {ags} is not in the synced trust bundle",
        "app_serving": "checking app: {url} – open it in the handheld's browser (Ctrl+C stops)",
        "status_no_bundle": "{anchors} root key(s) pinned; no trust bundle synced",
        "status_bundle": (
            "trust bundle seq {seq}, issued {iat}, age {age}, fresh until {fresh}, expires {exp}"
        ),
        "status_roots": "root keys pinned: {anchors}; data dir: {data_dir}",
        "status_last_sync": "last sync: {at} – {result}",
        "status_ok": "succeeded",
        "status_issuer": "issuer",
        "status_name": "name",
        "status_keys": "keys",
        "status_lists": "status lists",
        "status_plate_index": "plate index",
        "status_plates": "{n} plates, until {exp}",
        "usage_bad_zone": "--zone is not a zone (AGS:ZONE, e.g. 05513000:A3, or a zone code)",
        "usage_ambiguous_zone": (
            "a zone code alone is ambiguous: give AGS:ZONE or set the handheld's "
            "municipality (buergerid-verify config --municipality AGS)"
        ),
        "usage_bad_plate": "--plate is not a plate",
        "usage_bad_plate_arg": "PLATE is not a plate",
        "usage_missing_text": "missing TEXT (or '-' for stdin)",
        "usage_text_and_batch": "give either TEXT or --batch, not both",
        "usage_stdin_too_long": "stdin too long for one QR text",
        "usage_batch_too_large": "batch file too large",
        "usage_bad_municipality": "--municipality is not a municipality key (8 digits)",
        "usage_bad_duration": "--every needs a duration such as 30m, 6h or 1d",
        "usage_no_source": (
            "nothing to sync from: give SOURCE, enrol the device (buergerid-verify enrol URL) "
            "or set buergerid-verify config --sync-source URL"
        ),
        "usage_no_code": "missing enrolment code (--code or on stdin)",
        "not_utf8": "input is not valid UTF-8 text",
        "internal": "internal error ({name})",
        "interrupted": "interrupted",
        "file_error": "cannot read file: {detail}",
        "fetch_unreachable": "server unreachable: {detail}",
        "fetch_deadline_exceeded": "deadline exceeded – the server answers too slowly",
        "fetch_http_status": "the server answered with HTTP status {detail}",
        "fetch_content_encoding": "compressed answer refused ({detail})",
        "fetch_not_a_file": "not a regular file: {detail}",
        "fetch_bad_url": "not a valid address",
        "enrol_not_enrolled": "device not enrolled – run buergerid-verify enrol URL first",
        "enrol_key_missing": "device key missing or not the enrolled one – enrol again",
        "enrol_code_refused": "enrolment code refused (unknown, already used or expired)",
        "enrol_device_refused": "the server refuses this device (withdrawn?) – ask IT",
        "enrol_bad_answer": "unexpected answer from the server ({detail})",
        "scan_no_qr_code": "no QR code in the image",
        "scan_image_unreadable": "image unreadable",
        "scan_not_an_image": "not an image file",
        "scan_image_too_large": "image too large",
        "zone_checked": "zone checked",
        "issued": "issued",
    },
}
"""Every other line the CLI prints, by key (``str.format`` placeholders)."""


def message(lang: Lang, key: str, **values: object) -> str:
    """One CLI line in ``lang``."""
    return MESSAGES[lang][key].format(**values)


_ARGPARSE_DE: tuple[tuple[str, str], ...] = (
    (r"the following arguments are required: (.*)", "diese Angaben fehlen: {0}"),
    (r"unrecognized arguments: (.*)", "unbekannte Angaben: {0}"),
    (r"argument (\S+): invalid choice: (.*)", "Angabe {0}: ungültige Wahl: {1}"),
    (r"argument (\S+): expected one argument", "Angabe {0}: der Wert fehlt"),
    (r"argument (\S+): invalid \w+ value: (.*)", "Angabe {0}: ungültiger Wert: {1}"),
    (
        r"argument (\S+): --at needs integer seconds since the epoch",
        "Angabe {0}: --at braucht ganze Sekunden seit 1970",
    ),
    (r"argument (\S+): --at out of range", "Angabe {0}: --at außerhalb des Bereichs"),
    (r"argument (\S+): (.*)", "Angabe {0}: {1}"),
)


def usage_words(lang: Lang, text: str) -> str:
    """argparse's own error messages (English only) in ``lang``."""
    import re

    if lang == "de":
        for pattern, template in _ARGPARSE_DE:
            found = re.fullmatch(pattern, text)
            if found:
                return template.format(*found.groups())
    return text

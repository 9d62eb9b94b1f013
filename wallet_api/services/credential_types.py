"""The two SD-JWT VC types, described once: every claim with its path, whether it is
selectively disclosable, whether it is always present, and its labels in German and
English. SD-JWT VC Type Metadata (`type_metadata.py`), the OpenID4VCI credential metadata
(`configurations.py`) and the tests that compare both with what `sd_jwt_vc.py` issues
read this table; registered JWT claims (iss, iat, nbf, exp, vct, cnf, status) are not
listed, as the specifications manage them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RESIDENCE = "residence"
PARKING_PERMIT = "parking-permit"
LOCALES = ("de", "en")


@dataclass(frozen=True, slots=True)
class ClaimSpec:
    """One claim of a type (SD-JWT VC Type Metadata "Claim Metadata")."""

    path: tuple[str, ...]
    sd: Literal["always", "never"]
    mandatory: bool
    de: str
    en: str


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """A credential type: names, descriptions and colours per locale, and its claims."""

    kind: str
    name: dict[str, str]
    description: dict[str, str]
    background_color: str
    text_color: str
    claims: tuple[ClaimSpec, ...]


def _always(path: tuple[str, ...], de: str, en: str) -> ClaimSpec:
    return ClaimSpec(path, "always", True, de, en)


def _plain(path: tuple[str, ...], de: str, en: str, *, mandatory: bool = True) -> ClaimSpec:
    return ClaimSpec(path, "never", mandatory, de, en)


TYPES: dict[str, TypeSpec] = {
    RESIDENCE: TypeSpec(
        kind=RESIDENCE,
        name={"de": "Bürger-ID", "en": "Citizen ID"},
        description={
            "de": "Meldebestätigung der Gemeinde: Name, Geburtsdatum, Anschrift, Wohnsitz",
            "en": "The municipality's residence record: name, birth date, address, residence",
        },
        background_color="#004b87",
        text_color="#ffffff",
        claims=(
            _always(("given_name",), "Vorname", "Given name"),
            _always(("family_name",), "Familienname", "Family name"),
            _always(("birthdate",), "Geburtsdatum", "Date of birth"),
            _always(("address",), "Anschrift", "Address"),
            _always(("address", "street_address"), "Straße und Hausnummer", "Street address"),
            _always(("address", "postal_code"), "Postleitzahl", "Postal code"),
            _always(("address", "locality"), "Ort", "Locality"),
            _plain(("address", "country"), "Staat", "Country"),
            _always(("residence_kind",), "Art des Wohnsitzes", "Kind of residence"),
            _always(("resident_since",), "Wohnhaft seit", "Resident since"),
            _always(("age_over_18",), "Volljährig", "Aged 18 or over"),
        ),
    ),
    PARKING_PERMIT: TypeSpec(
        kind=PARKING_PERMIT,
        name={"de": "Bewohnerparkausweis", "en": "Resident parking permit"},
        description={
            "de": "Parkausweis nach § 45 Abs. 1b StVO: Zonen, Kennzeichen, Gültigkeit",
            "en": "Parking permit under § 45 (1b) StVO: zones, plates, validity",
        },
        background_color="#1b5e20",
        text_color="#ffffff",
        claims=(
            _plain(("permit_type",), "Art des Ausweises", "Permit type"),
            _plain(("zones",), "Zonen", "Zones"),
            _plain(("plates",), "Kennzeichen", "Licence plates"),
            _plain(("permit_number",), "Ausweisnummer", "Permit number"),
            _plain(("issuing_authority",), "Ausstellende Behörde", "Issuing authority"),
            _plain(("valid_from",), "Gültig ab", "Valid from"),
            _plain(("valid_until",), "Gültig bis", "Valid until"),
            _plain(("fleet",), "Fahrzeugflotte", "Vehicle fleet", mandatory=False),
            _always(("holder",), "Inhaber", "Holder"),
            _always(("holder", "given_name"), "Vorname", "Given name"),
            _always(("holder", "family_name"), "Familienname", "Family name"),
        ),
    ),
}


def disclosable_paths(kind: str) -> frozenset[tuple[str, ...]]:
    """The claim paths issued as Disclosures for a kind."""
    return frozenset(c.path for c in TYPES[kind].claims if c.sd == "always")

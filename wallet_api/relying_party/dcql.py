"""DCQL (OpenID4VP 1.0 §6): the queries the relying party asks, and whether a response
answers them.

Queries we build:

- ``residence_query``: the Bürger-ID (``dc+sd-jwt``, our residence ``vct`` of the given
  tenants) with the claims asked;
- ``pid_query``: the EU PID (``urn:eudi:pid:1``) or the German PID (``urn:eudi:pid:de:1``),
  one of the two (``credential_sets``), with names, birth date and address; the EU PID may
  carry the house number in ``street_address`` or apart in ``house_number`` (two
  ``claim_sets``), the German PID writes it into ``street_address``;
- ``parse_query``: a query a municipal application sends, bounded and checked.

``answer`` takes the decoded ``vp_token`` (an object: credential query id → array of
presentations) and the verified presentations and refuses with ``claims_missing`` when a
requested claim (or every claim set) is not disclosed, ``unknown_credential_query`` for an
id we did not ask, ``credential_missing`` when no option of a required credential set is
answered. Bounds: 8 credential queries, 32 claims each, paths of at most 6 elements.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from wallet_api.relying_party.presentations import PresentationError, Presented

SD_JWT_FORMAT = "dc+sd-jwt"
PID_EU = "urn:eudi:pid:1"
PID_DE = "urn:eudi:pid:de:1"
MAX_CREDENTIALS = 8
MAX_CLAIMS = 32
MAX_PATH = 6
MAX_VALUES = 16
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

Path = tuple[str | int | None, ...]

PERSON_CLAIMS: tuple[Path, ...] = (("given_name",), ("family_name",), ("birthdate",))
ADDRESS_CLAIMS: tuple[Path, ...] = (
    ("address", "street_address"),
    ("address", "postal_code"),
    ("address", "locality"),
)


def _claims(paths: Sequence[Path]) -> list[dict[str, Any]]:
    return [{"path": list(p)} for p in paths]


def residence_query(
    vcts: Sequence[str], paths: Sequence[Path] = PERSON_CLAIMS + ADDRESS_CLAIMS
) -> dict[str, Any]:
    """The Bürger-ID of one of `vcts`, with `paths` disclosed."""
    return {
        "credentials": [
            {
                "id": "buergerid",
                "format": SD_JWT_FORMAT,
                "meta": {"vct_values": list(vcts)},
                "claims": _claims(paths),
            }
        ]
    }


def pid_query() -> dict[str, Any]:
    """The EU or the German PID with names, birth date and address (see the docstring)."""
    eu_ids = ["gn", "fn", "bd", "st", "pc", "lo"]
    eu_claims = [
        {"id": i, "path": list(p)}
        for i, p in zip(eu_ids, PERSON_CLAIMS + ADDRESS_CLAIMS, strict=True)
    ]
    eu_claims.append({"id": "hn", "path": ["address", "house_number"]})
    return {
        "credentials": [
            {
                "id": "pid",
                "format": SD_JWT_FORMAT,
                "meta": {"vct_values": [PID_EU]},
                "claims": eu_claims,
                "claim_sets": [[*eu_ids, "hn"], eu_ids],
            },
            {
                "id": "pid_de",
                "format": SD_JWT_FORMAT,
                "meta": {"vct_values": [PID_DE]},
                "claims": _claims(PERSON_CLAIMS + ADDRESS_CLAIMS),
            },
        ],
        "credential_sets": [{"options": [["pid"], ["pid_de"]], "required": True}],
    }


def either_query(first: Mapping[str, Any], second: Mapping[str, Any]) -> dict[str, Any]:
    """One query answered by `first` or by `second` (each a query of one credential set)."""
    credentials = [*first["credentials"], *second["credentials"]]

    def options(query: Mapping[str, Any]) -> list[list[str]]:
        sets = query.get("credential_sets")
        if sets:
            return [list(o) for o in sets[0]["options"]]
        return [[c["id"] for c in query["credentials"]]]

    return {
        "credentials": credentials,
        "credential_sets": [{"options": options(first) + options(second), "required": True}],
    }


# ------------------------------------------------------------------------------ parsing


def _bad(detail: str) -> PresentationError:
    return PresentationError("invalid_query", detail)


def _path(value: Any) -> Path:
    if not isinstance(value, list) or not 0 < len(value) <= MAX_PATH:
        raise _bad("a claim path is a non-empty array of at most 6 elements")
    for part in value:
        if part is None:
            continue
        if isinstance(part, bool) or not isinstance(part, str | int):
            raise _bad("path elements are strings, integers or null")
        if isinstance(part, str) and not 0 < len(part) <= 64:
            raise _bad("a path name is 1..64 characters")
        if isinstance(part, int) and not 0 <= part < 1000:
            raise _bad("a path index is 0..999")
    return tuple(value)


def parse_query(doc: Any) -> dict[str, Any]:
    """A DCQL query from outside, in the subset we answer (SD-JWT VC, claims, claim_sets,
    credential_sets), re-built from what was checked."""
    if not isinstance(doc, dict) or set(doc) - {"credentials", "credential_sets"}:
        raise _bad("a query has credentials and optionally credential_sets")
    creds = doc.get("credentials")
    if not isinstance(creds, list) or not 0 < len(creds) <= MAX_CREDENTIALS:
        raise _bad("1..8 credential queries")
    out: list[dict[str, Any]] = []
    ids: set[str] = set()
    for cred in creds:
        if not isinstance(cred, dict) or set(cred) - {
            "id",
            "format",
            "meta",
            "claims",
            "claim_sets",
        }:
            raise _bad("unsupported credential query member")
        cid = cred.get("id")
        if not isinstance(cid, str) or not _ID.match(cid) or cid in ids:
            raise _bad("credential query ids are unique [A-Za-z0-9_-]{1,64}")
        ids.add(cid)
        if cred.get("format") != SD_JWT_FORMAT:
            raise _bad("only dc+sd-jwt")
        meta = cred.get("meta")
        vcts = meta.get("vct_values") if isinstance(meta, dict) else None
        if not isinstance(vcts, list) or not 0 < len(vcts) <= MAX_VALUES:
            raise _bad("meta.vct_values is required")
        if not all(isinstance(v, str) and 0 < len(v) <= 500 for v in vcts):
            raise _bad("vct values are strings")
        claims = cred.get("claims")
        if not isinstance(claims, list) or not 0 < len(claims) <= MAX_CLAIMS:
            raise _bad("1..32 claims: never a whole credential")
        parsed_claims: list[dict[str, Any]] = []
        claim_ids: set[str] = set()
        for claim in claims:
            if not isinstance(claim, dict) or set(claim) - {"id", "path", "values"}:
                raise _bad("a claim has path, and optionally id and values")
            item: dict[str, Any] = {"path": list(_path(claim.get("path")))}
            if "id" in claim:
                if not isinstance(claim["id"], str) or not _ID.match(claim["id"]):
                    raise _bad("claim ids are [A-Za-z0-9_-]{1,64}")
                claim_ids.add(claim["id"])
                item["id"] = claim["id"]
            if "values" in claim:
                values = claim["values"]
                if not isinstance(values, list) or not 0 < len(values) <= MAX_VALUES:
                    raise _bad("values is a short array")
                if not all(isinstance(v, str | int | bool) for v in values):
                    raise _bad("values are strings, integers or booleans")
                item["values"] = list(values)
            parsed_claims.append(item)
        entry: dict[str, Any] = {
            "id": cid,
            "format": SD_JWT_FORMAT,
            "meta": {"vct_values": list(vcts)},
            "claims": parsed_claims,
        }
        if "claim_sets" in cred:
            sets = cred["claim_sets"]
            if not isinstance(sets, list) or not 0 < len(sets) <= MAX_VALUES:
                raise _bad("claim_sets is a short array")
            for option in sets:
                if not isinstance(option, list) or not all(o in claim_ids for o in option):
                    raise _bad("claim_sets name claim ids")
            entry["claim_sets"] = [list(o) for o in sets]
        out.append(entry)
    result: dict[str, Any] = {"credentials": out}
    if "credential_sets" in doc:
        sets = doc["credential_sets"]
        if not isinstance(sets, list) or not 0 < len(sets) <= MAX_VALUES:
            raise _bad("credential_sets is a short array")
        parsed_sets = []
        for cset in sets:
            options = cset.get("options") if isinstance(cset, dict) else None
            if not isinstance(options, list) or not 0 < len(options) <= MAX_VALUES:
                raise _bad("a credential set has options")
            for option in options:
                if not isinstance(option, list) or not all(o in ids for o in option):
                    raise _bad("options name credential query ids")
            required = cset.get("required", True)
            if not isinstance(required, bool):
                raise _bad("required is a boolean")
            parsed_sets.append({"options": [list(o) for o in options], "required": required})
        result["credential_sets"] = parsed_sets
    return result


def requested_claims(query: Mapping[str, Any]) -> dict[str, list[Path]]:
    """Per credential query id, every claim path it may ask for."""
    return {c["id"]: [tuple(claim["path"]) for claim in c["claims"]] for c in query["credentials"]}


# ----------------------------------------------------------------------------- answering

_MISSING = object()


def _resolve(claims: Any, path: Path) -> Any:
    node = claims
    for i, part in enumerate(path):
        if part is None:
            if not isinstance(node, list) or not node:
                return _MISSING
            rest = path[i + 1 :]
            values = [_resolve(item, rest) for item in node]
            return _MISSING if any(v is _MISSING for v in values) else values
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return _MISSING
            node = node[part]
        else:
            if not isinstance(node, dict) or part not in node:
                return _MISSING
            node = node[part]
    return node


def _claim_ok(claims: dict[str, Any], claim: Mapping[str, Any]) -> bool:
    value = _resolve(claims, tuple(claim["path"]))
    if value is _MISSING:
        return False
    return "values" not in claim or value in claim["values"]


def _satisfies(presented: Presented, query: Mapping[str, Any]) -> bool:
    if presented.vct not in query["meta"]["vct_values"]:
        return False
    claims = query["claims"]
    sets = query.get("claim_sets")
    if not sets:
        return all(_claim_ok(presented.claims, c) for c in claims)
    by_id = {c.get("id"): c for c in claims}
    return any(all(_claim_ok(presented.claims, by_id[i]) for i in option) for option in sets)


def answered(query: Mapping[str, Any], presented: Mapping[str, Presented]) -> list[str]:
    """The credential query ids `presented` answers; refuses what the module docstring says."""
    by_id = {c["id"]: c for c in query["credentials"]}
    for cid, item in presented.items():
        if cid not in by_id:
            raise PresentationError("unknown_credential_query", "not a credential we asked for")
        if not _satisfies(item, by_id[cid]):
            raise PresentationError("claims_missing", "fewer claims disclosed than asked")
    given = set(presented)
    sets = query.get("credential_sets")
    if not sets:
        if given != set(by_id):
            raise PresentationError("credential_missing", "a requested credential is missing")
        return sorted(given)
    for cset in sets:
        if cset.get("required", True) and not any(set(o) <= given for o in cset["options"]):
            raise PresentationError("credential_missing", "no option of a credential set")
    return sorted(given)

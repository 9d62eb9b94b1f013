"""SD-JWT conformance: the 35 shared cases, the 18 negative cases, the 5 inline Disclosures.

Each case is run three ways: issue→present→verify with our own issuer and holder (claims
from `specification.yml`), verify-only of the generated presentation, and the
"disclose all" shortcut over the generated issuance. The KB-JWTs of the shared files were
made on 2026-11-22, so verification runs at that time (`NOW`), never at the wall clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec

from tests.vectors import load_index, load_json, vectors_root
from verifier import Reason, VerifierError
from verifier.formats import b64url_decode as _b64d
from verifier.formats import key_from_jwk, software_signer
from verifier.sdjwt import Sd, hash_disclosure, issue_sd_jwt, present_sd_jwt, verify_sd_jwt

INDEX = load_index("sd-jwt")
CASES: list[dict[str, Any]] = INDEX["cases"]
NEGATIVE = load_json("sd-jwt/negative-cases.json")
INLINE = load_json("sd-jwt/rfc9901-inline-disclosures.json")
NOW = 1795366506  # the KB-JWT iat of every generated presentation (2026-11-22)
NONCE = "1234567890"


def _sd_constructor(loader: yaml.SafeLoader, node: yaml.Node) -> Sd:
    if isinstance(node, yaml.MappingNode):
        return Sd(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Sd(loader.construct_sequence(node, deep=True))
    assert isinstance(node, yaml.ScalarNode)
    # resolve the scalar's type as if untagged (plain 42 is an int, quoted "42" a string)
    plain = node.style is None
    tag = loader.resolve(yaml.ScalarNode, node.value, (plain, not plain))
    untagged = yaml.ScalarNode(tag, node.value, node.start_mark, node.end_mark, node.style)
    return Sd(loader.construct_object(untagged, deep=True))


class _SpecLoader(yaml.SafeLoader):
    """YAML with the `!sd` tag of the sd-jwt test specifications."""


_SpecLoader.add_constructor("!sd", _sd_constructor)


def _yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_SpecLoader)


def _settings(case: dict[str, Any]) -> dict[str, Any]:
    folder = case["dir"].split("/")[0]
    settings: dict[str, Any] = _yaml(vectors_root() / "sd-jwt" / folder / "settings.yml")
    spec = _spec(case)
    if "settings_override" in spec:
        settings = {**settings, **spec["settings_override"]}
    return settings


def _spec(case: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = _yaml(vectors_root() / "sd-jwt" / case["dir"] / "specification.yml")
    return spec


def _issuer_jwks(settings: dict[str, Any]) -> list[dict[str, Any]]:
    keys = settings["key_settings"]
    found: list[dict[str, Any]] = keys.get("issuer_keys") or [keys["issuer_key"]]
    return found


def _private(jwk: dict[str, Any]) -> ec.EllipticCurvePrivateKey:
    d = int.from_bytes(_b64d(jwk["d"], reason=Reason.BAD_KEY), "big")
    return ec.derive_private_key(d, ec.SECP256R1())


def _public(jwk: dict[str, Any]) -> Any:
    return key_from_jwk({k: jwk[k] for k in ("kty", "crv", "x", "y")})


def _file(case: dict[str, Any], name: str) -> Any:
    """A generated output; `.json` of JSON-serialization cases hold a JSON string."""
    path = vectors_root() / "sd-jwt" / case["dir"] / name
    if name.endswith(".txt"):
        return path.read_text(encoding="utf-8").strip()
    return json.loads(path.read_text(encoding="utf-8"))


def _serialized(case: dict[str, Any], stem: str) -> str:
    if case["serialization"] == "json":
        text: str = _file(case, stem + ".json")
        return text
    text = _file(case, stem + ".txt")
    return text


def _paths(
    spec: Any, claims: Any, prefix: tuple[str | int, ...] = ()
) -> Iterator[tuple[str | int, ...]]:
    """`holder_disclosed_claims` as claim paths, with the reference holder's semantics.

    Walks beside the full claims (`user_claims.json`); choices for claims the credential
    does not have (w3c-vc_for_slide_deck names `credentialSubject`) select nothing.
    """
    if isinstance(spec, dict) and isinstance(claims, dict):
        for key, value in spec.items():
            if key not in claims:
                continue
            if isinstance(value, dict | list):
                if value:
                    yield (*prefix, key)
                yield from _paths(value, claims[key], (*prefix, key))
            elif value:
                yield (*prefix, key)
    elif isinstance(spec, list) and isinstance(claims, list):
        for position, value in enumerate(spec[: len(claims)]):
            if value is False or value is None:
                continue
            yield (*prefix, position)
            if isinstance(value, dict | list):
                yield from _paths(value, claims[position], (*prefix, position))


def _ids(case: dict[str, Any]) -> str:
    return str(case["dir"])


def test_the_index_lists_35_cases() -> None:
    assert len(CASES) == 35
    assert sum(c["serialization"] == "json" for c in CASES) == 4


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_issue_present_verify(case: dict[str, Any]) -> None:
    """Our issuer and holder, the case's claims and choice; the result equals the files."""
    settings, spec = _settings(case), _spec(case)
    issuer_jwk = _issuer_jwks(settings)[0]
    holder_jwk = settings["key_settings"]["holder_key"]
    payload = _file(case, "sd_jwt_payload.json")
    user_claims = _file(case, "user_claims.json")
    plain = {
        k: v
        for k, v in payload.items()
        if k not in user_claims and k not in ("_sd", "_sd_alg", "cnf")
    }
    plain_or_bound = {} if "cnf" in user_claims else payload
    extra = dict(spec.get("extra_header_parameters") or {})
    sd_jwt = issue_sd_jwt(
        {**plain, **spec["user_claims"]},
        sign=software_signer(_private(issuer_jwk)),
        typ=extra.pop("typ", "example+sd-jwt"),
        holder_jwk=_public_members(holder_jwk) if "cnf" in plain_or_bound else None,
        decoys=3 if spec.get("add_decoy_claims") else 0,
        extra_header=extra,
    )
    key_binding = bool(spec.get("key_binding"))
    aud = settings["identifiers"]["verifier"]
    presentation = present_sd_jwt(
        sd_jwt,
        list(_paths(spec["holder_disclosed_claims"], user_claims)),
        include_subtree=False,
        holder_sign=software_signer(_private(holder_jwk)) if key_binding else None,
        aud=aud,
        nonce=NONCE,
        iat=NOW,
    )
    result = verify_sd_jwt(
        presentation,
        issuer_key=_public(issuer_jwk),
        now=NOW,
        require_key_binding=key_binding,
        expected_aud=aud if key_binding else None,
        expected_nonce=NONCE if key_binding else None,
    )
    assert result.claims == _file(case, "verified_contents.json")
    assert result.key_bound is key_binding
    if "expect_verified_user_claims" in spec:
        issuer_set = set(plain) | {"cnf"}
        user_view = {k: v for k, v in result.claims.items() if k not in issuer_set}
        assert user_view == spec["expect_verified_user_claims"]


def _public_members(jwk: dict[str, Any]) -> dict[str, Any]:
    return {k: jwk[k] for k in ("kty", "crv", "x", "y")}


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_generated_presentation_verifies(case: dict[str, Any]) -> None:
    settings = _settings(case)
    key_binding = case["key_binding"]
    aud = settings["identifiers"]["verifier"]
    result = verify_sd_jwt(
        _serialized(case, "sd_jwt_presentation"),
        issuer_key=_public(_issuer_jwks(settings)[0]),
        now=NOW,
        require_key_binding=key_binding,
        expected_aud=aud if key_binding else None,
        expected_nonce=NONCE if key_binding else None,
    )
    assert result.claims == _file(case, "verified_contents.json")
    assert result.key_bound is key_binding
    if key_binding:
        assert _file(case, "kb_jwt_payload.json")["iat"] == NOW


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_issuance_discloses_everything(case: dict[str, Any]) -> None:
    payload = _file(case, "sd_jwt_payload.json")
    user_claims = _file(case, "user_claims.json")
    expected = {
        **{k: v for k, v in payload.items() if k not in ("_sd", "_sd_alg")},
        **user_claims,
    }
    result = verify_sd_jwt(
        _serialized(case, "sd_jwt_issuance"),
        issuer_key=_public(_issuer_jwks(_settings(case))[0]),
        now=NOW,
        require_key_binding=False,
    )
    assert result.claims == expected
    assert result.key_bound is False


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["dir"].endswith("json_serialization_general")], ids=_ids
)
def test_general_json_verifies_with_either_issuer_key(case: dict[str, Any]) -> None:
    settings = _settings(case)
    for jwk in _issuer_jwks(settings):
        result = verify_sd_jwt(
            _serialized(case, "sd_jwt_presentation"),
            issuer_key=_public(jwk),
            now=NOW,
            require_key_binding=True,
            expected_aud=settings["identifiers"]["verifier"],
            expected_nonce=NONCE,
        )
        assert result.header["kid"] == jwk["kid"]


@pytest.mark.parametrize("case", [c for c in CASES if c["decoys"]], ids=_ids)
def test_decoy_digests_are_in_the_payload_and_ignored(case: dict[str, Any]) -> None:
    decoys = _file(case, "decoy_digests.json")
    payload_text = json.dumps(_file(case, "sd_jwt_payload.json"))
    assert decoys
    assert all(d in payload_text for d in decoys)


# --------------------------------------------------------------------------- negative cases

EXPECTED_REASON: dict[str, Reason | None] = {
    "valid_reference": None,
    "unreferenced_disclosure": Reason.UNREFERENCED_DISCLOSURE,
    "duplicate_disclosure": Reason.DUPLICATE_DISCLOSURE,
    "missing_kb_when_required": Reason.KEY_BINDING_REQUIRED,
    "kb_wrong_nonce": Reason.WRONG_NONCE,
    "kb_wrong_aud": Reason.WRONG_AUDIENCE,
    "kb_sd_hash_over_other_disclosure_set": Reason.BAD_SD_HASH,
    "kb_wrong_typ": Reason.BAD_KB_JWT,
    "kb_signed_by_other_key": Reason.BAD_KB_JWT,
    "kb_iat_far_past": Reason.BAD_KB_JWT,
    "issuer_signature_invalid": Reason.BAD_SIGNATURE,
    "issuer_alg_none": Reason.UNSUPPORTED_ALG,
    "disclosure_claim_name__sd": Reason.BAD_DISCLOSURE,
    "disclosure_claim_name_ellipsis": Reason.BAD_DISCLOSURE,
    "disclosure_claim_name_already_present": Reason.CLAIM_COLLISION,
    "object_disclosure_with_two_elements": Reason.BAD_DISCLOSURE,
    "digest_repeated_in_payload": Reason.DUPLICATE_DIGEST,
    "expired_exp": Reason.EXPIRED,
}


def _verify_negative(case: dict[str, Any], *, require_key_binding: bool | None = None) -> Any:
    required = case["verifier_requires_key_binding"]
    return verify_sd_jwt(
        case["presentation"],
        issuer_key=key_from_jwk(NEGATIVE["issuer_public_jwk"]),
        now=NEGATIVE["generated_at_unix"],
        require_key_binding=required if require_key_binding is None else require_key_binding,
        expected_aud=case["expected_aud"],
        expected_nonce=case["expected_nonce"],
    )


def test_negative_cases_are_all_known() -> None:
    names = [c["name"] for c in NEGATIVE["cases"]]
    assert sorted(names) == sorted(EXPECTED_REASON)
    assert sum(c["expect"] == "reject" for c in NEGATIVE["cases"]) == 17


@pytest.mark.parametrize("case", NEGATIVE["cases"], ids=lambda c: c["name"])
def test_negative_case(case: dict[str, Any]) -> None:
    expected = EXPECTED_REASON[case["name"]]
    if case["expect"] == "accept":
        assert expected is None
        result = _verify_negative(case)
        assert result.key_bound
        assert result.claims["family_name"] == "Doe"
        return
    assert expected is not None
    with pytest.raises(VerifierError) as caught:
        _verify_negative(case)
    assert caught.value.reason is expected


def test_key_binding_follows_policy_not_presence() -> None:
    by_name = {c["name"]: c for c in NEGATIVE["cases"]}
    # without a policy requiring it, an SD-JWT without KB-JWT is fine ...
    result = _verify_negative(by_name["missing_kb_when_required"], require_key_binding=False)
    assert result.key_bound is False
    # ... and a KB-JWT that is present is still checked
    with pytest.raises(VerifierError) as caught:
        _verify_negative(by_name["kb_wrong_typ"], require_key_binding=False)
    assert caught.value.reason is Reason.BAD_KB_JWT


# --------------------------------------------------------------------------- inline Disclosures


@pytest.mark.parametrize("item", INLINE["disclosures"], ids=lambda d: d["label"])
def test_inline_disclosure_digest(item: dict[str, Any]) -> None:
    assert hash_disclosure(item["disclosure"]) == item["sha256_digest"]
    decoded = json.loads(_b64d(item["disclosure"], reason=Reason.BAD_DISCLOSURE))
    assert decoded == item["decoded"]


def test_inline_set_has_five_distinct_digests() -> None:
    digests = {d["sha256_digest"] for d in INLINE["disclosures"]}
    assert len(INLINE["disclosures"]) == 5 and len(digests) == 5
    spec = INLINE["spec_stated_digest"]
    assert hash_disclosure(spec["disclosure"]) == spec["sha256_digest"]

"""SD-JWT / SD-JWT VC: issuance options, the VC profile, bounds, refusals, hypothesis."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.verifier_examples import SD_AUD as AUD
from tests.support.verifier_examples import SD_EXP as EXP
from tests.support.verifier_examples import SD_HOLDER as HOLDER
from tests.support.verifier_examples import SD_HOLDER_SIGN as HOLDER_SIGN
from tests.support.verifier_examples import SD_ISS as ISS
from tests.support.verifier_examples import SD_ISSUER as ISSUER
from tests.support.verifier_examples import SD_NONCE as NONCE
from tests.support.verifier_examples import SD_NOW as NOW
from tests.support.verifier_examples import SD_PERMIT as PERMIT
from tests.support.verifier_examples import SD_PRESENTED as PRESENTED
from tests.support.verifier_examples import SD_SIGN as SIGN
from tests.support.verifier_examples import SD_VCT as VCT
from tests.support.verifier_examples import sd_issue as _issue
from tests.support.verifier_examples import sd_permit_claims as _permit_claims
from tests.support.verifier_examples import sd_present as _present
from tests.support.verifier_examples import sd_verify_vc as _verify_vc
from verifier import Reason, VerifierError
from verifier.formats import encode_jws, jws_kid, key_to_jwk, software_signer
from verifier.sdjwt import (
    ParsedSdJwt,
    Sd,
    StatusReference,
    issue_sd_jwt,
    parse_sd_jwt,
    present_sd_jwt,
    verify_sd_jwt,
    verify_sd_jwt_vc,
)

OTHER = ec.generate_private_key(ec.SECP256R1())


def _reason(call: Any, *args: Any, **kwargs: Any) -> Reason:
    with pytest.raises(VerifierError) as caught:
        call(*args, **kwargs)
    reason: Reason = caught.value.reason
    return reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _disclosure(*content: Any) -> str:
    return _b64(json.dumps(list(content)).encode())


def _digest(disclosure: str) -> str:
    return _b64(hashlib.sha256(disclosure.encode()).digest())


def _signed(payload: dict[str, Any], disclosures: list[str], typ: str = "dc+sd-jwt") -> str:
    body = json.dumps(payload, separators=(",", ":")).encode()
    jwt = encode_jws({"alg": "ES256", "typ": typ}, body, SIGN)
    return "~".join([jwt, *disclosures, ""])


BASE = {"iss": ISS, "vct": VCT, "exp": EXP, "_sd_alg": "sha-256"}


# --------------------------------------------------------------------------- round trip


def test_permit_round_trip() -> None:
    result = _verify_vc(PRESENTED, expected_vct=VCT)
    assert result.claims["plates"] == ["GE-AB 1234"]
    assert result.claims["holder_name"] == {"family_name": "Weiß"}
    assert result.status == StatusReference(idx=4711, uri=ISS + "/status/3")
    assert result.vct == VCT
    assert result.key_bound
    assert result.holder_jwk == key_to_jwk(HOLDER.public_key())
    assert result.header == {"alg": "ES256", "typ": "dc+sd-jwt", "kid": "k1"}
    assert set(result.disclosed_paths) == {
        ("plates",),
        ("plates", 0),
        ("holder_name",),
        ("holder_name", "family_name"),
    }


def test_a_presentation_parsed_once_verifies_like_its_text() -> None:
    parsed = parse_sd_jwt(PRESENTED)
    assert isinstance(parsed, ParsedSdJwt)
    # what a relying party reads to choose the key, before anything is verified
    assert parsed.header == {"alg": "ES256", "typ": "dc+sd-jwt", "kid": "k1"}
    assert parsed.payload["iss"] == ISS and parsed.payload["vct"] == VCT
    assert _verify_vc(parsed, expected_vct=VCT) == _verify_vc(PRESENTED, expected_vct=VCT)
    result = _verify_vc(parsed, expected_vct=VCT)
    assert result.holder_kid == jws_kid(HOLDER.public_key())
    # a parsed presentation is still checked in full: another key, a wrong nonce
    assert _reason(_verify_vc, parsed, issuer_key=OTHER.public_key()) is Reason.BAD_SIGNATURE
    assert _reason(_verify_vc, parsed, expected_nonce="other") is Reason.WRONG_NONCE
    # parsing alone applies the bounds and strictness of verification
    assert _reason(parse_sd_jwt, PRESENTED, max_chars=100) is Reason.TOO_LARGE
    assert _reason(parse_sd_jwt, "e30.e30.AA~~") is Reason.BAD_SD_JWT
    # without key binding there is no holder key to name
    unbound = _verify_vc(PRESENTED[: PRESENTED.rindex("~") + 1], require_key_binding=False)
    assert unbound.holder_kid is None and not unbound.key_bound


def test_subtree_is_disclosed_unless_asked_not_to() -> None:
    whole = _verify_vc(_present(PERMIT, [("holder_name",)]))
    assert whole.claims["holder_name"] == {"given_name": "Jürgen", "family_name": "Weiß"}
    shell = _verify_vc(_present(PERMIT, [("holder_name",)], include_subtree=False))
    assert shell.claims["holder_name"] == {}
    nothing = _verify_vc(_present(PERMIT, []))
    assert "plates" not in nothing.claims and nothing.claims["zones"] == ["A3"]


def test_unknown_claim_path_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        present_sd_jwt(PERMIT, [("birthdate",)])
    with pytest.raises(ValueError):
        present_sd_jwt(PERMIT, [("plates",)], holder_sign=HOLDER_SIGN)  # no aud/nonce/iat


def test_injected_salts_make_disclosures_deterministic() -> None:
    def salts() -> Any:
        counter = itertools.count()
        return lambda: f"salt-{next(counter)}"

    first = _issue(salt=salts()).split("~")[1:]
    second = _issue(salt=salts()).split("~")[1:]
    assert first == second
    assert json.loads(base64.urlsafe_b64decode(first[0] + "==")) == [
        "salt-0",
        "GE-AB 1234",
    ]


def test_default_salts_differ() -> None:
    assert _issue().split("~")[1:] != _issue().split("~")[1:]


def test_decoys_are_added_and_ignored() -> None:
    sd_jwt = _issue(decoys=4)
    payload = json.loads(base64.urlsafe_b64decode(sd_jwt.split(".")[1] + "=="))
    assert len(payload["_sd"]) == 2 + 4
    assert payload["_sd"] == sorted(payload["_sd"])
    result = _verify_vc(_present(sd_jwt, [("holder_name",)]))
    assert result.claims["holder_name"]["given_name"] == "Jürgen"


def test_eddsa_issuer() -> None:
    key = Ed25519PrivateKey.generate()
    sd_jwt = _issue(sign=software_signer(key), alg="EdDSA")
    presentation = _present(sd_jwt, [("plates",)])
    result = _verify_vc(presentation, issuer_key=key.public_key(), algorithms=("EdDSA",))
    assert result.claims["plates"] == ["GE-AB 1234", "GE-XY 99E"]
    assert _reason(_verify_vc, presentation, issuer_key=key.public_key()) is (
        Reason.UNSUPPORTED_ALG
    )


def test_issuer_refuses_misuse() -> None:
    with pytest.raises(ValueError):
        _issue({k: v for k, v in _permit_claims().items() if k != "vct"} | {Sd("vct"): VCT})
    with pytest.raises(ValueError):
        _issue({Sd("_sd"): 1})
    with pytest.raises(ValueError):
        _issue({"a": Sd(1)})
    with pytest.raises(ValueError):
        _issue(alg="none")
    with pytest.raises(ValueError):
        _issue(alg="HS256")
    with pytest.raises(ValueError):
        _issue({Sd("a"): 1, "a": 2})
    with pytest.raises(ValueError):
        _issue(holder_jwk={**key_to_jwk(HOLDER.public_key()), "d": "secret"})


# --------------------------------------------------------------------------- SD-JWT VC rules


def test_vc_requires_typ_dc_sd_jwt() -> None:
    sd_jwt = _issue(typ="example+sd-jwt")
    assert _reason(_verify_vc, _present(sd_jwt, [])) is Reason.BAD_SD_JWT
    # plain SD-JWT verification with the same typ expectation succeeds
    assert (
        verify_sd_jwt(
            sd_jwt, issuer_key=ISSUER.public_key(), now=NOW, require_key_binding=False
        ).claims["vct"]
        == VCT
    )


def test_vct_present_and_expected() -> None:
    claims = _permit_claims()
    del claims["vct"]
    assert _reason(_verify_vc, _present(_issue(claims), [])) is Reason.BAD_VCT
    assert _reason(_verify_vc, PRESENTED, expected_vct=ISS + "/vct/residence") is Reason.BAD_VCT


@pytest.mark.parametrize("name", ["iss", "exp", "nbf", "cnf", "vct", "status"])
def test_vc_claims_that_must_stay_plain(name: str) -> None:
    values = {"iss": ISS, "exp": EXP, "nbf": NOW - 5, "cnf": {"jwk": {}}, "vct": VCT}
    values["status"] = {"status_list": {"idx": 1, "uri": ISS}}
    claims = {k: v for k, v in _permit_claims().items() if k != name}
    claims[Sd(name)] = values[name]
    # typ is set through extra_header so the issuer's own guard does not stop the test
    sd_jwt = _issue(claims, typ="x", extra_header={"typ": "dc+sd-jwt"}, holder_jwk=None)
    presentation = present_sd_jwt(sd_jwt, [(name,)])
    assert _reason(_verify_vc, presentation, require_key_binding=False) is Reason.BAD_CLAIMS


@pytest.mark.parametrize(
    "status",
    [
        "revoked",
        {"status_list": {"idx": -1, "uri": ISS}},
        {"status_list": {"idx": True, "uri": ISS}},
        {"status_list": {"idx": 3}},
        {"status_list": [1, ISS]},
    ],
)
def test_bad_status_reference(status: Any) -> None:
    sd_jwt = _issue(_permit_claims(status=status))
    assert _reason(_verify_vc, _present(sd_jwt, [])) is Reason.BAD_CLAIMS


def test_other_status_mechanisms_are_not_surfaced() -> None:
    sd_jwt = _issue(_permit_claims(status={"other": {"x": 1}}))
    assert _verify_vc(_present(sd_jwt, [])).status is None


# --------------------------------------------------------------------------- time


def test_exp_is_exclusive_with_leeway() -> None:
    assert _verify_vc(PRESENTED, now=EXP - 1, leeway_seconds=0, kb_max_age_seconds=10**9)
    reason = _reason(_verify_vc, PRESENTED, now=EXP, leeway_seconds=0, kb_max_age_seconds=10**9)
    assert reason is Reason.EXPIRED
    assert _verify_vc(PRESENTED, now=EXP + 59, kb_max_age_seconds=10**9)


def test_nbf_in_the_future() -> None:
    sd_jwt = _issue(_permit_claims(nbf=NOW + 3600))
    assert _reason(_verify_vc, _present(sd_jwt, [])) is Reason.NOT_YET_VALID


@pytest.mark.parametrize("value", ["1780000000", 1.5e9, True, None])
def test_times_must_be_integers(value: Any) -> None:
    sd_jwt = _issue(_permit_claims(exp=value))
    assert _reason(_verify_vc, _present(sd_jwt, [])) is Reason.BAD_CLAIMS


@pytest.mark.parametrize("offset", [-301 - 60, 61])
def test_kb_jwt_iat_window(offset: int) -> None:
    presentation = _present(PERMIT, [], iat=NOW + offset)
    assert _reason(_verify_vc, presentation) is Reason.BAD_KB_JWT


# --------------------------------------------------------------------------- key binding


def test_key_binding_checks() -> None:
    assert _reason(_verify_vc, _present(PERMIT, [], holder_sign=None)) is (
        Reason.KEY_BINDING_REQUIRED
    )
    signed_by_other = _present(PERMIT, [], holder_sign=software_signer(OTHER))
    assert _reason(_verify_vc, signed_by_other) is Reason.BAD_KB_JWT
    assert _reason(_verify_vc, PRESENTED, expected_nonce="other") is Reason.WRONG_NONCE
    assert _reason(_verify_vc, PRESENTED, expected_aud="https://x.example") is (
        Reason.WRONG_AUDIENCE
    )
    # a Disclosure dropped after signing the KB-JWT breaks sd_hash
    *parts, kb = PRESENTED.split("~")
    dropped = "~".join([*parts[:-2], kb])  # the last Disclosure is gone
    assert _reason(_verify_vc, dropped) is Reason.BAD_SD_HASH
    with pytest.raises(ValueError):
        verify_sd_jwt_vc(
            PRESENTED, issuer_key=ISSUER.public_key(), now=NOW, require_key_binding=True
        )


def test_kb_jwt_without_cnf() -> None:
    sd_jwt = _issue(holder_jwk=None)
    assert _reason(_verify_vc, _present(sd_jwt, [])) is Reason.KEY_BINDING_REQUIRED


def test_kb_jwt_alg_none() -> None:
    jwt = PRESENTED.rsplit("~", 1)[0] + "~"
    header = _b64(json.dumps({"alg": "none", "typ": "kb+jwt"}).encode())
    body = _b64(json.dumps({"iat": NOW, "aud": AUD, "nonce": NONCE, "sd_hash": "x"}).encode())
    assert _reason(_verify_vc, jwt + header + "." + body + ".") is Reason.UNSUPPORTED_ALG


# --------------------------------------------------------------------------- structure


def test_wrong_issuer_key_and_pinned_algorithms() -> None:
    assert _reason(_verify_vc, PRESENTED, issuer_key=OTHER.public_key()) is Reason.BAD_SIGNATURE
    with pytest.raises(ValueError):
        _verify_vc(PRESENTED, algorithms=("ES256", "none"))


def test_object_disclosure_behind_array_digest() -> None:
    d = _disclosure("salt", "name", "x")
    presentation = _signed({**BASE, "list": [{"...": _digest(d)}]}, [d])
    assert _reason(_verify_vc, presentation, require_key_binding=False) is Reason.BAD_DISCLOSURE


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({**BASE, "_sd": "abc"}, Reason.BAD_SD_JWT),
        ({**BASE, "_sd": [1]}, Reason.BAD_SD_JWT),
        ({**BASE, "_sd_alg": "sha-512"}, Reason.BAD_SD_JWT),
        ({**BASE, "a": [{"...": 5}]}, Reason.BAD_SD_JWT),
        ({**BASE, "cnf": "key"}, Reason.BAD_CLAIMS),
    ],
)
def test_malformed_payloads(payload: dict[str, Any], reason: Reason) -> None:
    assert _reason(_verify_vc, _signed(payload, []), require_key_binding=False) is reason


@pytest.mark.parametrize(
    "disclosure",
    [
        _b64(b"not json"),
        _disclosure("salt"),
        _disclosure("salt", "a", 1, 2),
        _disclosure(1, "a", 1),
        _disclosure("salt", 5, 1),
        _b64(b'{"salt": "a"}'),
        "has space",
        "YQ=",
    ],
)
def test_malformed_disclosures(disclosure: str) -> None:
    presentation = _signed({**BASE, "_sd": [_digest(disclosure)]}, [disclosure])
    reason = _reason(_verify_vc, presentation, require_key_binding=False)
    assert reason in (Reason.BAD_DISCLOSURE, Reason.BAD_SD_JWT)


def test_duplicate_json_member_names() -> None:
    header = _b64(b'{"alg":"ES256","typ":"dc+sd-jwt"}')
    body = _b64(b'{"iss":"a","iss":"b","vct":"x"}')
    signing_input = (header + "." + body).encode()
    token = header + "." + body + "." + _b64(SIGN(signing_input)) + "~"
    assert _reason(_verify_vc, token, require_key_binding=False) is Reason.BAD_JWS


def test_bounds() -> None:
    assert _reason(_verify_vc, PRESENTED, max_chars=100) is Reason.TOO_LARGE
    assert _reason(_verify_vc, PRESENTED, max_disclosures=1) is Reason.TOO_LARGE
    deep: Any = "leaf"
    for _ in range(10):
        deep = {"n": deep}
    presentation = _signed({**BASE, "deep": deep}, [])
    assert _reason(_verify_vc, presentation, require_key_binding=False, max_depth=5) is (
        Reason.TOO_LARGE
    )
    too_deep = "[" * 100_000 + "]" * 100_000
    token = _b64(b'{"alg":"ES256"}') + "." + _b64(too_deep.encode()) + ".AA~"
    assert _reason(_verify_vc, token, max_chars=10**6) in (Reason.TOO_LARGE, Reason.BAD_JWS)


@pytest.mark.parametrize("text", ["", "~", "a~", "a.b~", "a.b.c.d~", "é.b.c~", "{}", "{", "[]"])
def test_garbage(text: str) -> None:
    assert isinstance(_reason(_verify_vc, text), Reason)


# --------------------------------------------------------------------------- hypothesis


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600))
def test_random_text_is_rejected_with_a_reason(text: str) -> None:
    assert isinstance(_reason(_verify_vc, text), Reason)


@settings(max_examples=150, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=4), children, max_size=3)
        ),
        max_leaves=12,
    ),
    st.lists(st.lists(st.none() | st.integers() | st.text(max_size=4), max_size=4), max_size=4),
)
def test_random_payloads_and_disclosures(body: Any, disclosure_contents: list[list[Any]]) -> None:
    disclosures = [_disclosure(*c) for c in disclosure_contents]
    digests = [_digest(d) for d in disclosures]
    payload = {**BASE, "_sd": digests[:2], "x": body, "y": [{"...": d} for d in digests[2:]]}
    presentation = _signed(payload, disclosures)
    try:
        _verify_vc(presentation, require_key_binding=False)
    except VerifierError as exc:
        assert isinstance(exc.reason, Reason)


def test_expected_issuer() -> None:
    assert _verify_vc(PRESENTED, expected_iss=ISS).claims["iss"] == ISS
    assert _reason(_verify_vc, PRESENTED, expected_iss="https://other.example") is (
        Reason.UNKNOWN_ISSUER
    )


def test_json_serialization_signature_count_is_bounded() -> None:
    jwt = PRESENTED.split("~")[0]
    protected, payload, signature = jwt.split(".")
    entry = {"protected": protected, "signature": signature, "header": {}}
    first = {**entry, "header": {"disclosures": []}}
    document = {"payload": payload, "signatures": [first] + [entry] * 5}
    presentation = json.dumps(document)
    assert _reason(_verify_vc, presentation, require_key_binding=False) is Reason.TOO_LARGE
    document["signatures"] = [first]
    assert _verify_vc(json.dumps(document), require_key_binding=False).claims["vct"] == VCT


def _plain(value: Any) -> Any:
    """The claims without their `Sd` marks: what a full disclosure must give back."""
    if isinstance(value, dict):
        return {(k.value if isinstance(k, Sd) else k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v.value if isinstance(v, Sd) else v) for v in value]
    return value


_REGISTERED = {"iss", "iat", "nbf", "exp", "vct", "vct#integrity", "cnf", "status", "_sd_alg"}
_leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=6)
_names = st.text(min_size=1, max_size=5).filter(lambda n: n not in ("_sd", "...", "_sd_alg"))


def _marked(children: Any) -> Any:
    return st.lists(st.one_of(children, children.map(Sd)), max_size=3) | st.dictionaries(
        st.one_of(_names, _names.map(Sd)), children, max_size=3
    ).filter(lambda d: len({k.value if isinstance(k, Sd) else k for k in d}) == len(d))


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.one_of(_names, _names.map(Sd)).filter(
            lambda k: (k.value if isinstance(k, Sd) else k) not in _REGISTERED
        ),
        st.recursive(_leaves, _marked, max_leaves=10),
        max_size=4,
    ).filter(lambda d: len({k.value if isinstance(k, Sd) else k for k in d}) == len(d)),
    st.integers(min_value=0, max_value=2),
)
def test_full_disclosure_round_trip(claims: dict[Any, Any], decoys: int) -> None:
    sd_jwt = issue_sd_jwt(
        {"iss": ISS, "vct": VCT, "exp": EXP, **claims},
        sign=SIGN,
        holder_jwk=key_to_jwk(HOLDER.public_key()),
        decoys=decoys,
    )
    presentation = _present(sd_jwt, [(name,) for name in _plain(claims)])
    result = _verify_vc(presentation)
    shown = {k: v for k, v in result.claims.items() if k not in _REGISTERED}
    assert shown == _plain(claims)

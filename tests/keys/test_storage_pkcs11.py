"""PKCS#11 backend against a real SoftHSM2 token: generate, sign, verify, not extractable."""

from __future__ import annotations

from collections.abc import Iterator

import pkcs11
import pytest
from pkcs11 import Attribute, ObjectClass

from keys.errors import KeysCode, Pkcs11Error
from keys.signer import Signer
from keys.storage.pkcs11 import DEFAULT_MODULE, MODULE_ENV, Pkcs11Token, module_path
from tests.keys.conftest import SoftHsm
from verifier import SignatureError
from verifier.formats import Alg, cose_kid, jws_kid, thumbprint, verify_signature


def _open(softhsm: SoftHsm) -> Pkcs11Token:
    return Pkcs11Token.open(token_label=softhsm.token_label, pin=softhsm.pin, module=softhsm.module)


@pytest.fixture()
def token(softhsm: SoftHsm) -> Iterator[Pkcs11Token]:
    with Pkcs11Token.open(
        token_label=softhsm.token_label, pin=softhsm.pin, module=softhsm.module
    ) as tok:
        yield tok


@pytest.mark.parametrize("alg", [Alg.ES256, Alg.EDDSA], ids=["es256", "ed25519"])
def test_generate_sign_verify_with_exported_public_key(token: Pkcs11Token, alg: Alg) -> None:
    signer = token.generate_key(alg, label="test")
    assert isinstance(signer, Signer)
    assert signer.alg == alg
    message = b"Signature1 over something"
    signature = signer.sign(message)
    assert len(signature) == 64
    verify_signature(signer.public_key, alg, message, signature)
    with pytest.raises(SignatureError):
        verify_signature(signer.public_key, alg, message + b"!", signature)
    assert signer.thumbprint == thumbprint(signer.public_key)
    assert signer.cose_kid == cose_kid(signer.public_key)
    assert signer.jws_kid == jws_kid(signer.public_key)


@pytest.mark.parametrize("alg", [Alg.ES256, Alg.EDDSA], ids=["es256", "ed25519"])
def test_key_is_found_again_by_id(token: Pkcs11Token, alg: Alg) -> None:
    created = token.generate_key(alg, label="again")
    found = token.signer(created.key_id, alg)
    assert found.thumbprint == created.thumbprint
    verify_signature(created.public_key, alg, b"m", found.sign(b"m"))


@pytest.mark.parametrize("alg", [Alg.ES256, Alg.EDDSA], ids=["es256", "ed25519"])
def test_private_key_is_not_extractable(softhsm: SoftHsm, token: Pkcs11Token, alg: Alg) -> None:
    signer = token.generate_key(alg, label="secret")
    lib = pkcs11.lib(softhsm.module)
    # the application is logged in through `token`; a plain session sees its private objects
    with lib.get_token(token_label=softhsm.token_label).open() as session:
        private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=signer.key_id)
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.NEVER_EXTRACTABLE] is True
        with pytest.raises(pkcs11.AttributeSensitive):
            private[Attribute.VALUE]


def test_repr_shows_no_secret(token: Pkcs11Token) -> None:
    signer = token.generate_key(Alg.ES256, label="r")
    assert signer.jws_kid in repr(signer)
    assert "pin" not in repr(token).lower()


def test_unknown_key_id(token: Pkcs11Token) -> None:
    with pytest.raises(Pkcs11Error) as info:
        token.signer(b"\x00" * 16, Alg.ES256)
    assert info.value.code is KeysCode.PKCS11_KEY_NOT_FOUND


def test_destroyed_key_is_gone(token: Pkcs11Token) -> None:
    signer = token.generate_key(Alg.ES256, label="gone")
    token.destroy_key(signer.key_id)
    with pytest.raises(Pkcs11Error) as info:
        token.signer(signer.key_id, Alg.ES256)
    assert info.value.code is KeysCode.PKCS11_KEY_NOT_FOUND


def test_two_tokens_open_at_once_and_close_in_any_order(softhsm: SoftHsm) -> None:
    first = Pkcs11Token.open(
        token_label=softhsm.token_label, pin=softhsm.pin, module=softhsm.module
    )
    second = Pkcs11Token.open(
        token_label=softhsm.token_label, pin=softhsm.pin, module=softhsm.module
    )
    signer = first.generate_key(Alg.ES256, label="shared")
    first.close()
    verify_signature(
        signer.public_key, Alg.ES256, b"m", second.signer(signer.key_id, Alg.ES256).sign(b"m")
    )
    second.close()
    second.close()  # idempotent


def test_wrong_pin_while_logged_in(token: Pkcs11Token, softhsm: SoftHsm) -> None:
    with pytest.raises(Pkcs11Error) as info:
        Pkcs11Token.open(token_label=softhsm.token_label, pin="000000", module=softhsm.module)
    assert info.value.code is KeysCode.PKCS11_LOGIN


def test_wrong_pin(softhsm: SoftHsm) -> None:
    with pytest.raises(Pkcs11Error) as info:
        Pkcs11Token.open(token_label=softhsm.token_label, pin="000000", module=softhsm.module)
    assert info.value.code is KeysCode.PKCS11_LOGIN


def test_unknown_token(softhsm: SoftHsm) -> None:
    with pytest.raises(Pkcs11Error) as info:
        Pkcs11Token.open(token_label="no-such-token", pin=softhsm.pin, module=softhsm.module)
    assert info.value.code is KeysCode.PKCS11_NO_TOKEN


def test_missing_module(tmp_path: object) -> None:
    with pytest.raises(Pkcs11Error) as info:
        Pkcs11Token.open(token_label="x", pin="1", module="/nonexistent/libpkcs11.so")
    assert info.value.code is KeysCode.PKCS11_UNAVAILABLE


def test_module_path_from_environment() -> None:
    assert module_path({}) == DEFAULT_MODULE
    assert module_path({MODULE_ENV: "/opt/hsm/lib.so"}) == "/opt/hsm/lib.so"

"""The QR codes the pages draw (one fixed mask, `wallet_api.relying_party.pages.qr_symbol`)
read back: links of every length a login page, a consent page or a wallet offer shows, with
random tokens in them, rendered and decoded by the officer's QR reader."""

from __future__ import annotations

import io
import random
import string

import pytest
from PIL import Image

from verifier.handheld import read_qr_texts_from_image
from wallet_api.relying_party.pages import qr_svg, qr_symbol

_TOKEN = string.ascii_letters + string.digits + "-_"


def _link(rng: random.Random, length: int) -> str:
    head = "openid4vp://?client_id=x509_san_dns%3Aportal.stadt.example&request_uri=https%3A%2F%2F"
    return head + "".join(rng.choice(_TOKEN) for _ in range(max(0, length - len(head))))


@pytest.mark.parametrize("length", [90, 150, 200, 260, 330])
def test_a_pages_qr_code_reads_back(length: int) -> None:
    rng = random.Random(length)
    for _ in range(8):
        link = _link(rng, length)
        buffer = io.BytesIO()
        qr_symbol(link).save(buffer, kind="png", scale=4, border=4)
        buffer.seek(0)
        assert read_qr_texts_from_image(Image.open(buffer)) == [link]


def test_the_svg_is_an_image_named_by_its_title() -> None:
    svg = qr_svg("openid4vp://?request_uri=x", "QR-Code für die Wallet")
    assert svg.startswith('<svg role="img" ') and "<title>QR-Code für die Wallet</title>" in svg

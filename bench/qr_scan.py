"""Smallest QR module size (pixels per module) that ``buergerid-verify scan`` still reads.

    .venv/bin/python bench/qr_scan.py

A real permit token from tests/vectors/verify.json is rendered with qrcode and with segno
(error correction Q, 4-module quiet zone) at 8 px per module, resampled to fractional
module sizes (what a camera at some distance sees), then degraded three ways: clean;
"mild" (5° rotation, 0.5 px blur, light noise); "rough" (15° rotation, blur of 0.4
modules, noise, JPEG quality 60). For each it reports the smallest module size at which
every one of three noise seeds reads back the exact text.
"""

from __future__ import annotations

# ruff: noqa: E402  (the repository root goes on sys.path before our imports)
import io
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import qrcode
import qrcode.constants
import segno
from PIL import Image, ImageFilter

from verifier.handheld import read_qr_texts_from_image

SIZES = [1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0, 3.5, 4.0, 5.0, 6.0]
SEEDS = (1, 2, 3)


def render(text: str, lib: str, module_px: int = 8) -> Image.Image:
    if lib == "qrcode":
        qr = qrcode.QRCode(
            error_correction=qrcode.constants.ERROR_CORRECT_Q, box_size=module_px, border=4
        )
        qr.add_data(text)
        qr.make(fit=True)
        return qr.make_image().get_image().convert("L")
    buf = io.BytesIO()
    segno.make(text, error="q", boost_error=False).save(buf, kind="png", scale=module_px, border=4)
    buf.seek(0)
    return Image.open(buf).convert("L")


def degrade(image: Image.Image, module_px: float, kind: str, seed: int) -> Image.Image:
    factor = module_px / 8
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    out = image.resize(size, Image.Resampling.BOX)
    if kind == "clean":
        return out
    angle, blur, noise = (5.0, 0.5, 12.0) if kind == "mild" else (15.0, 0.4 * module_px, 25.0)
    out = out.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)
    out = out.filter(ImageFilter.GaussianBlur(blur))
    rng = random.Random(seed)
    grain = bytes(
        min(255, max(0, round(rng.gauss(128, noise)))) for _ in range(out.width * out.height)
    )
    out = Image.blend(out, Image.frombytes("L", out.size, grain), 0.25)
    if kind == "rough":
        buf = io.BytesIO()
        out.save(buf, "JPEG", quality=60)
        buf.seek(0)
        out = Image.open(buf).convert("L")
    return out


def reads(text: str, base: Image.Image, module_px: float, kind: str) -> bool:
    return all(
        read_qr_texts_from_image(degrade(base, module_px, kind, seed)) == [text] for seed in SEEDS
    )


def main() -> int:
    vectors = json.loads((REPO / "tests" / "vectors" / "verify.json").read_text("utf-8"))
    text = next(c["input"] for c in vectors["cases"] if c["name"] == "valid_es256")
    symbol = segno.make(text, error="q", boost_error=False)
    print(f"token: {len(text)} characters, QR version {symbol.version} ({symbol.mode}, Q)")
    smallest: dict[str, float] = {}
    for kind in ("clean", "mild", "rough"):
        for lib in ("qrcode", "segno"):
            base = render(text, lib)
            row = [(size, reads(text, base, size, kind)) for size in SIZES]
            marks = " ".join(f"{size:g}:{'ok' if good else '--'}" for size, good in row)
            print(f"{kind:5s} {lib:6s} {marks}")
            # smallest size from which every larger size also reads
            best = None
            for size, good in reversed(row):
                if not good:
                    break
                best = size
            smallest[f"{kind}/{lib}"] = best if best is not None else float("nan")
    for key, value in smallest.items():
        print(f"smallest_module_px[{key}]={value:g}")
    print(f"smallest_module_px_all_conditions={max(smallest.values()):g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

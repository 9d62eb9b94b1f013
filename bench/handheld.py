"""The handheld's speed: camera frame → verdict, and a 100,000-plate index, on one core.

    .venv/bin/python bench/handheld.py            # full run
    .venv/bin/python bench/handheld.py --quick    # smaller sizes, for a smoke test

1. A 1280×720 grey camera frame holding a permit QR code (about 5 px per module, light
   noise) → verdict (zxing-cpp finds the code, ``verify`` checks it), against ``verify`` of
   the same text (what ``check`` does per code): ``ratio_frame_to_verdict_vs_check``.
2. Frames per second the app sustains: ``POST /api/frame`` of that frame to the app on
   127.0.0.1, one request after another, server in this process (the GIL makes it one core):
   ``app_frames_per_second`` and ``ratio_app_frame_vs_frame_to_verdict`` (HTTP, JSON, shift
   log on top of the decode).
3. A plate index of 100,000 plates: ``sync`` once, then ``load`` (signature verified, the
   compact form read) against the strict decode of the same index
   (``ratio_plate_index_load_vs_strict_decode``), and ``verify_plate`` lookups per second.
   Targets: load ≤ 0.3 s, ≥ 100,000 lookups per second.
"""

from __future__ import annotations

# ruff: noqa: E402  (the repository root goes on sys.path before our imports)
import argparse
import hashlib
import http.client
import io
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import segno
from PIL import Image

from bench.verify import load_generator, per_call
from verifier import DataDir, verify, verify_plate
from verifier.formats import (
    TYP_PLATE_INDEX,
    Alg,
    PlateEntry,
    PlateIndex,
    decode_plate_index_payload,
    encode_plate_index_payload,
    encode_sign1,
    plate_key,
    software_signer,
)
from verifier.handheld import App, AppServer, read_qr_texts_from_image


def camera_frame(text: str) -> bytes:
    buf = io.BytesIO()
    segno.make(text, error="q").save(buf, kind="png", scale=5, border=4)
    buf.seek(0)
    symbol = Image.open(buf).convert("L")
    frame = Image.new("L", (1280, 720), 200)
    frame.paste(symbol, (400, 120))
    rng = random.Random(3)
    noise = bytes(rng.randrange(0, 24) for _ in range(1280 * 720))
    pixels = bytes(max(0, p - n) for p, n in zip(frame.tobytes(), noise, strict=True))
    return pixels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    gen = load_generator()
    now = gen.NOW
    tmp = Path(tempfile.mkdtemp(prefix="bench-handheld-"))
    data_dir = DataDir(tmp / "main")
    spec = gen.build()["stores"]["main"]
    for anchor in spec["anchors"]:
        data_dir.add_anchor(bytes.fromhex(anchor))
    for blob in spec["sync"]:
        data_dir.sync_bytes(bytes.fromhex(blob))
    store = data_dir.load()
    text = gen.token()
    pixels = camera_frame(text)

    # 1. frame → verdict against check of the text
    def frame_to_verdict() -> None:
        found = read_qr_texts_from_image(Image.frombytes("L", (1280, 720), pixels))
        assert verify(found[0], store, now).outcome == "valid"

    frame_to_verdict()
    t_frame = per_call(frame_to_verdict, repeat=5)
    t_check = per_call(lambda: verify(text, store, now), repeat=5)
    print(f"1280x720 frame -> verdict {t_frame * 1e3:.1f} ms; check of the text "
          f"{t_check * 1e6:.0f} µs")  # fmt: skip

    # 2. the app over HTTP on 127.0.0.1
    app = App(data_dir, environ={"BUERGERID_VERIFY_MUNICIPALITY": gen.ISS_A}, clock=lambda: now)
    server = AppServer(app, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"X-CSRF-Token": app.csrf, "X-Frame-Width": "1280", "X-Frame-Height": "720",
               "Content-Type": "application/octet-stream"}  # fmt: skip
    n_frames = 10 if args.quick else 60
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(n_frames):
        conn.request("POST", "/api/frame", body=pixels, headers=headers)
        resp = conn.getresponse()
        assert resp.status == 200 and b'"valid"' in resp.read()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    server.shutdown()
    fps = n_frames / max(wall, cpu)
    print(f"app: {n_frames} frames in {wall:.2f} s wall, {cpu:.2f} s CPU")

    # 3. plate index of 100,000 plates
    n_plates = 10_000 if args.quick else 100_000
    salt = hashlib.sha256(b"bench").digest()[:16]
    plates = [
        f"GE-{chr(65 + i % 26)}{chr(65 + i // 26 % 26)} {1 + i // 676}" for i in range(n_plates)
    ]
    entries = {
        plate_key(salt, p): (
            PlateEntry(10_000 + i, 1, 10, now - 86400, now + 86400 * 30, ("A3",), "BEW"),
        )
        for i, p in enumerate(plates)
    }
    index = PlateIndex(iss=gen.ISS_A, iat=now - 3600, exp=now + 86400, salt=salt, entries=entries)
    payload = encode_plate_index_payload(index)
    sign = software_signer(gen.A1.priv)
    blob = encode_sign1(
        payload, alg=Alg.ES256, kid=gen.A1.kid, sign=sign, content_type=TYP_PLATE_INDEX
    )
    started = time.process_time()
    data_dir.sync_bytes(blob)
    t_sync = time.process_time() - started
    t_load = per_call(lambda: data_dir.load(), repeat=3, min_time=0.5)
    t_strict = per_call(lambda: decode_plate_index_payload(payload), repeat=3, min_time=0.5)
    loaded = data_dir.load()
    rng = random.Random(7)
    sample = [rng.choice(plates) for _ in range(1000)]
    assert all(verify_plate(p, loaded, now).outcome == "valid" for p in sample[:20])
    it = iter(sample * 1000)
    t_lookup = per_call(lambda: verify_plate(next(it), loaded, now), repeat=5)
    print(f"plate index of {n_plates:,} plates ({len(blob) / 1e6:.1f} MB): sync {t_sync:.2f} s, "
          f"load {t_load:.3f} s (strict decode {t_strict:.2f} s), "
          f"{1 / t_lookup:,.0f} lookups/s ({t_lookup * 1e6:.1f} µs)")  # fmt: skip
    print(f"ratio_frame_to_verdict_vs_check={t_frame / t_check:.1f}")
    print(f"app_frames_per_second={fps:.1f}")
    print(f"ratio_app_frame_vs_frame_to_verdict={(max(wall, cpu) / n_frames) / t_frame:.2f}")
    print(f"plate_index_load_seconds={t_load:.3f}")
    print(f"ratio_plate_index_load_vs_strict_decode={t_load / t_strict:.3f}")
    print(f"plate_lookups_per_second={1 / t_lookup:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""docs/dev/verifier-api.md works as written: its Python blocks run in order as one program."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "dev" / "verifier-api.md"


def test_the_python_blocks_run_in_order() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 4  # issue and check, SD-JWT, sync
    namespace: dict[str, object] = {"__name__": "verifier_api_doc"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, str(DOC), "exec"), namespace)
    assert "'outcome': 'valid'" in out.getvalue()

"""atheris: the bulk import's line parser (NDJSON and CSV): every line a row or one error.

The only refusal allowed as a whole is a CSV header that cannot be read (InvalidRequest);
anything else raised, or a line judged twice, is a finding.
"""

from __future__ import annotations

import io

import atheris
from _common import run

with atheris.instrument_imports(include=["issuer.services.imports", "issuer.text"]):
    from issuer.errors import InvalidRequest
    from issuer.services.imports import ImportFormat, ImportReport, read_rows

HEADER = b"external_ref,given_name,family_name,street,house_number,postcode,valid_from\n"


def _judge(data: bytes, fmt: ImportFormat) -> None:
    report = ImportReport(kind="residents", import_id="fuzz")
    try:
        rows = [number for number, _ in read_rows(io.BytesIO(data), fmt, report)]
    except InvalidRequest:
        if fmt is ImportFormat.CSV:
            return
        raise
    judged = rows + [e.line for e in report.errors]
    if len(judged) != len(set(judged)):
        raise AssertionError("a line judged twice")


def target(data: bytes) -> None:
    _judge(data, ImportFormat.NDJSON)
    _judge(HEADER + data, ImportFormat.CSV)


def seeds() -> list[bytes]:
    return [
        b'{"external_ref":"MR-1","given_name":"Erika","family_name":"Mustermann"}\n',
        b'{"external_ref":"MR-1","given_name":"A","given_name":"B","family_name":"C"}\n',
        b'{"external_ref":"MR-2","given_name":"Er\\u0000ika","family_name":"M"}\n',
        b"[" * 3000 + b"\n",
        b"MR-1,Erika,Mustermann,Bahnhofstr.,12a,45879,2020-04-01\n",
        b'MR-1,"Hans, Peter",Beispiel,,,,\n\xef\xbb\xbfMR-2,\xff,x,,,,\n',
    ]


if __name__ == "__main__":
    run(target, seeds)

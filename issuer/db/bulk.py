"""Many rows in one statement: the batch writes of the jobs (thousands of rows each).

A plain `executemany` sends PostgreSQL one INSERT or UPDATE per row (pipelined, but the
driver still builds a message per row, and the server binds and runs each). On PostgreSQL
these functions send the rows as one JSON array instead (serialised by the json module's C
encoder), which the statement reads back as typed rows with `json_to_recordset` — one
statement, one round trip, whatever the number of rows. SQLite runs `executemany` in the
process, which is as fast.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Table, bindparam, cast, column, func, insert, select

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.sql.selectable import TableValuedAlias


def is_postgresql(connection: Connection) -> bool:
    """True when `connection` talks to PostgreSQL (the JSON array path applies)."""
    return connection.dialect.name == "postgresql"


def _json_value(value: object) -> object:
    """The JSON form of a value the json module has none for (PostgreSQL reads it back)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime; pass an aware UTC datetime")
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"no JSON form for {type(value).__name__}")


def rows_source(
    table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]], name: str = "rows"
) -> tuple[TableValuedAlias, dict[str, str]]:
    """PostgreSQL: `rows` as a table (`json_to_recordset(:name) AS anon(col type, ...)`) whose
    columns are typed like `table`'s columns of the same names, and the parameter that fills
    it. Select from it, or join an UPDATE with it (`UPDATE ... FROM`)."""
    typed = [column(c, table.c[c].type) for c in columns]
    doc = json.dumps(
        [{c: row[c] for c in columns} for row in rows],
        default=_json_value,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    source = (
        func.json_to_recordset(cast(bindparam(name), JSON))
        .table_valued(*typed)
        .render_derived(with_types=True)
    )
    return source, {name: doc}


def insert_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys, the table's column names) into `table`."""
    if not rows:
        return
    if not is_postgresql(connection):
        connection.execute(insert(table), list(rows))
        return
    columns = list(rows[0])
    source, params = rows_source(table, columns, rows)
    stmt = insert(table).from_select(columns, select(*(source.c[c] for c in columns)))
    connection.execute(stmt, params)

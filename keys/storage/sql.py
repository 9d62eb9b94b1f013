"""Key rings in the shared database (SQLAlchemy Core), so app servers keep nothing on disk.

Two tables (created by the issuer's migration 0016):

    key_rings       name (primary key), issuer_id, metadata (the ring.json document, text),
                    version (bumped by every mutation)
    key_ring_blobs  ring, name (primary key together), data: an encrypted key file's bytes,
                    exactly as keys/storage/file.py writes them (already encrypted under the
                    passphrase; the database never sees a plain key). HSM keys stay in their
                    token; the metadata holds only their handles (token label and CKA_ID).

Two more (migration 0017) hold the small key directories of keys/storage/documents.py, the
issuing CA and the relying party's identity:

    key_directories      name (primary key), version (bumped by every change; its row is
                         the lock of the directory's changes)
    key_directory_files  directory, name (primary key together), data: a document's bytes
                         (metadata, certificates, or an encrypted key file as above)

A mutation is one short transaction of its own: PostgreSQL locks the ring's row with
`SELECT ... FOR UPDATE`, SQLite takes the database's write lock with `BEGIN IMMEDIATE` (the
engine must begin that way: `connect` below and the issuer's engine do). Its UPDATE also
requires the version it read, so even a wrongly configured engine refuses (`ring_store_
unavailable`) instead of losing an update. Key blobs are written in the same transaction as
the metadata naming them.

The engine is passed in; this module never reads settings. Database failures become
`KeyRingError` `ring_store_unavailable` (the statement is not shown: no secret in it, but no
need either).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    ForeignKeyConstraint,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from keys.errors import KeyFileError, KeyRingError, KeysCode, KeysError
from keys.storage.documents import (
    MAX_DOCUMENT_BYTES,
    MAX_DOCUMENTS,
    DocumentWriter,
    check_document_name,
)
from keys.storage.file import MAX_FILE_BYTES
from keys.storage.rings import MAX_METADATA_BYTES, Change, check_blob_name

MAX_NAME_CHARS = 200

metadata = MetaData()

key_rings = Table(
    "key_rings",
    metadata,
    Column("name", String(MAX_NAME_CHARS), nullable=False),
    Column("issuer_id", String(MAX_NAME_CHARS), nullable=False),
    Column("metadata", Text(), nullable=False),
    Column("version", BigInteger(), nullable=False),
    PrimaryKeyConstraint("name", name="pk_key_rings"),
)

key_ring_blobs = Table(
    "key_ring_blobs",
    metadata,
    Column("ring", String(MAX_NAME_CHARS), nullable=False),
    Column("name", String(MAX_NAME_CHARS), nullable=False),
    Column("data", LargeBinary(), nullable=False),
    PrimaryKeyConstraint("ring", "name", name="pk_key_ring_blobs"),
    ForeignKeyConstraint(
        ["ring"],
        ["key_rings.name"],
        name="fk_key_ring_blobs_ring_key_rings",
        ondelete="CASCADE",
    ),
)


key_directories = Table(
    "key_directories",
    metadata,
    Column("name", String(MAX_NAME_CHARS), nullable=False),
    Column("version", BigInteger(), nullable=False),
    PrimaryKeyConstraint("name", name="pk_key_directories"),
)

key_directory_files = Table(
    "key_directory_files",
    metadata,
    Column("directory", String(MAX_NAME_CHARS), nullable=False),
    Column("name", String(MAX_NAME_CHARS), nullable=False),
    Column("data", LargeBinary(), nullable=False),
    PrimaryKeyConstraint("directory", "name", name="pk_key_directory_files"),
    ForeignKeyConstraint(
        ["directory"],
        ["key_directories.name"],
        name="fk_key_directory_files_directory_key_directories",
        ondelete="CASCADE",
    ),
)


def check_ring_name(name: str) -> None:
    """A ring name: 1 to 200 printable characters (a tenant's AGS, `root`, ...)."""
    if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise KeyRingError(KeysCode.BAD_INPUT, "ring name")


def connect(url: str, *, busy_timeout_ms: int = 10_000) -> Engine:
    """An engine for the command-line tools: `postgresql://` means psycopg 3; SQLite waits
    on a busy database and begins every transaction with `BEGIN IMMEDIATE`."""
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


Bind = Engine | Connection
"""An engine (each call its own short transaction) or a connection inside the caller's
transaction (e.g. a new tenant's row and its ring commit together)."""


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        raise KeyRingError(KeysCode.RING_STORE_UNAVAILABLE, type(exc).__name__) from exc


@contextmanager
def _reading(bind: Bind) -> Iterator[Connection]:
    """A connection to read on: a pooled one given back at once, or the caller's."""
    with _translated():
        if isinstance(bind, Connection):
            yield bind
            return
        with bind.connect() as conn:
            try:
                yield conn
            finally:
                conn.rollback()


@contextmanager
def _writing(bind: Bind) -> Iterator[Connection]:
    """A transaction to write in: its own (committed on success), or the caller's."""
    with _translated():
        if isinstance(bind, Connection):
            yield bind
            return
        with bind.begin() as conn:
            yield conn


def _text(raw: bytes) -> str:
    if len(raw) > MAX_METADATA_BYTES:
        raise KeyRingError(KeysCode.RING_FORMAT, f"metadata exceeds {MAX_METADATA_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KeyRingError(KeysCode.RING_FORMAT, "metadata is not UTF-8") from exc


def _bytes(stored: str) -> bytes:
    raw = stored.encode("utf-8")
    if len(raw) > MAX_METADATA_BYTES:
        raise KeyRingError(KeysCode.RING_FORMAT, f"metadata exceeds {MAX_METADATA_BYTES} bytes")
    return raw


class SqlRing:
    """One ring in the database. See the module docstring."""

    def __init__(self, bind: Bind, name: str) -> None:
        check_ring_name(name)
        self.bind = bind
        self.name = name

    def __repr__(self) -> str:
        return f"SqlRing({self.name!r})"

    @property
    def location(self) -> str:
        return f"database:{self.name}"

    def exists(self) -> bool:
        with _reading(self.bind) as conn:
            found = conn.scalar(select(key_rings.c.version).where(key_rings.c.name == self.name))
        return found is not None

    def read_if_changed(self, known: Hashable | None) -> tuple[bytes, Hashable] | None:
        with _reading(self.bind) as conn:
            version = conn.scalar(select(key_rings.c.version).where(key_rings.c.name == self.name))
            stored = None
            if version is not None and version != known:
                stored = conn.execute(
                    select(key_rings.c.metadata, key_rings.c.version).where(
                        key_rings.c.name == self.name
                    )
                ).first()
        if version is None:
            raise KeyRingError(KeysCode.RING_NOT_FOUND, "no such ring in the database")
        if stored is None:
            return None
        return _bytes(stored[0]), int(stored[1])

    def create(self, issuer_id: str, metadata: bytes) -> None:
        self.import_ring(issuer_id, metadata, {})

    def mutate(self, change: Change) -> tuple[bytes, Hashable]:
        with _writing(self.bind) as conn:
            row = conn.execute(
                select(key_rings.c.metadata, key_rings.c.version)
                .where(key_rings.c.name == self.name)
                .with_for_update()
            ).first()
            if row is None:
                raise KeyRingError(KeysCode.RING_NOT_FOUND, "no such ring in the database")
            raw, version = _bytes(row[0]), int(row[1])
            result = change(raw)
            if result is None:
                return raw, version
            new, blobs = result
            self._write_blobs(conn, blobs.items())
            done = conn.execute(
                update(key_rings)
                .where(key_rings.c.name == self.name, key_rings.c.version == version)
                .values(metadata=_text(new), version=version + 1)
            )
            if done.rowcount != 1:  # only without the lock (an engine not beginning IMMEDIATE)
                raise KeyRingError(KeysCode.RING_STORE_UNAVAILABLE, "concurrent ring change")
        return new, version + 1

    def _write_blobs(self, conn: Connection, blobs: Iterable[tuple[str, bytes]]) -> None:
        for name, data in blobs:
            check_blob_name(name)
            if len(data) > MAX_FILE_BYTES:
                raise KeyFileError(KeysCode.KEY_FILE_FORMAT, "too large")
            conn.execute(insert(key_ring_blobs).values(ring=self.name, name=name, data=data))

    def read_key(self, name: str) -> bytes:
        check_blob_name(name)
        with _reading(self.bind) as conn:
            data = conn.scalar(
                select(key_ring_blobs.c.data).where(
                    key_ring_blobs.c.ring == self.name, key_ring_blobs.c.name == name
                )
            )
        if data is None:
            raise KeyFileError(KeysCode.KEY_FILE_MISSING, name)
        data = bytes(data)
        if len(data) > MAX_FILE_BYTES:
            raise KeyFileError(KeysCode.KEY_FILE_FORMAT, "too large")
        return data

    def import_ring(self, issuer_id: str, metadata: bytes, blobs: dict[str, bytes]) -> None:
        """Store a whole ring (metadata and key blobs) in one transaction; `ring_exists` when
        the name is taken (the upgrade path from directory rings)."""
        text = _text(metadata)
        try:
            with _writing(self.bind) as conn:
                conn.execute(
                    insert(key_rings).values(
                        name=self.name, issuer_id=issuer_id, metadata=text, version=1
                    )
                )
                self._write_blobs(conn, sorted(blobs.items()))
        except KeyRingError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                raise KeyRingError(KeysCode.RING_EXISTS, "a ring of that name exists") from exc
            raise


class _SqlDocumentWriter:
    def __init__(self, conn: Connection, directory: str) -> None:
        self._conn = conn
        self._directory = directory
        self.changed = False

    def read(self, name: str) -> bytes | None:
        return _read_document(self._conn, self._directory, name)

    def write(self, name: str, data: bytes, *, overwrite: bool) -> None:
        check_document_name(name)
        if len(data) > MAX_DOCUMENT_BYTES:
            raise KeyFileError(KeysCode.KEY_FILE_FORMAT, f"{name!r} is too large")
        table = key_directory_files
        where = (table.c.directory == self._directory, table.c.name == name)
        exists = self._conn.scalar(select(func.count()).select_from(table).where(*where))
        if exists and not overwrite:
            raise KeyFileError(KeysCode.KEY_FILE_EXISTS, name)
        if exists:
            self._conn.execute(update(table).where(*where).values(data=data))
        else:
            self._conn.execute(
                insert(table).values(directory=self._directory, name=name, data=data)
            )
        self.changed = True


def _read_document(conn: Connection, directory: str, name: str) -> bytes | None:
    check_document_name(name)
    data = conn.scalar(
        select(key_directory_files.c.data).where(
            key_directory_files.c.directory == directory, key_directory_files.c.name == name
        )
    )
    if data is None:
        return None
    data = bytes(data)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise KeyFileError(KeysCode.KEY_FILE_FORMAT, f"{name!r} is too large")
    return data


def _documents_of(conn: Connection, directory: str) -> dict[str, bytes]:
    """Every document of `directory` (at most ``MAX_DOCUMENTS``), by name."""
    table = key_directory_files
    rows = conn.execute(
        select(table.c.name, table.c.data)
        .where(table.c.directory == directory)
        .order_by(table.c.name)
        .limit(MAX_DOCUMENTS)
    ).all()
    return {str(n): bytes(d) for n, d in rows}


class SqlDocuments:
    """A key directory (the issuing CA, the relying party's identity) as rows of
    `key_directory_files`, its lock and version in `key_directories` (see
    keys/storage/documents.py). The first `writing()` makes the directory's row; every
    change runs under that row's lock and bumps its version."""

    def __init__(self, bind: Bind, name: str) -> None:
        check_ring_name(name)
        self.bind = bind
        self.name = name

    def __repr__(self) -> str:
        return f"SqlDocuments({self.name!r})"

    @property
    def location(self) -> str:
        return f"database:{self.name}"

    def read(self, name: str) -> bytes | None:
        with _reading(self.bind) as conn:
            return _read_document(conn, self.name, name)

    def names(self, folder: str) -> list[str]:
        check_document_name(folder)
        table = key_directory_files
        with _reading(self.bind) as conn:
            found = conn.scalars(
                select(table.c.name)
                .where(table.c.directory == self.name, table.c.name.startswith(folder + "/"))
                .order_by(table.c.name)
                .limit(MAX_DOCUMENTS)
            )
            return [str(n) for n in found]

    def version(self) -> Hashable:
        with _reading(self.bind) as conn:
            found = conn.scalar(
                select(key_directories.c.version).where(key_directories.c.name == self.name)
            )
        return None if found is None else int(found)

    @contextmanager
    def _writing(self) -> Iterator[DocumentWriter]:
        with _writing(self.bind) as conn:
            dialect = conn.dialect.name
            make: Any
            if dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as make
            elif dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as make
            else:  # pragma: no cover - the issuer runs on these two
                raise KeyRingError(KeysCode.RING_STORE_UNAVAILABLE, f"dialect {dialect}")
            conn.execute(
                make(key_directories).values(name=self.name, version=0).on_conflict_do_nothing()
            )
            version = conn.scalar(
                select(key_directories.c.version)
                .where(key_directories.c.name == self.name)
                .with_for_update()
            )
            writer = _SqlDocumentWriter(conn, self.name)
            yield writer
            if writer.changed:
                conn.execute(
                    update(key_directories)
                    .where(key_directories.c.name == self.name)
                    .values(version=int(version or 0) + 1)
                )

    def writing(self) -> AbstractContextManager[DocumentWriter]:
        return self._writing()

    def everything(self) -> dict[str, bytes]:
        """Every document of the directory, by name."""
        with _reading(self.bind) as conn:
            return _documents_of(conn, self.name)

    def import_documents(self, documents: dict[str, bytes]) -> str:
        """Copy a whole directory in one transaction, under its lock: "copied" into an empty
        one, "same" when it holds exactly these documents already, else "differs" (and
        nothing is written)."""
        with self._writing() as files:
            assert isinstance(files, _SqlDocumentWriter)
            stored = _documents_of(files._conn, self.name)
            if stored:
                return "same" if stored == documents else "differs"
            for name, data in sorted(documents.items()):
                files.write(name, data, overwrite=False)
            return "copied"

    def remove(self) -> None:
        """Delete the directory and its documents."""
        with _writing(self.bind) as conn:
            conn.execute(
                delete(key_directory_files).where(key_directory_files.c.directory == self.name)
            )
            conn.execute(delete(key_directories).where(key_directories.c.name == self.name))


class SqlRingStore:
    """Every ring in the database behind `bind` (an engine, or a connection in the caller's
    transaction)."""

    def __init__(self, bind: Bind) -> None:
        self.bind = bind

    def __repr__(self) -> str:
        return f"SqlRingStore({self.bind.dialect.name})"

    def ring(self, name: str) -> SqlRing:
        return SqlRing(self.bind, name)

    def names(self) -> list[str]:
        with _reading(self.bind) as conn:
            names = list(conn.scalars(select(key_rings.c.name).order_by(key_rings.c.name)))
        return [str(n) for n in names]

    def versions(self, names: Iterable[str]) -> dict[str, int]:
        """The current version of each named ring that exists (one statement)."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        with _reading(self.bind) as conn:
            rows = conn.execute(
                select(key_rings.c.name, key_rings.c.version).where(key_rings.c.name.in_(wanted))
            ).all()
        return {str(n): int(v) for n, v in rows}

    def count_blobs(self) -> int:
        """How many key blobs the database holds (operators' listing)."""
        with _reading(self.bind) as conn:
            count = conn.scalar(select(func.count()).select_from(key_ring_blobs))
        return int(count or 0)

    def documents(self, name: str) -> SqlDocuments:
        """The key directory `name` (the issuing CA, the relying party's identity)."""
        return SqlDocuments(self.bind, name)

    def remove(self, name: str) -> None:
        with _writing(self.bind) as conn:
            conn.execute(delete(key_ring_blobs).where(key_ring_blobs.c.ring == name))
            conn.execute(delete(key_rings).where(key_rings.c.name == name))


__all__ = [
    "KeysError",
    "SqlDocuments",
    "SqlRing",
    "SqlRingStore",
    "check_ring_name",
    "connect",
    "key_directories",
    "key_directory_files",
    "key_ring_blobs",
    "key_rings",
    "metadata",
]

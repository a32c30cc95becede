"""One connection to the assistant's database: SQLite by default, PostgreSQL by URL.

SQLite suits one machine (several processes may share the file); PostgreSQL is for several
`assistant serve` processes sharing one queue. The code above this module writes one SQL for both:
`?` placeholders, ISO 8601 text for times, JSON in text columns, `INTEGER PRIMARY KEY AUTOINCREMENT`
for generated keys. What differs (placeholders, generated keys, how a write transaction takes its
locks) is settled here. One connection serves one process; a lock makes it safe to share between the
threads of a server.
"""
from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assistant.core.errors import AssistantError

Row = dict[str, Any]
SQLITE, POSTGRESQL = "sqlite", "postgresql"
_POSTGRES_URL = re.compile(r"^postgres(ql)?://")


class Database:
    """Statements and write transactions on one connection, whatever the engine."""

    def __init__(self, connection: Any, dialect: str, name: str) -> None:
        self.connection = connection
        self.dialect = dialect
        self.name = name  # for messages: the file, or the URL without its password
        self.lock = threading.RLock()
        self.writing = False

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Runs one statement; the number of rows it changed."""
        with self.lock:
            return self._cursor(sql, args).rowcount

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        with self.lock:
            cursor = self._cursor(sql, args)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, values)) for values in cursor.fetchall()]

    def row(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        found = self.rows(sql, args)
        return found[0] if found else None

    def value(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """The first column of the first row (None if there is no row)."""
        found = self.row(sql, args)
        return next(iter(found.values())) if found else None

    def insert(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Runs an INSERT into a table with a generated `id`; the new row's id."""
        return int(self.value(f"{sql} RETURNING id", args))

    def script(self, ddl: str) -> None:
        """Runs statements separated by `;` (tables and indexes, each IF NOT EXISTS)."""
        if self.dialect == POSTGRESQL:
            ddl = ddl.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
        with self._schema_change():
            for statement in filter(str.strip, ddl.split(";")):
                self.execute(statement)

    def add_columns(self, table: str, columns: dict[str, str]) -> None:
        """Adds the columns (name → definition) a table made by an older release lacks."""
        with self._schema_change():
            if self.dialect == POSTGRESQL:
                for name, definition in columns.items():
                    self.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {name} {definition}")
                return
            present = {row["name"] for row in self.rows(f"PRAGMA table_info({table})")}
            for name, definition in columns.items():
                if name not in present:
                    self.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")

    @contextmanager
    def _schema_change(self) -> Iterator[None]:
        """One transaction for a schema change, one process at a time: two PostgreSQL sessions running
        the same CREATE TABLE IF NOT EXISTS at once may both create it, and one then fails (several
        workers starting together on a new database)."""
        with self.write():
            if self.dialect == POSTGRESQL:
                self.value("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
            yield

    @contextmanager
    def write(self) -> Iterator[None]:
        """One write transaction. On SQLite the file is locked for writing from its start; on
        PostgreSQL rows are locked as statements reach them (see `claim_clause`)."""
        with self.lock:
            if self.writing:
                raise RuntimeError("write transactions do not nest")
            self.writing = True
            try:
                self._cursor("BEGIN IMMEDIATE" if self.dialect == SQLITE else "BEGIN", ())
                try:
                    yield
                except BaseException:
                    self._cursor("ROLLBACK", ())
                    raise
                self._cursor("COMMIT", ())
            finally:
                self.writing = False

    def claim_clause(self, table: str) -> str:
        """What a SELECT inside a write transaction adds to lock the rows of `table` it picks, skipping
        rows another transaction holds, so that concurrent takers pick different rows. SQLite needs
        nothing: its write transaction already excludes every other writer."""
        return f" FOR UPDATE OF {table} SKIP LOCKED" if self.dialect == POSTGRESQL else ""

    def close(self) -> None:
        with self.lock:
            self.connection.close()

    def _cursor(self, sql: str, args: Sequence[Any]) -> Any:
        if self.dialect == POSTGRESQL:
            sql = sql.replace("%", "%%").replace("?", "%s")
        try:
            return self.connection.execute(sql, tuple(args))
        except Exception as error:
            if isinstance(error, (sqlite3.Error, _postgres_error())):
                raise AssistantError(f"{self.name}: {error}".strip()) from error
            raise


_SCHEMA_LOCK = 7_300_001  # the advisory lock schema changes hold (any number no other lock uses)


def open_database(where: str | Path) -> Database:
    """A SQLite file (a path), or a PostgreSQL database (a postgresql:// URL)."""
    if _POSTGRES_URL.match(str(where)):
        return _open_postgres(str(where))
    path = Path(where)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # autocommit outside `write()`; one connection shared by a server's threads under the lock
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: still consistent after a crash
    except (OSError, sqlite3.Error) as error:
        raise AssistantError(f"{path}: cannot open the database ({error})") from error
    return Database(connection, SQLITE, str(path))


def _open_postgres(url: str) -> Database:
    import psycopg  # only where PostgreSQL is used

    name = re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)
    try:
        connection = psycopg.connect(url, autocommit=True)
    except psycopg.Error as error:
        raise AssistantError(f"{name}: cannot connect to PostgreSQL ({error})".strip()) from error
    return Database(connection, POSTGRESQL, name)


def _postgres_error() -> type[Exception]:
    try:
        import psycopg
    except ImportError:  # a SQLite-only install
        return sqlite3.Error
    return psycopg.Error

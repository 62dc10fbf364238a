"""Load RetailMart CSV files into the source tables, and dump the tables to the same layout.

Layout: ``DIR/<schema>/<table>.csv`` with a header row naming the contract's columns (any order). Only
contract tables are accepted; a folder may hold any subset of them.

``load_dir`` appends the rows of every file with COPY, parents before children, in one transaction: it
never truncates or recreates anything, so rows that already exist fail as duplicate keys. If the database
has none of the eight source schemas it first creates them from ``source/schema.sql``. On any error the
whole load is rolled back and a ``LoadError`` is raised whose message is one line:
``<file>:<line>: column <column>: <what was wrong>`` (the header is line 1; line or column are left
out when they do not apply).
"""

from __future__ import annotations

import codecs
import csv
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from retailmart_dagster.generate.contract import (
    SOURCE_SCHEMAS,
    Table,
    contract_tables,
    schema_sql,
    table_map,
)

CHUNK_BYTES = 4 << 20
_CONTEXT_RE = re.compile(r"COPY (\w+), line (\d+)(?:, column (\w+))?(?:: \"(.*)\")?", re.S)
_KEY_RE = re.compile(r"Key \((.+?)\)=\((.*)\)")
_MISSING_DATA_RE = re.compile(r'missing data for column "(\w+)"')
_TYPE_ERRORS = {"22P02", "22007", "22008", "22003", "22018"}
SHOWN_CHARS = 60  # a value quoted in a message is cut to this many characters

# A field may be far larger than csv's default limit (131,072 characters): the server decides what
# is too long; the helpers that re-read a file to locate an error must not fail on it.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def shown(value: str) -> str:
    """``value`` for a one-line message: control characters as spaces, cut to SHOWN_CHARS."""
    flat = " ".join(value.split()) if any(c in value for c in "\r\n\t") else value
    if len(flat) <= SHOWN_CHARS:
        return flat
    return f"{flat[:SHOWN_CHARS]}... ({len(value):,} characters)"


class LoadError(Exception):
    """A CSV file could not be loaded; ``str()`` is one line naming file, line and column."""

    def __init__(
        self, file: Path | str, message: str, line: int | None = None, column: str | None = None
    ) -> None:
        self.file = str(file)
        self.line = line
        self.column = column
        reason = " ".join(message.split())
        self.reason = reason if len(reason) <= 400 else reason[:400] + "..."
        where = self.file + (f":{line}" if line is not None else "")
        what = (f"column {column}: " if column else "") + self.reason
        super().__init__(f"{where}: {what}")


# --------------------------------------------------------------------------------------------------
# Discovering files and checking headers (no database access)


def discover(root: Path) -> dict[str, Path]:
    """Map ``schema.table`` to its CSV file under ``root``; unknown tables raise ``LoadError``."""
    if not root.is_dir():
        raise LoadError(root, "not a directory")
    known = table_map()
    found: dict[str, Path] = {}
    for path in sorted(root.glob("*.csv")):
        raise LoadError(
            path, "CSV files must be in <dir>/<schema>/<table>.csv, not at the top level"
        )
    for path in sorted(root.glob("*/*.csv")):
        name = f"{path.parent.name}.{path.stem}"
        if name not in known:
            tables = ", ".join(t for t in known if t.startswith(f"{path.parent.name}."))
            hint = (
                f"tables of schema {path.parent.name}: {tables}"
                if tables
                else ("schemas: " + ", ".join(SOURCE_SCHEMAS))
            )
            raise LoadError(path, f'unknown table "{name}" (RetailMart {hint})')
        found[name] = path
    if not found:
        raise LoadError(root, "no <schema>/<table>.csv files found")
    return found


def read_header(path: Path, table: Table) -> list[str]:
    """The header's column names, checked against ``table``: all contract columns, each once."""
    with path.open("rb") as f:
        first = f.readline()
    if not first.strip():
        raise LoadError(
            path, "empty file: expected a header row with " + ", ".join(table.column_names), line=1
        )
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(path, f"header is not valid UTF-8 ({exc.reason})", line=1) from exc
    names = [c.strip() for c in next(csv.reader([text.rstrip("\r\n")]))]
    expected = table.column_names
    seen: set[str] = set()
    for name in names:
        if name not in expected:
            raise LoadError(
                path,
                f"not a column of {table.qualified} (expected: {', '.join(expected)})",
                line=1,
                column=name or '""',
            )
        if name in seen:
            raise LoadError(path, "appears twice in the header", line=1, column=name)
        seen.add(name)
    for name in expected:
        if name not in seen:
            raise LoadError(path, "missing from the header", line=1, column=name)
    return names


def check_utf8(path: Path, header: list[str]) -> None:
    """Raise ``LoadError`` at the first byte that is not UTF-8 (with its line and column)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK_BYTES):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        _raise_bad_byte(path, header)


def _raise_bad_byte(path: Path, header: list[str]) -> None:
    """Locate the first invalid byte of ``path`` (known to exist) and raise a ``LoadError`` for it."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
        return
    except UnicodeDecodeError as exc:
        position = exc.start
    line_start = data.rfind(b"\n", 0, position) + 1
    line = data.count(b"\n", 0, position) + 1
    before = data[line_start:position].decode("utf-8")
    fields = next(csv.reader([before])) if before else [""]
    column = header[len(fields) - 1] if line > 1 and 0 < len(fields) <= len(header) else None
    raise LoadError(path, f"invalid UTF-8 byte 0x{data[position]:02x}", line=line, column=column)


# --------------------------------------------------------------------------------------------------
# Loading


def ensure_schema(cur: psycopg.Cursor, tables: list[Table], files: dict[str, Path]) -> None:
    """Create the source schemas from schema.sql if none exists; else require every target table."""
    cur.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (list(SOURCE_SCHEMAS),))
    if not cur.fetchall():
        cur.execute(schema_sql())
        return
    cur.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema = ANY(%s)",
        (list(SOURCE_SCHEMAS),),
    )
    existing = {r[0] for r in cur.fetchall()}
    for t in tables:
        if t.qualified not in existing:
            raise LoadError(
                files[t.qualified],
                f"table {t.qualified} does not exist in the target database, which has only part of "
                "the RetailMart schema",
            )


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk


def copy_file(cur: psycopg.Cursor, table: Table, path: Path, header: list[str]) -> int:
    """COPY one CSV file (header skipped by the server, so its line numbers match the file's)."""
    stmt = sql.SQL("COPY {}.{} ({}) FROM STDIN (FORMAT csv, HEADER true)").format(
        sql.Identifier(table.schema),
        sql.Identifier(table.name),
        sql.SQL(", ").join(sql.Identifier(c) for c in header),
    )
    with cur.copy(stmt) as copy:
        for chunk in _file_chunks(path):
            copy.write(chunk)
    return cur.rowcount


def load_dir(conn: psycopg.Connection, path: str | Path) -> dict[str, int]:
    """Load every ``<schema>/<table>.csv`` under ``path`` in one transaction; rows loaded per table.

    Raises ``LoadError`` (and loads nothing) on an unknown table file, an empty file, a wrong header,
    non-UTF-8 bytes, a value of the wrong type, a duplicate key or a reference to a missing row.
    """
    root = Path(path)
    files = discover(root)
    tables = [t for t in contract_tables() if t.qualified in files]
    headers = {t.qualified: read_header(files[t.qualified], t) for t in tables}
    for t in tables:
        check_utf8(files[t.qualified], headers[t.qualified])
    counts: dict[str, int] = {}
    current: Table | None = None
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SET LOCAL client_encoding TO 'UTF8'")
            ensure_schema(cur, tables, files)
            for t in tables:
                current = t
                counts[t.qualified] = copy_file(cur, t, files[t.qualified], headers[t.qualified])
            current = None
            for t in tables:
                cur.execute(
                    sql.SQL("ANALYZE {}.{}").format(
                        sql.Identifier(t.schema), sql.Identifier(t.name)
                    )
                )
    except psycopg.Error as exc:
        if current is None:
            raise LoadError(root, exc.diag.message_primary or str(exc)) from exc
        raise explain(exc, files[current.qualified], current, headers[current.qualified]) from exc
    if not conn.autocommit:
        conn.commit()
    return counts


# --------------------------------------------------------------------------------------------------
# Turning PostgreSQL errors into file:line: column messages


def explain(exc: psycopg.Error, path: Path, table: Table, header: list[str]) -> LoadError:
    """A ``LoadError`` for a COPY failure, using the error's context, detail and SQLSTATE."""
    diag = exc.diag
    primary = diag.message_primary or str(exc).splitlines()[0]
    state = diag.sqlstate or ""
    m = _CONTEXT_RE.search(diag.context or "")
    line = int(m.group(2)) if m else None
    column = m.group(3) if m and m.group(3) else diag.column_name
    value = m.group(4) if m and m.group(3) else None

    if state in _TYPE_ERRORS and column:
        expected = table.column(column).type if column in table.column_names else "a valid value"
        got = f', got "{shown(value)}"' if value is not None else f" ({primary})"
        return LoadError(path, f"expected {expected}{got}", line, column)
    if state == "23505":  # unique_violation
        cols, key = _key(diag.message_detail)
        return LoadError(
            path,
            f"duplicate key ({shown(key)}): already earlier in the file or in the table",
            line,
            cols,
        )
    if state == "23503":  # foreign_key_violation
        cols, key = _key(diag.message_detail)
        parent = table.column(cols).references if cols in table.column_names else None
        found = line or _find_line(path, header, cols, key)
        target = parent or "the referenced table"
        return LoadError(path, f"{shown(key)} does not exist in {target}", found, cols)
    if state == "23514":  # check_violation
        constraint = diag.constraint_name or ""
        col = next((c for c in table.column_names if f"_{c}_" in f"_{constraint}_"), column)
        got = _field_at(path, header, line, col) if value is None else value
        quoted = f'"{shown(got)}"' if got is not None else "value"
        return LoadError(path, f"{quoted} violates check constraint {constraint}", line, col)
    if state == "22P04":  # bad_copy_file_format
        missing = _MISSING_DATA_RE.search(primary)
        return LoadError(path, primary, line, missing.group(1) if missing else column)
    return LoadError(path, primary, line, column)


def _key(detail: str | None) -> tuple[str | None, str]:
    m = _KEY_RE.search(detail or "")
    return (m.group(1), m.group(2)) if m else (None, detail or "?")


def _find_line(path: Path, header: list[str], column: str | None, value: str) -> int | None:
    """Line number of the first row whose ``column`` holds ``value`` (for deferred FK errors)."""
    if column not in header:
        return None
    idx = header.index(column)
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        next(reader, None)
        for row in reader:
            if idx < len(row) and _same(row[idx], value):
                return reader.line_num
    return None


def _field_at(path: Path, header: list[str], line: int | None, column: str | None) -> str | None:
    """The ``column`` field of the row that ends on file line ``line`` (None if not found)."""
    if line is None or column not in header:
        return None
    idx = header.index(column)
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        for row in reader:
            if reader.line_num == line:
                return row[idx] if idx < len(row) else None
            if reader.line_num > line:
                break
    return None


def _same(field: str, value: str) -> bool:
    field = field.strip()
    if field == value:
        return True
    try:
        return float(field) == float(value)
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------------
# Dumping


def dump_dir(conn: psycopg.Connection, path: str | Path) -> dict[str, int]:
    """Write every contract table to ``path/<schema>/<table>.csv`` (header, contract column order,
    rows ordered by all columns); returns rows written per table."""
    root = Path(path)
    counts: dict[str, int] = {}
    with conn.cursor() as cur:
        for t in contract_tables():
            folder = root / t.schema
            folder.mkdir(parents=True, exist_ok=True)
            cols = sql.SQL(", ").join(sql.Identifier(c) for c in t.column_names)
            order = sql.SQL(", ").join(sql.Literal(i + 1) for i in range(len(t.columns)))
            stmt = sql.SQL(
                "COPY (SELECT {} FROM {}.{} ORDER BY {}) TO STDOUT (FORMAT csv, HEADER true)"
            ).format(cols, sql.Identifier(t.schema), sql.Identifier(t.name), order)
            with (folder / f"{t.name}.csv").open("wb") as f, cur.copy(stmt) as copy:
                for data in copy:
                    f.write(data)
            counts[t.qualified] = cur.rowcount
    if not conn.autocommit:
        conn.commit()
    return counts


def fingerprints(conn: psycopg.Connection) -> dict[str, str]:
    """md5 of every contract table's rows (as text, sorted), keyed ``schema.table``.

    Two databases with the same fingerprints hold the same data, whatever the physical row order.
    """
    out: dict[str, str] = {}
    with conn.cursor() as cur:
        for t in contract_tables():
            cur.execute(
                sql.SQL(
                    "SELECT md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text COLLATE \"C\"), ''))"
                    " FROM {}.{} r"
                ).format(sql.Identifier(t.schema), sql.Identifier(t.name))
            )
            out[t.qualified] = cur.fetchone()[0]
    return out

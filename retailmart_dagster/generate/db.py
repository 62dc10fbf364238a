"""Writing generated frames to PostgreSQL: schema (re)creation, COPY as CSV, bookkeeping tables."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from .context import MONEY_COLUMNS
from .contract import SOURCE_SCHEMAS, Table, schema_sql

GENERATOR_SCHEMA = "generator"
GENERATOR_DDL = """
CREATE SCHEMA generator;
COMMENT ON SCHEMA generator IS 'Bookkeeping of the RetailMart sample-data generator (not part of the contract)';
CREATE TABLE generator.runs (
    seed         bigint,
    scale        double precision,
    end_date     date,
    defects      boolean,
    generated_at timestamptz DEFAULT now()
);
CREATE TABLE generator.injected_defects (
    table_name     text,
    defect         text,
    affected_count int,
    sample_keys    text
);
"""
CHUNK_ROWS = 500_000


def recreate_schemas(cur: psycopg.Cursor) -> None:
    """Drop the eight source schemas and ``generator``, then run ``schema.sql`` and the bookkeeping DDL."""
    names = sql.SQL(", ").join(sql.Identifier(s) for s in (*SOURCE_SCHEMAS, GENERATOR_SCHEMA))
    cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(names))
    cur.execute(schema_sql())
    cur.execute(GENERATOR_DDL)


@dataclass(frozen=True)
class KeyConstraint:
    """A primary or foreign key as declared by schema.sql, to drop before a bulk load and re-add after."""

    table: str  # quoted "schema.table"
    name: str
    kind: str  # 'p' or 'f'
    definition: str  # pg_get_constraintdef()


def key_constraints(cur: psycopg.Cursor, schemas: Sequence[str]) -> list[KeyConstraint]:
    """Primary and foreign keys of the tables in ``schemas``, primary keys first."""
    cur.execute(
        """
        SELECT format('%%I.%%I', n.nspname, t.relname), c.conname, c.contype,
               pg_get_constraintdef(c.oid)
        FROM pg_constraint c
        JOIN pg_class t ON t.oid = c.conrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE c.contype IN ('p', 'f') AND n.nspname = ANY(%s)
        ORDER BY c.contype DESC, n.nspname, t.relname, c.conname
        """,
        (list(schemas),),
    )
    return [KeyConstraint(*row) for row in cur.fetchall()]


def drop_keys(cur: psycopg.Cursor, keys: Sequence[KeyConstraint]) -> None:
    """Drop ``keys`` (foreign keys before the primary keys they depend on)."""
    for key in sorted(keys, key=lambda k: k.kind != "f"):
        cur.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.SQL(key.table), sql.Identifier(key.name)
            )
        )


def add_keys(cur: psycopg.Cursor, keys: Sequence[KeyConstraint]) -> None:
    """Re-add ``keys`` with their original names and definitions (primary keys first).

    Building a primary-key index once and validating a foreign key with one join is much faster than
    checking every COPYed row; the resulting catalog is the same as schema.sql's.
    """
    for key in sorted(keys, key=lambda k: k.kind != "p"):
        cur.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                sql.SQL(key.table), sql.Identifier(key.name), sql.SQL(key.definition)
            )
        )


def csv_ready(table: str, frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``frame``'s contract columns with money as rupees (paise / 100) and dates as ISO text.

    A float's shortest repr of ``paise / 100`` is the exact 2-decimal value, so no float_format is needed.
    """
    out = {}
    money = set(MONEY_COLUMNS.get(table, ()))
    for col in columns:
        values = frame[col]
        if col in money:
            values = values.astype("float64") / 100
        elif pd.api.types.is_datetime64_any_dtype(values.dtype):
            arr = values.to_numpy().astype("datetime64[D]")
            text = np.datetime_as_string(arr, unit="D").astype(object)
            text[np.isnat(arr)] = None
            values = pd.Series(text, index=frame.index)
        out[col] = values
    return pd.DataFrame(out)


def csv_chunks(frame: pd.DataFrame, rows: int = CHUNK_ROWS) -> Iterator[str]:
    """CSV text (no header) of ``frame`` in chunks of ``rows`` rows; NULL is the empty field."""
    for lo in range(0, len(frame), rows):
        buf = io.StringIO()
        frame.iloc[lo : lo + rows].to_csv(buf, index=False, header=False, lineterminator="\n")
        yield buf.getvalue()


def copy_frame(cur: psycopg.Cursor, table: Table, frame: pd.DataFrame) -> int:
    """COPY ``frame`` into ``table`` (CSV); returns the number of rows written."""
    cols = table.column_names
    ready = csv_ready(table.qualified, frame, cols)
    stmt = sql.SQL("COPY {}.{} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(table.schema),
        sql.Identifier(table.name),
        sql.SQL(", ").join(sql.Identifier(c) for c in cols),
    )
    with cur.copy(stmt) as copy:
        for chunk in csv_chunks(ready):
            copy.write(chunk)
    return len(frame)


def record_run(
    cur: psycopg.Cursor,
    seed: int,
    scale: float,
    end_date: object,
    defects: bool,
    injected: Sequence[tuple[str, str, int, str]],
) -> None:
    """Insert the ``generator.runs`` row and one ``generator.injected_defects`` row per defect."""
    cur.execute(
        "INSERT INTO generator.runs (seed, scale, end_date, defects) VALUES (%s, %s, %s, %s)",
        (seed, scale, end_date, defects),
    )
    if injected:
        cur.executemany(
            "INSERT INTO generator.injected_defects (table_name, defect, affected_count, sample_keys)"
            " VALUES (%s, %s, %s, %s)",
            list(injected),
        )


def analyze(cur: psycopg.Cursor, tables: Sequence[Table]) -> None:
    """ANALYZE every loaded table."""
    for t in tables:
        cur.execute(
            sql.SQL("ANALYZE {}.{}").format(sql.Identifier(t.schema), sql.Identifier(t.name))
        )

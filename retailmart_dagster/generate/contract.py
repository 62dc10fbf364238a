"""The source contract as data: tables, columns, keys and load order, read from ``schema.sql``.

``retailmart_dagster/source/schema.sql`` is the single source of truth for the RetailMart tables; this
module parses its ``CREATE TABLE`` statements (a deliberately small parser for that one file's style) so
the generator, the CSV loader and the tests agree on names, column order and foreign-key order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

SOURCE_SCHEMAS: tuple[str, ...] = (
    "core",
    "customers",
    "stores",
    "products",
    "sales",
    "finance",
    "hr",
    "marketing",
)

_CREATE_RE = re.compile(r"CREATE TABLE\s+(\w+)\.(\w+)\s*\((.*?)\);", re.S | re.I)
_REF_RE = re.compile(r"REFERENCES\s+(\w+)\.(\w+)\s*\(\s*(\w+)\s*\)", re.I)
_TABLE_PK_RE = re.compile(r"^PRIMARY KEY\s*\(([^)]*)\)", re.I)


@dataclass(frozen=True)
class Column:
    """One column of a contract table."""

    name: str
    type: str
    references: str | None = None  # "schema.table" when the column has a declared FK


@dataclass(frozen=True)
class Table:
    """One contract table: qualified name, ordered columns and primary key."""

    schema: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

    @property
    def qualified(self) -> str:
        """``schema.table``."""
        return f"{self.schema}.{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in declaration order."""
        return tuple(c.name for c in self.columns)

    @property
    def parents(self) -> tuple[str, ...]:
        """Qualified names of the tables this one references by declared FK (not itself)."""
        refs = {c.references for c in self.columns if c.references}
        refs.discard(self.qualified)
        return tuple(sorted(refs))

    def column(self, name: str) -> Column:
        """The column called ``name`` (KeyError if absent)."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def schema_sql() -> str:
    """The text of ``retailmart_dagster/source/schema.sql``."""
    return (
        resources.files("retailmart_dagster")
        .joinpath("source/schema.sql")
        .read_text(encoding="utf-8")
    )


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def _split_items(body: str) -> list[str]:
    """Split a CREATE TABLE body on top-level commas."""
    items, depth, cur = [], 0, []
    for ch in body:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            items.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        items.append("".join(cur).strip())
    return items


def _type_of(rest: str) -> str:
    """The SQL type at the start of a column definition's remainder (e.g. ``numeric(12, 2)``)."""
    m = re.match(r"(\w+(?:\s+varying)?(?:\s*\([^)]*\))?)", rest)
    return re.sub(r"\s+", "", m.group(1)) if m else rest.split()[0]


def parse_tables(sql: str) -> tuple[Table, ...]:
    """Parse every ``CREATE TABLE schema.table (...)`` in ``sql``, in file order."""
    tables = []
    for schema, name, body in _CREATE_RE.findall(_strip_comments(sql)):
        cols: list[Column] = []
        pk: tuple[str, ...] = ()
        for item in _split_items(body):
            m = _TABLE_PK_RE.match(item)
            if m:
                pk = tuple(p.strip() for p in m.group(1).split(","))
                continue
            col_name, _, rest = item.partition(" ")
            ref = _REF_RE.search(rest)
            cols.append(
                Column(
                    name=col_name,
                    type=_type_of(rest.strip()),
                    references=f"{ref.group(1)}.{ref.group(2)}" if ref else None,
                )
            )
            if re.search(r"\bPRIMARY KEY\b", rest, re.I):
                pk = (col_name,)
        tables.append(Table(schema, name, tuple(cols), pk))
    return tuple(tables)


@cache
def contract_tables() -> tuple[Table, ...]:
    """All contract tables in a foreign-key-safe load order (parents before children)."""
    return topological_order(parse_tables(schema_sql()))


def table_map() -> dict[str, Table]:
    """Contract tables keyed by ``schema.table``."""
    return {t.qualified: t for t in contract_tables()}


def topological_order(tables: tuple[Table, ...]) -> tuple[Table, ...]:
    """Order ``tables`` so each comes after the tables it references; stable for ties."""
    by_name = {t.qualified: t for t in tables}
    done: list[Table] = []
    seen: set[str] = set()

    def visit(t: Table, stack: tuple[str, ...]) -> None:
        if t.qualified in seen:
            return
        if t.qualified in stack:
            raise ValueError(f"foreign-key cycle through {t.qualified}")
        for parent in t.parents:
            if parent in by_name:
                visit(by_name[parent], (*stack, t.qualified))
        seen.add(t.qualified)
        done.append(t)

    for t in tables:
        visit(t, ())
    return tuple(done)

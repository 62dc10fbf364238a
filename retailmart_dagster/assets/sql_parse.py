"""Read the SQL files: what each one creates, what it references, and its documentation.

Everything here is derived from the SQL itself with pglast (PostgreSQL's own parser): the object a
file creates, its kind, the relations and analytics functions it references (inside function bodies
too: a SQL-language body is parsed as SQL, a PL/pgSQL body through its statements), never CTE names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pglast
from pglast import ast, enums

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
SOURCE_SCHEMA_FILE = Path(__file__).resolve().parent.parent / "source" / "schema.sql"
ANALYTICS_SCHEMA = "analytics"

# Kinds, in the words shown in the UI.
SCHEMA = "schema"
TABLE = "table"
VIEW = "view"
MATERIALIZED_VIEW = "materialized_view"
FUNCTION = "function"
SETUP_SCRIPT = "setup_script"
# An incrementally loaded table (sql/facts/): CREATE TABLE (versioned like a view) followed by the
# load statements, which run on every build and (re)load only the partitions that changed.
FACT_TABLE = "fact_table"
# Session-local scratch relations (CREATE TEMP TABLE pg_temp.x) are not lineage.
TEMP_SCHEMA = "pg_temp"

KPI_LINE = re.compile(r"^--\s*KPI\s+([A-Za-z0-9_]+)\s*:\s*(.+)$")
# Header fields: "-- Question: ...", "-- Owner: ...", "-- Refresh: ..." (one line each).
FIELD_LINE = re.compile(r"^--\s*(Question|Owner|Refresh)\s*:\s*(.+)$")


class SqlFileError(ValueError):
    """A SQL file that cannot be turned into an asset; the message names the file."""


Ref = tuple[str, str]  # (schema, name)


@dataclass(frozen=True)
class SqlObject:
    """One SQL file = one database object = one asset."""

    path: Path
    group: str
    name: str
    kind: str
    sql: str
    description: str
    kpis: tuple[tuple[str, str], ...]
    creates: frozenset[Ref]
    relations: frozenset[Ref]
    functions: frozenset[Ref]
    code_version: str
    extra_version: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    load_sql: str = ""  # a fact table's load statements (everything after its DDL)
    # The configuration keys the SQL reads (its fn_config_* calls); None when one is an expression.
    config_keys: frozenset[str] | None = None

    def field(self, name: str, default: str = "") -> str:
        return dict(self.fields).get(name.lower(), default)

    @property
    def qualified_name(self) -> str:
        return f"{ANALYTICS_SCHEMA}.{self.name}"

    @property
    def references(self) -> frozenset[Ref]:
        refs = (self.relations | self.functions) - self.creates
        return frozenset(r for r in refs if r[0] != TEMP_SCHEMA)

    @property
    def relative_path(self) -> str:
        try:
            return str(self.path.relative_to(SQL_DIR.parent.parent))
        except ValueError:
            return str(self.path)


# The functions through which SQL reads analytics.config (sql/setup/fn_config_*.sql).
CONFIG_FUNCTIONS = frozenset(
    {"fn_config_int", "fn_config_numeric", "fn_config_text", "fn_config_text_array"}
)


@dataclass
class _Refs:
    relations: set[Ref] = field(default_factory=set)
    functions: set[Ref] = field(default_factory=set)
    unqualified: set[str] = field(default_factory=set)
    ctes: set[str] = field(default_factory=set)
    config_keys: set[str] = field(default_factory=set)  # literal keys of fn_config_* calls
    computed_config_key: bool = False  # a fn_config_* call whose key is an expression


def _walk(node: Any) -> Iterator[ast.Node]:
    """Every AST node below (and including) node."""
    if isinstance(node, ast.Node):
        yield node
        for name in node:  # attribute names
            yield from _walk(getattr(node, name))
    elif isinstance(node, tuple | list):
        for item in node:
            yield from _walk(item)


def _names(items: Iterable[Any]) -> list[str]:
    return [getattr(i, "sval", None) or str(i) for i in items]


def _collect(node: Any, refs: _Refs, stmt_text: str | None = None) -> None:
    for n in _walk(node):
        if isinstance(n, ast.RangeVar):
            if n.schemaname:
                refs.relations.add((n.schemaname, n.relname))
            else:
                refs.unqualified.add(n.relname)
        elif isinstance(n, ast.CommonTableExpr):
            refs.ctes.add(n.ctename)
        elif isinstance(n, ast.FuncCall):
            parts = _names(n.funcname)
            if len(parts) == 2 and parts[0] != "pg_catalog":
                refs.functions.add((parts[0], parts[1]))
            if parts[-1] in CONFIG_FUNCTIONS:
                args = n.args or ()
                if (
                    len(args) == 1
                    and isinstance(args[0], ast.A_Const)
                    and isinstance(args[0].val, ast.String)
                ):
                    refs.config_keys.add(args[0].val.sval)
                else:
                    refs.computed_config_key = True
        elif isinstance(n, ast.CreateFunctionStmt):
            _collect_function_body(n, refs, stmt_text)


def _def_option(stmt: ast.CreateFunctionStmt, name: str) -> Any:
    for opt in stmt.options or ():
        if isinstance(opt, ast.DefElem) and opt.defname == name:
            return opt.arg
    return None


def _collect_function_body(
    stmt: ast.CreateFunctionStmt, refs: _Refs, stmt_text: str | None
) -> None:
    language_arg = _def_option(stmt, "language")
    language = (getattr(language_arg, "sval", None) or "sql").lower()
    body_arg = _def_option(stmt, "as")
    if stmt.sql_body is not None:
        _collect(stmt.sql_body, refs)
        return
    if body_arg is None:
        return
    body = _names(body_arg)[0] if isinstance(body_arg, tuple | list) else body_arg.sval
    if language == "sql":
        _collect(pglast.parse_sql(body), refs)
    elif language == "plpgsql":
        if stmt_text is None:
            raise SqlFileError("a PL/pgSQL function needs its statement text to be parsed")
        for query in _plpgsql_queries(stmt_text):
            _collect(query, refs)


def _plpgsql_queries(stmt_text: str) -> Iterator[Any]:
    """The SQL statements and expressions of a PL/pgSQL function (its CREATE statement), parsed."""
    tree = pglast.parse_plpgsql(stmt_text)
    for query in _plpgsql_expr_strings(tree):
        for candidate in (query, "SELECT " + query):
            try:
                yield pglast.parse_sql(candidate)
                break
            except pglast.parser.ParseError:
                continue


def _plpgsql_expr_strings(tree: Any) -> Iterator[str]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key == "PLpgSQL_expr" and isinstance(value, dict) and "query" in value:
                yield value["query"]
            else:
                yield from _plpgsql_expr_strings(value)
    elif isinstance(tree, list):
        for item in tree:
            yield from _plpgsql_expr_strings(item)


def _created(stmt: ast.Node) -> tuple[str | None, Ref | None]:
    """(kind, (schema, name)) of the object a statement creates, or (None, None)."""
    if isinstance(stmt, ast.CreateSchemaStmt):
        return SCHEMA, (stmt.schemaname, stmt.schemaname)
    if isinstance(stmt, ast.ViewStmt):
        return VIEW, (stmt.view.schemaname, stmt.view.relname)
    if isinstance(stmt, ast.CreateTableAsStmt):
        rel = stmt.into.rel
        kind = MATERIALIZED_VIEW if stmt.objtype == enums.ObjectType.OBJECT_MATVIEW else TABLE
        return kind, (rel.schemaname, rel.relname)
    if isinstance(stmt, ast.CreateStmt):
        return TABLE, (stmt.relation.schemaname, stmt.relation.relname)
    if isinstance(stmt, ast.CreateFunctionStmt):
        parts = _names(stmt.funcname)
        return FUNCTION, (parts[0], parts[-1]) if len(parts) == 2 else (None, parts[-1])
    return None, None


def _header(
    sql: str,
) -> tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """Description (the leading comment's prose), KPI formulas ("-- KPI name: formula") and the
    fields Question / Owner / Refresh."""
    prose: list[str] = []
    kpis: list[tuple[str, str]] = []
    fields: list[tuple[str, str]] = []
    for line in sql.splitlines():
        stripped = line.strip()
        if not stripped:
            if prose and prose[-1] != "":
                prose.append("")
            continue
        if not stripped.startswith("--"):
            break
        match = KPI_LINE.match(stripped)
        field_match = FIELD_LINE.match(stripped)
        if match:
            kpis.append((match.group(1), match.group(2).strip()))
        elif field_match:
            fields.append((field_match.group(1).lower(), field_match.group(2).strip()))
        elif kpis and stripped.startswith("--   "):
            # continuation of the previous KPI formula
            name, formula = kpis[-1]
            kpis[-1] = (name, formula + " " + stripped[2:].strip())
        else:
            prose.append(stripped[2:].strip())
    description = " ".join(p for p in prose if p).strip()
    return description, tuple(kpis), tuple(fields)


def _error_position(sql: str, exc: pglast.parser.ParseError) -> str:
    location = exc.args[1] if len(exc.args) > 1 else None
    if not isinstance(location, int):
        return ""
    before = sql[:location]
    line = before.count("\n") + 1
    column = location - (before.rfind("\n") + 1) + 1
    return f":{line}:{column}"


def parse_sql_file(path: Path, sql_dir: Path = SQL_DIR) -> SqlObject:
    """Turn one SQL file into a SqlObject; a SqlFileError names the file (and line) on problems."""
    sql = path.read_text(encoding="utf-8")
    try:
        statements = pglast.parse_sql(sql)
    except pglast.parser.ParseError as exc:
        raise SqlFileError(
            f"{path}{_error_position(sql, exc)}: SQL syntax error: {exc.args[0]}"
        ) from exc
    if not statements:
        raise SqlFileError(f"{path}: no SQL statement")
    refs = _Refs()
    creates: set[Ref] = set()
    kinds: list[str] = []
    load_parts: list[str] = []
    for raw in statements:
        kind, created = _created(raw.stmt)
        end = raw.stmt_location + raw.stmt_len if raw.stmt_len else len(sql)
        text = sql[raw.stmt_location : end]
        if kind is not None and created is not None and created[0] != TEMP_SCHEMA:
            kinds.append(kind)
            creates.add(created)
        elif not isinstance(raw.stmt, ast.IndexStmt | ast.AlterTableStmt):
            # A fact's indexes and constraints (ALTER TABLE ... ADD PRIMARY KEY) belong to its
            # DDL: run when the table is (re-)created, after its first load; never by a reload.
            load_parts.append(text.strip())
        _collect(raw.stmt, refs, text)
    name = path.stem
    group = path.parent.name
    main_kinds = [k for k in kinds if k in (VIEW, MATERIALIZED_VIEW, FUNCTION, SCHEMA)]
    fact = (
        kinds == [TABLE]
        and load_parts
        and any(isinstance(r.stmt, ast.InsertStmt) for r in statements)
        and not any(isinstance(r.stmt, ast.CreateStmt) and r.stmt.if_not_exists for r in statements)
    )
    if fact:
        kind = FACT_TABLE
    elif len(set(creates)) == 1 and len(kinds) == 1:
        kind = kinds[0]
    elif len(main_kinds) == 1 and main_kinds[0] in (VIEW, MATERIALIZED_VIEW, FUNCTION):
        kind = main_kinds[0]
    else:
        kind = SETUP_SCRIPT
    if kind in (VIEW, MATERIALIZED_VIEW, FUNCTION, TABLE, FACT_TABLE):
        expected = (ANALYTICS_SCHEMA, name)
        main = [c for c in creates if c == expected]
        if not main:
            raise SqlFileError(
                f"{path}: a {kind} file must create {ANALYTICS_SCHEMA}.{name} "
                f"(file name = object name); it creates {sorted(creates)}"
            )
    if kind in (TABLE, SETUP_SCRIPT, SCHEMA):
        # These run on every materialization: they must be idempotent and never drop history.
        for raw in statements:
            stmt = raw.stmt
            if isinstance(stmt, ast.CreateStmt | ast.IndexStmt | ast.CreateSchemaStmt) and not (
                stmt.if_not_exists
            ):
                raise SqlFileError(
                    f"{path}: {type(stmt).__name__} must use IF NOT EXISTS "
                    "(setup runs on every materialization and must never fail or drop data)"
                )
            if isinstance(stmt, ast.DropStmt | ast.TruncateStmt):
                raise SqlFileError(f"{path}: setup scripts must not DROP or TRUNCATE")
    unknown_unqualified = refs.unqualified - refs.ctes
    if unknown_unqualified:
        raise SqlFileError(
            f"{path}: unqualified relation(s) {sorted(unknown_unqualified)}: "
            "qualify every table with its schema (CTE names are fine)"
        )
    description, kpis, fields = _header(sql)
    return SqlObject(
        path=path,
        group=group,
        name=name,
        kind=kind,
        sql=sql,
        description=description,
        kpis=kpis,
        creates=frozenset(creates),
        relations=frozenset(refs.relations),
        functions=frozenset(refs.functions),
        code_version=hashlib.sha256(sql.encode()).hexdigest()[:16],
        fields=fields,
        load_sql=";\n".join(load_parts) + ";\n" if kind == FACT_TABLE else "",
        config_keys=None if refs.computed_config_key else frozenset(refs.config_keys),
    )


def sql_config_keys(sql: str) -> frozenset[str] | None:
    """The configuration keys SQL text reads, as SqlObject.config_keys."""
    refs = _Refs()
    for raw in pglast.parse_sql(sql):
        _collect(raw.stmt, refs)
    return None if refs.computed_config_key else frozenset(refs.config_keys)


def discover_sql_objects(sql_dir: Path = SQL_DIR) -> list[SqlObject]:
    """Every SQL file under sql_dir (sorted by group then name), parsed."""
    objects = [parse_sql_file(p, sql_dir) for p in sorted(sql_dir.glob("*/*.sql"))]
    seen: dict[str, Path] = {}
    for obj in objects:
        if obj.name in seen:
            raise SqlFileError(f"{obj.path}: the name {obj.name!r} is used by {seen[obj.name]} too")
        seen[obj.name] = obj.path
    return objects


def source_tables(schema_file: Path = SOURCE_SCHEMA_FILE) -> list[Ref]:
    """The contract's tables, read from the source DDL (lineage from SQL, not a hand-kept list)."""
    tables: list[Ref] = []
    for raw in pglast.parse_sql(schema_file.read_text(encoding="utf-8")):
        if isinstance(raw.stmt, ast.CreateStmt):
            tables.append((raw.stmt.relation.schemaname, raw.stmt.relation.relname))
    return tables


def source_table_columns(schema_file: Path = SOURCE_SCHEMA_FILE) -> dict[Ref, list[str]]:
    """Column names of each source table, in DDL order."""
    out: dict[Ref, list[str]] = {}
    for raw in pglast.parse_sql(schema_file.read_text(encoding="utf-8")):
        if isinstance(raw.stmt, ast.CreateStmt):
            cols = [e.colname for e in raw.stmt.tableElts if isinstance(e, ast.ColumnDef)]
            out[(raw.stmt.relation.schemaname, raw.stmt.relation.relname)] = cols
    return out

"""The data-quality checks, read from their SQL files (no Dagster, no database here).

Every file ``checks/sql/<dimension>/<dimension>_<what>.sql`` is one check on one source table: a
header comment says what it finds (prose) and which table it is about (``-- Table: schema.table``),
and the SQL returns exactly one row with

- ``affected_count``: failing records (records, not groups),
- ``total_rows``: the population the rule applies to,
- ``threshold``: the failing rate the check tolerates (read from ``analytics.config``),
- ``severity``: ``ERROR`` (blocking) or ``WARN``, read from ``quality_checks.<check name>``,
- ``sample_keys``: up to ``quality.sample_key_limit`` keys of failing rows, in a fixed order,
- ``details`` (optional): a JSON object with what else the check measured.

A check whose result is the sum of its results over disjoint ranges of order ids says so with a
header line ``-- Split: order_id``: every record it counts, and every row that decides whether a
record fails, belongs to one order (the tables split by order id are joined on it; other tables are
read whole). The evaluation then runs it on the older and the recent orders separately and reuses
the older part while those rows do not change (``checks/segments.py``). Such a check returns no
``details`` (they could not be added up).

Where the population is one scan (a table, or a join), a check reads it once: a ``checked`` CTE flags
each row (``failed``), one aggregate counts the population and collects the failing keys
(``array_agg(...) FILTER (WHERE failed)``, so the condition is evaluated once per row), and
``affected_count`` is the number of keys collected; the sample keys are the first of them in key order.
That replaced a separate ``count(*)`` of the table and a materialized CTE of failing rows (with the
other rewrites, 14 % less server CPU for the whole evaluation at scales 1 and 10). The failing keys
are held in memory while the check runs (a few bytes each). Checks that relate two large tables read
both along their key indexes (a subquery ``ORDER BY`` the key, so the planner merges them instead of
hashing every order), and duplicate checks count per key from the index first and read only the
duplicated keys' rows; each file's header says which shape it uses and why.

The files live outside ``retailmart_dagster/sql/`` on purpose: they are not database objects, so they
must not become assets. Lineage (the tables and analytics functions a check reads) comes from the SQL
itself, parsed with pglast like every other SQL file of the project.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retailmart_dagster.assets.sql_parse import (
    CONFIG_FUNCTIONS,
    Ref,
    SqlFileError,
    parse_sql_file,
    source_tables,
    sql_config_keys,
)
from retailmart_dagster.config import ConfigError

CHECKS_SQL_DIR = Path(__file__).resolve().parent / "sql"
DIMENSIONS = ("completeness", "accuracy", "consistency", "timeliness", "uniqueness")
SEVERITIES = ("ERROR", "WARN")
SEVERITY_SECTION = "quality_checks"
RESULT_COLUMNS = ("affected_count", "total_rows", "threshold", "severity", "sample_keys")
OPTIONAL_COLUMNS = ("details",)

TABLE_LINE = re.compile(r"^--\s*Table\s*:\s*([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\s*$")
SPLIT_LINE = re.compile(r"^--\s*Split\s*:\s*([a-z_][a-z0-9_]*)\s*$")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class QualityCheck:
    """One data-quality rule: a SQL file about one source table."""

    name: str
    dimension: str
    table: Ref
    description: str
    sql: str
    path: Path
    reads: frozenset[Ref]
    uses: frozenset[Ref]
    split: str | None = None  # the column of the ``-- Split:`` header line, if any
    # The configuration keys the SQL reads (its analytics.fn_config_* calls with a literal key);
    # None when it reads a key that is not a literal, or calls another analytics function that
    # might read one (then the whole configuration counts, see checks/segments.py).
    config_keys: frozenset[str] | None = None

    @property
    def table_name(self) -> str:
        return f"{self.table[0]}.{self.table[1]}"

    @property
    def severity_key(self) -> str:
        return f"{SEVERITY_SECTION}.{self.name}"

    @property
    def relative_path(self) -> str:
        try:
            return str(self.path.relative_to(CHECKS_SQL_DIR.parent.parent.parent))
        except ValueError:
            return str(self.path)

    def configured_severity(self, values: Mapping[str, Any]) -> str:
        """The severity configured for this check (analytics.toml, section [quality_checks])."""
        if self.severity_key not in values:
            raise ConfigError(
                f"analytics.toml: no severity for check {self.name} ({self.path}); add "
                f'{self.name} = {{ value = "ERROR" or "WARN", description = "..." }} '
                f"to the [{SEVERITY_SECTION}] section"
            )
        severity = values[self.severity_key]
        if severity not in SEVERITIES:
            raise ConfigError(
                f"analytics.toml: {self.severity_key} = {severity!r}; must be one of {SEVERITIES}"
            )
        return str(severity)


def _header(sql: str) -> tuple[str, list[str], list[str]]:
    """The prose of the leading comment block, its ``-- Table:`` lines and its ``-- Split:`` lines."""
    prose: list[str] = []
    tables: list[str] = []
    splits: list[str] = []
    for line in sql.splitlines():
        stripped = line.strip()
        if not stripped.startswith("--"):
            break
        if TABLE_LINE.match(stripped) or stripped.lower().startswith("-- table"):
            tables.append(stripped)
        elif SPLIT_LINE.match(stripped) or stripped.lower().startswith("-- split"):
            splits.append(stripped)
        else:
            prose.append(stripped[2:].strip())
    return " ".join(p for p in prose if p), tables, splits


# Analytics functions known to read no configuration (besides the fn_config_* themselves).
CONFIG_FREE_FUNCTIONS = frozenset({"fn_reference_date"})


def _narrowed(keys: frozenset[str] | None, uses: frozenset[Ref]) -> frozenset[str] | None:
    """keys, or None when uses holds an analytics relation or function that is neither a
    fn_config_* nor known to read no configuration (it might read keys of its own)."""
    if any(
        schema == "analytics" and name not in CONFIG_FUNCTIONS | CONFIG_FREE_FUNCTIONS
        for schema, name in uses
    ):
        return None
    return keys


def config_keys(sql: str, uses: frozenset[Ref]) -> frozenset[str] | None:
    """The configuration keys a check's SQL reads, or None when that cannot be told from its text:
    a key given as an expression, or a call of an analytics function that is neither a
    fn_config_* nor known to read no configuration."""
    return _narrowed(sql_config_keys(sql), uses)


def parse_check_file(path: Path, sources: Sequence[Ref] | None = None) -> QualityCheck:
    """Read one check file; a SqlFileError names the file and what is wrong with it."""
    dimension = path.parent.name
    name = path.stem
    if dimension not in DIMENSIONS:
        raise SqlFileError(f"{path}: checks live in a folder named after a dimension {DIMENSIONS}")
    if not NAME.match(name) or not name.startswith(f"{dimension}_"):
        raise SqlFileError(
            f"{path}: a check is named <dimension>_<what>, e.g. {dimension}_orphan_x"
        )
    parsed = parse_sql_file(path)  # pglast: syntax errors name file:line:column
    if parsed.creates:
        raise SqlFileError(
            f"{path}: a check only reads; it must not create {sorted(parsed.creates)}"
        )
    description, table_lines, split_lines = _header(parsed.sql)
    if len(table_lines) != 1 or not TABLE_LINE.match(table_lines[0]):
        raise SqlFileError(
            f"{path}: the header needs exactly one line '-- Table: <schema>.<table>' naming the "
            "source table the check is about"
        )
    match = TABLE_LINE.match(table_lines[0])
    assert match is not None
    table = (match.group(1), match.group(2))
    known = set(sources if sources is not None else source_tables())
    if table not in known:
        raise SqlFileError(f"{path}: '-- Table: {table[0]}.{table[1]}' is not a source table")
    split_match = SPLIT_LINE.match(split_lines[0]) if len(split_lines) == 1 else None
    if split_lines and split_match is None:
        raise SqlFileError(
            f"{path}: at most one header line '-- Split: <column>' (e.g. '-- Split: order_id')"
        )
    reads = frozenset(r for r in parsed.relations if r in known)
    if table not in reads:
        raise SqlFileError(f"{path}: the check is about {table[0]}.{table[1]} but never reads it")
    if f"'{SEVERITY_SECTION}.{name}'" not in parsed.sql:
        raise SqlFileError(
            f"{path}: the check must read its severity with "
            f"analytics.fn_config_text('{SEVERITY_SECTION}.{name}')"
        )
    if not description:
        raise SqlFileError(f"{path}: needs a header comment saying what the check finds")
    uses = frozenset((parsed.relations - known) | parsed.functions)
    return QualityCheck(
        name=name,
        dimension=dimension,
        table=table,
        description=description,
        sql=parsed.sql,
        path=path,
        reads=reads,
        uses=uses,
        split=split_match.group(1) if split_match else None,
        config_keys=_narrowed(parsed.config_keys, uses),
    )


def load_checks(sql_dir: Path = CHECKS_SQL_DIR) -> list[QualityCheck]:
    """Every check, ordered by dimension (DIMENSIONS order) then name."""
    sources = source_tables()
    checks = [parse_check_file(p, sources) for p in sorted(sql_dir.glob("*/*.sql"))]
    stray = sorted(p for p in sql_dir.rglob("*.sql") if p.parent.parent != sql_dir)
    if stray:
        raise SqlFileError(f"{stray[0]}: check files live directly in sql/<dimension>/")
    return sorted(checks, key=lambda c: (DIMENSIONS.index(c.dimension), c.name))


def severities(checks: Sequence[QualityCheck], values: Mapping[str, Any]) -> dict[str, str]:
    """Configured severity of every check; every [quality_checks] key must name a check."""
    out = {c.name: c.configured_severity(values) for c in checks}
    prefix = f"{SEVERITY_SECTION}."
    unknown = sorted(k for k in values if k.startswith(prefix) and k[len(prefix) :] not in out)
    if unknown:
        raise ConfigError(
            f"analytics.toml: {unknown} in [{SEVERITY_SECTION}] name no check file under "
            f"{CHECKS_SQL_DIR}"
        )
    return out

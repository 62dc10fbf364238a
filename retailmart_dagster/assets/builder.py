"""Build one analytics object in the database, safely and idempotently (no Dagster here).

- Setup scripts and tables run as written every time: their SQL is idempotent (IF NOT EXISTS), so
  re-running setup never drops history or logs.
- Views, materialized views and functions are versioned by the hash of their SQL file, recorded in
  ``analytics.object_registry``. Same version: a materialized view is rebuilt beside the old one and
  swapped in (see :meth:`SqlBuilder._swap_refresh`), or refreshed CONCURRENTLY when a swap is not
  possible — readers are never blocked while the new rows are computed; a view or function is left
  alone. Changed or missing: the old object is dropped
  with CASCADE and re-created, and every analytics object that the drop took with it is re-created from
  its own file — all in ONE transaction, so a failure leaves the previous version in place.
- Every build holds a transaction-level advisory lock on the object, so two runs never build the same
  object at once (the second waits).
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pglast
import psycopg
from pglast import ast
from pglast.stream import RawStream
from psycopg import sql

from retailmart_dagster.assets.sql_parse import (
    ANALYTICS_SCHEMA,
    FACT_TABLE,
    FUNCTION,
    MATERIALIZED_VIEW,
    SCHEMA,
    SETUP_SCRIPT,
    TABLE,
    VIEW,
    SqlObject,
)
from retailmart_dagster.config import config_value

VERSIONED_KINDS = (VIEW, MATERIALIZED_VIEW, FUNCTION, FACT_TABLE)
DEFAULT_REFRESH = "daily (full_refresh_job)"
BOOTSTRAP_TABLES = ("execution_log", "object_registry", "refresh_history")
RELATION_KINDS = (TABLE, VIEW, MATERIALIZED_VIEW, FACT_TABLE)
FACT_PARTITIONS = "analytics.fact_partitions"
REGISTRY_OBJECT = "object_registry"
DIFF_STATISTICS_TARGET = 10
_DROP_KEYWORD = {
    VIEW: "VIEW",
    MATERIALIZED_VIEW: "MATERIALIZED VIEW",
    FUNCTION: "FUNCTION",
    FACT_TABLE: "TABLE",
}

# A build that waited longer than this for the object's advisory lock says so (metadata and log).
LOCK_WAIT_REPORTED_S = 0.1
# Suffix of a materialized view's next version while it is built beside the current one.
SWAP_SUFFIX = "__swap"
# Suffix of a swapped-out version that a materialized view still reads (dropped once none does).
RETIRED_SUFFIX = "__retired"
# Pause between two attempts at a swap's lock (a reader or autovacuum holds the old version).
SWAP_RETRY_PAUSE_S = 0.05
# Advisory lock (transaction level) of the DDL that changes objects other steps may read: a swap's
# renames and view re-pointing, a drop-and-recreate, the drop of retired versions. Two steps that
# run at once (retailmart_dagster/executor.py) would otherwise re-point a view that reads both
# their materialized views in opposite lock order (a deadlock) or drop the same retired version.
# Held from then to the build's commit: milliseconds for a swap, whose computation (CREATE
# MATERIALIZED VIEW of the next version) runs before it, side by side with other steps; the whole
# re-creation for an object whose SQL changed (an upgrade, rare). Creating a new object or loading
# a fact takes no such lock.
DDL_LOCK = "retailmart:ddl"
_MAX_IDENTIFIER = 63

PostHook = Callable[[psycopg.Connection], None]


@dataclass
class BuildResult:
    name: str
    action: str
    duration_ms: float
    row_count: int | None = None
    columns: list[tuple[str, str]] = field(default_factory=list)
    recreated_dependents: list[str] = field(default_factory=list)
    # Seconds spent waiting for another run's build of the same object (advisory lock), when > 0.1 s.
    lock_wait_s: float | None = None


SCHEMA_OBJECT = "schema_analytics"
# The audit tables every build writes to, built in this order right after the schema; every other
# object depends on the last of them, so that from the first run on every build is logged.
AUDIT_TABLES = ("execution_log", "object_registry", "refresh_history", "kpi_metadata")
ROLES_OBJECT = "roles"


def analytics_dependencies(objects: Sequence[SqlObject]) -> dict[str, set[str]]:
    """Names of the analytics objects each object depends on: what its SQL references, plus the
    build order of setup (the schema first, then the audit tables, then everything else; every
    object that reads a source table after the roles step, which grants that read)."""
    created = {ref: o.name for o in objects for ref in o.creates}
    names = {o.name for o in objects}
    deps: dict[str, set[str]] = {}
    for o in objects:
        found = {created[r] for r in o.references if r in created and created[r] != o.name}
        if o.name != SCHEMA_OBJECT and SCHEMA_OBJECT in names:
            found.add(SCHEMA_OBJECT)
        if o.name in AUDIT_TABLES:
            position = AUDIT_TABLES.index(o.name)
            if position > 0 and AUDIT_TABLES[position - 1] in names:
                found.add(AUDIT_TABLES[position - 1])
        elif o.name != SCHEMA_OBJECT and AUDIT_TABLES[-1] in names:
            found.add(AUDIT_TABLES[-1])
        reads_source = any(r[0] != ANALYTICS_SCHEMA for r in o.references)
        if reads_source and ROLES_OBJECT in names and o.name != ROLES_OBJECT:
            # The pipeline role reads the source through the grants of the roles step; a source
            # schema that was re-created (new sample data, a reload) has lost them until it runs.
            found.add(ROLES_OBJECT)
        deps[o.name] = found
    return deps


def topological_order(objects: Sequence[SqlObject]) -> list[SqlObject]:
    """Objects ordered so that each comes after every analytics object it depends on."""
    by_name = {o.name: o for o in objects}
    deps = analytics_dependencies(objects)
    ordered: list[SqlObject] = []
    state: dict[str, int] = {}

    def visit(o: SqlObject) -> None:
        if state.get(o.name) == 2:
            return
        if state.get(o.name) == 1:
            raise ValueError(f"{o.path}: dependency cycle through {o.qualified_name}")
        state[o.name] = 1
        for name in sorted(deps[o.name]):
            visit(by_name[name])
        state[o.name] = 2
        ordered.append(o)

    for o in sorted(objects, key=lambda x: (x.group != "setup", x.group, x.name)):
        visit(o)
    return ordered


def downstream(objects: Sequence[SqlObject], root: SqlObject) -> list[SqlObject]:
    """Analytics objects that depend on root, directly or not, in build order."""
    order = topological_order(objects)
    affected = {ref for ref in root.creates}
    result: list[SqlObject] = []
    for o in order:
        if o.name == root.name:
            continue
        if o.references & affected:
            result.append(o)
            affected |= o.creates
    return result


def _suffixed(name: str, suffix: str) -> str:
    return name[: _MAX_IDENTIFIER - len(suffix)] + suffix


# The server version from which REFRESH MATERIALIZED VIEW's rows are in the transaction's statistics
# (pg_stat_get_xact_tuples_inserted) as SqlBuilder._refreshed_rows reads them.
REFRESH_COUNTS_FROM = 150000
_WITH_DATA_AT_END = re.compile(r"\bWITH\s+DATA$", re.IGNORECASE)


@functools.lru_cache(maxsize=256)
def _swap_plan(name: str, text_sql: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The swap statements of SqlBuilder._swap_statements for a view's file, parsed once per
    process (pglast's parse and deparse of a view's file cost a few ms of the step's CPU, every
    run, while holding the GIL the other running steps' threads need)."""
    statements = pglast.parse_sql(text_sql)
    first = statements[0].stmt
    if (
        not isinstance(first, ast.CreateTableAsStmt)
        or first.into.skipData
        or not all(isinstance(r.stmt, ast.IndexStmt) and r.stmt.idxname for r in statements[1:])
    ):
        return None
    rel = first.into.rel
    written = re.compile(rf"{ANALYTICS_SCHEMA}\s*\.\s*{re.escape(name)}\b")
    match = written.match(text_sql, rel.location)
    if match is None:
        return None
    begin = statements[0].stmt_location
    text = text_sql[begin : begin + statements[0].stmt_len]
    swap = f"{ANALYTICS_SCHEMA}.{_suffixed(name, SWAP_SUFFIX)}"
    create = text[: rel.location - begin] + swap + text[match.end() - begin :]
    # Created empty, then filled by REFRESH (see SqlBuilder._swap_refresh); a new line, in case
    # the statement ends in a comment.
    create = _WITH_DATA_AT_END.sub("", create.rstrip()).rstrip() + "\nWITH NO DATA"
    result = [create]
    indexes = []
    for raw in statements[1:]:
        index = raw.stmt
        indexes.append(index.idxname)
        index.relation.relname = _suffixed(name, SWAP_SUFFIX)
        index.idxname = _suffixed(index.idxname, SWAP_SUFFIX)
        result.append(RawStream()(index))
    return tuple(result), tuple(indexes)


class SqlBuilder:
    """Builds SqlObjects; knows all of them so that dependents can be re-created after a drop."""

    def __init__(
        self,
        objects: Sequence[SqlObject],
        post_hooks: dict[str, PostHook] | None = None,
        retire_removed: bool = False,
    ) -> None:
        """``retire_removed``: when the registry is set up, drop registered objects that are not in
        ``objects`` (see :meth:`retire_removed`) — only for a builder that knows every object."""
        self.retire = retire_removed
        self.objects = list(objects)
        self.created = {ref: o for o in self.objects for ref in o.creates}
        self.by_name = {o.name: o for o in self.objects}
        self.post_hooks = post_hooks or {}
        self.swap_lock_timeout_ms = int(config_value("runtime.swap_lock_timeout_ms"))
        self.swap_attempts = int(config_value("runtime.swap_attempts"))

    # ---------------------------------------------------------------- queries
    @staticmethod
    def _exists(conn: psycopg.Connection, obj: SqlObject) -> bool:
        if obj.kind == FUNCTION:
            row = conn.execute(
                "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = %s AND p.proname = %s",
                (ANALYTICS_SCHEMA, obj.name),
            ).fetchone()
            return bool(row and row[0])
        if obj.kind == SCHEMA:
            schema = next(iter(obj.creates))[1]
            row = conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", (schema,)).fetchone()
            return bool(row and row[0])
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (obj.qualified_name,)).fetchone()
        return bool(row and row[0])

    @staticmethod
    def _has_table(conn: psycopg.Connection, qualified: str) -> bool:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,)).fetchone()
        return bool(row and row[0])

    def _registered_version(self, conn: psycopg.Connection, obj: SqlObject) -> str | None:
        if not self._has_table(conn, "analytics.object_registry"):
            return None
        row = conn.execute(
            "SELECT code_version FROM analytics.object_registry WHERE object_name = %s",
            (obj.name,),
        ).fetchone()
        return row[0] if row else None

    def _register(
        self, conn: psycopg.Connection, obj: SqlObject, created: bool, row_count: int | None = None
    ) -> None:
        """Record obj's version as built. A fact table's row also keeps its row count (None: not
        counted, the next load counts), from which its next incremental load computes its count
        (:meth:`_loaded_row_count`); only facts touch that column, built after the setup that
        adds it to a registry of an older version."""
        if not self._has_table(conn, "analytics.object_registry"):
            return
        if obj.kind == FACT_TABLE:
            conn.execute(
                """
                INSERT INTO analytics.object_registry AS r
                       (object_name, object_kind, code_version, created_at, last_built_at,
                        row_count)
                VALUES (%s, %s, %s, now(), now(), %s)
                ON CONFLICT (object_name) DO UPDATE
                   SET object_kind = EXCLUDED.object_kind,
                       code_version = EXCLUDED.code_version,
                       created_at = CASE WHEN %s THEN now() ELSE r.created_at END,
                       last_built_at = now(),
                       row_count = EXCLUDED.row_count
                """,
                (obj.name, obj.kind, self.version(obj), row_count, created),
            )
            return
        conn.execute(
            """
            INSERT INTO analytics.object_registry AS r
                   (object_name, object_kind, code_version, created_at, last_built_at)
            VALUES (%s, %s, %s, now(), now())
            ON CONFLICT (object_name) DO UPDATE
               SET object_kind = EXCLUDED.object_kind,
                   code_version = EXCLUDED.code_version,
                   created_at = CASE WHEN %s THEN now() ELSE r.created_at END,
                   last_built_at = now()
            """,
            (obj.name, obj.kind, self.version(obj), created),
        )

    @staticmethod
    def version(obj: SqlObject) -> str:
        return obj.code_version + (f"+{obj.extra_version}" if obj.extra_version else "")

    @staticmethod
    def _ident(obj: SqlObject) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(ANALYTICS_SCHEMA), sql.Identifier(obj.name))

    def _drop(self, conn: psycopg.Connection, obj: SqlObject) -> None:
        self._drop_named(conn, obj.name, _DROP_KEYWORD[obj.kind])

    @staticmethod
    def _drop_named(conn: psycopg.Connection, name: str, keyword: str) -> None:
        """DROP ... CASCADE of analytics.<name>; the kind in the database wins over ``keyword``
        (a view that became a materialized view, or the reverse)."""
        current = conn.execute(
            """
            SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                  WHEN 'r' THEN 'TABLE' END
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = %s AND c.relname = %s
            """,
            (ANALYTICS_SCHEMA, name),
        ).fetchone()
        if current and current[0]:
            keyword = current[0]
        target = sql.SQL("{}.{}").format(sql.Identifier(ANALYTICS_SCHEMA), sql.Identifier(name))
        conn.execute(sql.SQL("DROP {} IF EXISTS {} CASCADE").format(sql.SQL(keyword), target))

    def row_count(self, conn: psycopg.Connection, obj: SqlObject) -> int | None:
        if obj.kind not in RELATION_KINDS:
            return None
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(self._ident(obj))).fetchone()
        return int(row[0]) if row else None

    def columns(self, conn: psycopg.Connection, obj: SqlObject) -> list[tuple[str, str]]:
        if obj.kind not in RELATION_KINDS:
            return []
        return [
            (r[0], r[1])
            for r in conn.execute(
                """
                SELECT a.attname, format_type(a.atttypid, a.atttypmod)
                  FROM pg_attribute a
                 WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
                 ORDER BY a.attnum
                """,
                (obj.qualified_name,),
            )
        ]

    def retire_removed(self, conn: psycopg.Connection) -> list[str]:
        """Drop the objects this platform built (they are in object_registry) whose SQL file is
        gone — renamed or deleted in a new version — with their catalog entries, so an upgraded
        database holds no stale KPI objects. Objects that others created in the schema are never
        touched: only registered names are dropped. Returns the retired names."""
        current = {o.name for o in self.objects}
        rows = conn.execute(
            "SELECT object_name, object_kind FROM analytics.object_registry ORDER BY object_name"
        ).fetchall()
        retired = []
        for name, kind in rows:
            if name in current or kind not in _DROP_KEYWORD:
                continue
            self._drop_named(conn, name, _DROP_KEYWORD[kind])
            conn.execute("DELETE FROM analytics.object_registry WHERE object_name = %s", (name,))
            if self._has_table(conn, "analytics.kpi_metadata"):
                conn.execute("DELETE FROM analytics.kpi_metadata WHERE object_name = %s", (name,))
            if self._has_table(conn, FACT_PARTITIONS):
                self._forget_partitions(conn, name)
            if self._has_table(conn, "analytics.execution_log"):
                conn.execute(
                    "INSERT INTO analytics.execution_log (object_name, action, status, started_at,"
                    " finished_at, duration_ms) VALUES (%s, 'retire', 'success', now(),"
                    " clock_timestamp(), 0)",
                    (name,),
                )
            retired.append(name)
        return retired

    def _inputs_exist(self, conn: psycopg.Connection, obj: SqlObject) -> bool:
        """Whether every analytics object that obj references exists now (in an upgrade, one of
        them may have been dropped with the same CASCADE and not be rebuilt yet)."""
        return all(
            self._exists(conn, self.created[ref])
            for ref in obj.references
            if ref in self.created and self.created[ref].name != obj.name
        )

    # ------------------------------------------------------------------- swap
    def _swap_statements(self, obj: SqlObject) -> tuple[list[str], list[str]] | None:
        """obj's SQL rewritten to build its next version under the swap name: the CREATE
        MATERIALIZED VIEW statement as written (only the name changed, and WITH NO DATA: the swap
        fills it by a REFRESH) and its indexes under swap names; and the indexes' own names. None
        when the file holds anything else, creates the view empty, or names the view in an unusual
        spelling."""
        planned = _swap_plan(obj.name, obj.sql)
        return None if planned is None else (list(planned[0]), list(planned[1]))

    @staticmethod
    def _dependents(conn: psycopg.Connection, oid: int) -> list[tuple[str, str, str | None]]:
        """(kind, qualified name, CREATE OR REPLACE VIEW statement) of what depends on relation
        oid: kind 'view' (a plain view this session may replace; the statement re-creates it with
        its definition as the server holds it, every name schema-qualified), 'matview', or 'other'
        (a function with a SQL-standard body, a view of a role this session cannot act as, ...)."""
        path = conn.execute("SELECT current_setting('search_path')").fetchone()[0]
        conn.execute("SELECT set_config('search_path', 'pg_catalog', true)")
        try:
            rows = conn.execute(
                """
                SELECT DISTINCT
                       CASE WHEN d.classid <> 'pg_rewrite'::regclass THEN 'other'
                            WHEN v.relkind = 'm' THEN 'matview'
                            WHEN v.relkind = 'v' AND pg_has_role(v.relowner, 'USAGE') THEN 'view'
                            ELSE 'other' END,
                       quote_ident(n.nspname) || '.' || quote_ident(v.relname),
                       v.reloptions,
                       CASE WHEN v.relkind = 'v' THEN pg_get_viewdef(v.oid) END
                  FROM pg_depend AS d
                  LEFT JOIN pg_rewrite AS r
                    ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
                  LEFT JOIN pg_class AS v ON v.oid = r.ev_class
                  LEFT JOIN pg_namespace AS n ON n.oid = v.relnamespace
                 WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = %s
                   AND d.deptype = 'n' AND v.oid IS DISTINCT FROM d.refobjid
                """,
                (oid,),
            ).fetchall()
        finally:
            conn.execute("SELECT set_config('search_path', %s, true)", (path,))
        result = []
        for kind, name, options, definition in rows:
            statement = None
            if kind == "view":
                with_options = f" WITH ({', '.join(options)})" if options else ""
                statement = f"CREATE OR REPLACE VIEW {name}{with_options} AS {definition}"
            result.append((kind, name, statement))
        return result

    @staticmethod
    def _refreshed_rows(conn: psycopg.Connection, name: str) -> int:
        """The rows the REFRESH MATERIALIZED VIEW of analytics.<name> just wrote in this
        transaction: it reports them to the statistics system as a truncation and as many inserts
        (PostgreSQL 15 and later, checked on 15 and 16); count(*) on an older server."""
        if conn.info.server_version >= REFRESH_COUNTS_FROM:
            row = conn.execute(
                "SELECT pg_stat_get_xact_tuples_inserted(to_regclass(%s))",
                (f"{ANALYTICS_SCHEMA}.{name}",),
            ).fetchone()
            return int(row[0])
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(ANALYTICS_SCHEMA, name))
        ).fetchone()
        return int(row[0])

    def _swap_refresh(self, conn: psycopg.Connection, obj: SqlObject) -> int | None:
        """Refresh materialized view obj by building its next version beside it and swapping the
        two; returns the new row count, or None when a swap is not possible (the caller then
        refreshes CONCURRENTLY).

        A REFRESH ... CONCURRENTLY computes the new rows, then diffs them against the old ones row
        by row and applies the difference: when most rows change (a customer's recency changes
        every day), the diff costs more than the computation (mv_customer_rfm at scale 10: 2.3 s to
        compute, 7.9 s to refresh concurrently with nothing changed). The swap instead creates the
        new version under a temporary name (readers keep reading the old one, unblocked, while it
        is computed), gives it the old one's owner, grants and comment, then, in milliseconds:
        renames old and new, points the views that read it at the new one (CREATE OR REPLACE VIEW
        with their own definition: their OIDs, owners, grants and dependents stay), restores the
        index names and drops the old version. A materialized view that reads the old version
        keeps it (renamed ``..__retired``) until it is itself rebuilt from its file — later in the
        same run — and then the retired version is dropped (:meth:`_drop_retired`).

        The swap needs an ACCESS EXCLUSIVE lock on the old version: each attempt waits for it at
        most runtime.swap_lock_timeout_ms (readers that arrive meanwhile wait behind it for no
        longer than that; deadlock_timeout longer while autovacuum holds the old version, see
        :meth:`_swap_lock_wait_ms`); after runtime.swap_attempts attempts, 50 ms apart, it gives
        up and the caller refreshes CONCURRENTLY. The same happens when obj's file holds more
        than the view and its indexes, when an index was added by hand, or when something other
        than views and materialized views depends on it."""
        planned = self._swap_statements(obj)
        if planned is None:
            return None
        statements, indexes = planned
        oid, owned, column_acl = conn.execute(
            "SELECT c.oid, pg_has_role(c.relowner, 'USAGE'), EXISTS (SELECT 1 FROM pg_attribute a"
            " WHERE a.attrelid = c.oid AND a.attacl IS NOT NULL)"
            " FROM pg_class c WHERE c.oid = to_regclass(%s)",
            (obj.qualified_name,),
        ).fetchone()
        current = conn.execute(
            "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
            " WHERE x.indrelid = %s",
            (oid,),
        ).fetchall()
        # Whether a swap can carry the dependents over, asked in a savepoint rolled back at once:
        # reading a view's definition (pg_get_viewdef) locks what the view reads, and held through
        # the computation below those locks would keep a step running at the same time out of its
        # own swap (a view reading both). The list used for the swap is read again under the DDL
        # lock.
        with conn.transaction(force_rollback=True):
            dependents = self._dependents(conn, oid)
        if (
            not owned
            or column_acl
            or sorted(r[0] for r in current) != sorted(indexes)
            or any(kind == "other" for kind, _, _ in dependents)
        ):
            return None
        swap_name = _suffixed(obj.name, SWAP_SUFFIX)
        with conn.transaction():  # a savepoint: when the swap gives up, the next version vanishes
            # Created empty, then filled by REFRESH MATERIALIZED VIEW, which writes its rows
            # frozen on all-visible pages (it fills a new file of its own), where CREATE ... AS
            # writes them as any insert: every reader of the new version then skips the rows'
            # visibility checks and sets no hint bits (at scale 10, a scan of the 500 k lifetime
            # value rows 64-70 -> 57-62 ms, every later scan too), and autovacuum finds them
            # frozen. The rows it wrote are in the transaction's statistics: no count(*) of the
            # new version (40-55 ms each for the customer views on the daily chain).
            swap_ident = sql.Identifier(ANALYTICS_SCHEMA, swap_name)
            conn.execute(statements[0])
            conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}").format(swap_ident))
            count = self._refreshed_rows(conn, swap_name)
            for statement in statements[1:]:
                conn.execute(statement)
            self._copy_ownership(conn, obj, swap_name)
            self._ddl_lock(conn)
            dependents = self._dependents(conn, oid)
            # No attempt when something the swap cannot carry over appeared meanwhile.
            carried = not any(kind == "other" for kind, _, _ in dependents)
            wait_ms = self.swap_lock_timeout_ms
            for attempt in range(1, self.swap_attempts + 1 if carried else 1):
                try:
                    with conn.transaction():
                        self._swap_in(conn, obj, swap_name, dependents, indexes, wait_ms)
                    return int(count)
                except (
                    psycopg.errors.DependentObjectsStillExist,  # a retired version still in use
                    psycopg.errors.DuplicateTable,
                ):
                    break
                except psycopg.errors.LockNotAvailable:
                    if attempt < self.swap_attempts:
                        wait_ms = self._swap_lock_wait_ms(conn, obj)
                        time.sleep(SWAP_RETRY_PAUSE_S)
            self._drop_matview(conn, swap_name)
        return None

    @staticmethod
    def _drop_matview(conn: psycopg.Connection, name: str) -> None:
        """DROP (RESTRICT) of analytics.<name>: a swap's next or retired version."""
        conn.execute(
            sql.SQL("DROP MATERIALIZED VIEW {}").format(sql.Identifier(ANALYTICS_SCHEMA, name))
        )

    @staticmethod
    def _copy_ownership(conn: psycopg.Connection, obj: SqlObject, swap_name: str) -> None:
        """Give the next version the current version's owner, grants and comment."""
        old, new = obj.qualified_name, f"{ANALYTICS_SCHEMA}.{swap_name}"
        target = sql.Identifier(ANALYTICS_SCHEMA, swap_name)
        owner, comment = conn.execute(
            "SELECT c.relowner::regrole::text, obj_description(c.oid, 'pg_class')"
            " FROM pg_class c WHERE c.oid = to_regclass(%s)",
            (old,),
        ).fetchone()
        conn.execute(
            sql.SQL("ALTER MATERIALIZED VIEW {} OWNER TO {}").format(target, sql.SQL(owner))
        )
        if comment is not None:
            conn.execute(
                sql.SQL("COMMENT ON MATERIALIZED VIEW {} IS {}").format(
                    target, sql.Literal(comment)
                )
            )
        grants = """
            SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
                   a.privilege_type, a.is_grantable
              FROM pg_class c
             CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS a
             WHERE c.oid = to_regclass(%s) AND a.grantee <> c.relowner
        """
        wanted = set(conn.execute(grants, (old,)).fetchall())
        present = set(conn.execute(grants, (new,)).fetchall())
        for grantee, privilege, _ in present - wanted:
            conn.execute(
                sql.SQL("REVOKE {} ON {} FROM {}").format(
                    sql.SQL(privilege), target, sql.SQL(grantee)
                )
            )
        for grantee, privilege, grantable in wanted - present:
            conn.execute(
                sql.SQL(
                    "GRANT {} ON {} TO {}" + (" WITH GRANT OPTION" if grantable else "")
                ).format(sql.SQL(privilege), target, sql.SQL(grantee))
            )

    def _swap_lock_wait_ms(self, conn: psycopg.Connection, obj: SqlObject) -> int:
        """How long the next attempt at obj's swap waits for its lock: runtime.swap_lock_timeout_ms,
        or, while an autovacuum worker holds a lock on obj or its retired version, that much more
        than the server's deadlock_timeout. A lock request that has waited deadlock_timeout cancels
        the (not anti-wraparound) autovacuum worker in its way; one that gives up sooner never
        does, so every attempt failed for as long as autovacuum kept the lock: in a scale-10 daily
        refresh, autovacuum truncating mv_customer_segments held it through all 60 attempts (4.3
        s, the DDL lock held meanwhile kept the customer views' swaps waiting too) and the view was
        refreshed CONCURRENTLY: the run took 23 s instead of 14.5 s. Readers that arrive meanwhile
        wait behind that one attempt as long."""
        row = conn.execute(
            """
            SELECT EXISTS (
                       SELECT 1
                         FROM pg_catalog.pg_locks AS l
                         JOIN pg_catalog.pg_stat_activity AS a ON a.pid = l.pid
                        WHERE l.granted
                          AND l.relation IN (to_regclass(%s), to_regclass(%s))
                          AND (a.backend_type = 'autovacuum worker'
                               -- a role without pg_read_all_stats (the pipeline role) sees no
                               -- other role's backend_type; an autovacuum worker has no user
                               OR (a.backend_type IS NULL AND a.usesysid IS NULL))),
                   (SELECT setting::int FROM pg_catalog.pg_settings
                     WHERE name = 'deadlock_timeout')
            """,
            (obj.qualified_name, f"{ANALYTICS_SCHEMA}.{_suffixed(obj.name, RETIRED_SUFFIX)}"),
        ).fetchone()
        if row is None or not row[0]:
            return self.swap_lock_timeout_ms
        return int(row[1]) + self.swap_lock_timeout_ms

    def _swap_in(
        self,
        conn: psycopg.Connection,
        obj: SqlObject,
        swap_name: str,
        dependents: list[tuple[str, str, str | None]],
        indexes: list[str],
        wait_ms: int,
    ) -> None:
        """The swap itself, in a savepoint: old out (under a lock_timeout of wait_ms), new in,
        views re-pointed, index names restored, old dropped (or kept as retired while a
        materialized view reads it)."""
        timeout = conn.execute("SELECT current_setting('lock_timeout')").fetchone()[0]
        conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{wait_ms}ms",))
        retired = _suffixed(obj.name, RETIRED_SUFFIX)
        if self._has_table(conn, f"{ANALYTICS_SCHEMA}.{retired}"):
            # The retired version of an earlier swap whose reader was not rebuilt since.
            self._drop_matview(conn, retired)
        conn.execute(
            sql.SQL("ALTER MATERIALIZED VIEW {} RENAME TO {}").format(
                sql.Identifier(ANALYTICS_SCHEMA, obj.name), sql.Identifier(retired)
            )
        )
        conn.execute("SELECT set_config('lock_timeout', %s, true)", (timeout,))
        for index in indexes:
            conn.execute(
                sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                    sql.Identifier(ANALYTICS_SCHEMA, index),
                    sql.Identifier(_suffixed(index, RETIRED_SUFFIX)),
                )
            )
            conn.execute(
                sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                    sql.Identifier(ANALYTICS_SCHEMA, _suffixed(index, SWAP_SUFFIX)),
                    sql.Identifier(index),
                )
            )
        conn.execute(
            sql.SQL("ALTER MATERIALIZED VIEW {} RENAME TO {}").format(
                sql.Identifier(ANALYTICS_SCHEMA, swap_name), sql.Identifier(obj.name)
            )
        )
        for kind, _, statement in dependents:
            if kind == "view":
                conn.execute(statement)
        if not any(kind == "matview" for kind, _, _ in dependents):
            self._drop_matview(conn, retired)

    @staticmethod
    def _ddl_lock(conn: psycopg.Connection) -> None:
        """Wait for (and hold until commit) the DDL lock, see DDL_LOCK."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (DDL_LOCK,))

    @classmethod
    def _drop_retired(cls, conn: psycopg.Connection) -> list[str]:
        """Drop the retired versions (see :meth:`_swap_refresh`) that nothing reads any more, again
        and again while a drop frees another: a retired version may be read only by another retired
        one (mv_customer_reviews' by mv_customer_lifetime_value's), and left behind by one pass it
        outlived the run, so the next run's swap of that view could not retire its version again
        and fell back to a concurrent refresh (mv_customer_reviews at scale 10: 2.0 s instead of
        0.2-0.5 s in every daily refresh after the first)."""
        cls._ddl_lock(conn)
        dropped: list[str] = []
        while True:
            names = cls._unread_retired(conn)
            if not names:
                return dropped
            for name in names:
                cls._drop_matview(conn, name)
            dropped.extend(names)

    @staticmethod
    def _unread_retired(conn: psycopg.Connection) -> list[str]:
        """The retired versions that no other object reads."""
        return [
            r[0]
            for r in conn.execute(
                """
                SELECT c.relname
                  FROM pg_class AS c
                  JOIN pg_namespace AS n ON n.oid = c.relnamespace
                 WHERE n.nspname = %s AND c.relkind = 'm' AND right(c.relname, %s) = %s
                   AND NOT EXISTS (
                       SELECT 1
                         FROM pg_depend AS d
                         LEFT JOIN pg_rewrite AS r
                           ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
                        WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid
                          AND d.deptype = 'n' AND r.ev_class IS DISTINCT FROM c.oid)
                """,
                (ANALYTICS_SCHEMA, len(RETIRED_SUFFIX), RETIRED_SUFFIX),
            )
        ]

    @staticmethod
    def _forget_partitions(conn: psycopg.Connection, fact: str) -> None:
        """Delete the recorded partitions of fact, and its '<fact>:source' row (the whole source
        table's fingerprint some facts keep)."""
        conn.execute(
            f"DELETE FROM {FACT_PARTITIONS} WHERE fact_name IN (%s, %s || ':source')", (fact, fact)
        )

    # ------------------------------------------------------------------ build
    def _create(self, conn: psycopg.Connection, obj: SqlObject) -> None:
        if obj.kind == FACT_TABLE and self._has_table(conn, FACT_PARTITIONS):
            # A new (or changed) fact table starts empty: forget its loaded partitions, so that its
            # load statements (part of obj.sql) load every partition.
            self._forget_partitions(conn, obj.name)
        conn.execute(obj.sql)
        hook = self.post_hooks.get(obj.name)
        if hook is not None:
            hook(conn)

    def _build_in_transaction(self, conn: psycopg.Connection, obj: SqlObject) -> BuildResult:
        started = time.perf_counter()
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"retailmart:{obj.name}",))
        lock_wait = time.perf_counter() - started
        recreated: list[str] = []
        count: int | None = None
        if obj.kind in (SETUP_SCRIPT, TABLE, SCHEMA):
            self._create(conn, obj)
            action = "apply"
            if obj.name == REGISTRY_OBJECT and self.retire:
                self.retire_removed(conn)  # each retired object is logged on its own
        else:
            exists = self._exists(conn, obj)
            same = self._registered_version(conn, obj) == self.version(obj)
            if exists and same and obj.kind == MATERIALIZED_VIEW:
                populated = conn.execute(
                    "SELECT relispopulated FROM pg_class WHERE oid = to_regclass(%s)",
                    (obj.qualified_name,),
                ).fetchone()
                how = "CONCURRENTLY " if populated and populated[0] else ""
                swapped = self._swap_refresh(conn, obj) if how else None
                if swapped is not None:
                    action, count = "swap", swapped
                elif how:
                    # A concurrent refresh ANALYZEs its temporary copy of the new rows before the
                    # diff; a small sample is enough for that join plan (measured: 840 -> 540 ms for
                    # mv_customer_lifetime_value at scale 1). Only for this transaction.
                    conn.execute(f"SET LOCAL default_statistics_target = {DIFF_STATISTICS_TARGET}")
                if swapped is None:
                    conn.execute(
                        sql.SQL("REFRESH MATERIALIZED VIEW " + how + "{}").format(self._ident(obj))
                    )
                    action = "refresh_concurrently" if how else "refresh"
            elif exists and same and obj.kind == FACT_TABLE:
                before = self._row_changes(conn, obj)
                conn.execute(obj.load_sql)
                after = self._row_changes(conn, obj)
                self._analyze_if_stale(conn, obj, sum(after) - sum(before))
                count = self._loaded_row_count(conn, obj, before, after)
                action = "incremental_load"
            elif exists and same:
                action = "unchanged"
            else:
                # Dependents that exist now and that DROP ... CASCADE may take with it; re-created
                # here only if unchanged and all they read exists. A dependent whose SQL changed too
                # (an upgrade) may need objects that do not exist yet, or read one that the CASCADE
                # took and that is not rebuilt yet: its own step, later in the run, creates it.
                before = [
                    d
                    for d in downstream(self.objects, obj)
                    if exists
                    and d.kind in VERSIONED_KINDS
                    and self._exists(conn, d)
                    and self._registered_version(conn, d) == self.version(d)
                ]
                if exists:
                    self._ddl_lock(conn)
                    self._drop(conn, obj)
                self._create(conn, obj)
                action = "recreate" if exists else "create"
                for dep in before:
                    if not self._exists(conn, dep) and self._inputs_exist(conn, dep):
                        self._create(conn, dep)
                        self._register(conn, dep, created=True)
                        recreated.append(dep.name)
            if obj.kind == FACT_TABLE and count is None:
                count = self.row_count(conn, obj)
            self._register(conn, obj, created=action in ("create", "recreate"), row_count=count)
            if obj.kind == MATERIALIZED_VIEW:
                self._drop_retired(conn)
        if count is None:  # a swap counted the new rows before taking its lock, a fact above
            count = self.row_count(conn, obj)
        return BuildResult(
            name=obj.name,
            action=action,
            duration_ms=(time.perf_counter() - started) * 1000,
            row_count=count,
            columns=self.columns(conn, obj),
            recreated_dependents=recreated,
            lock_wait_s=round(lock_wait, 3) if lock_wait > LOCK_WAIT_REPORTED_S else None,
        )

    def build(
        self, conn: psycopg.Connection, obj: SqlObject, run_id: str | None = None
    ) -> BuildResult:
        """Build obj in one transaction and record it in the audit tables; re-raises on failure."""
        started_at = time.time()
        try:
            first_load = False
            with conn.transaction():
                result = self._build_in_transaction(conn, obj)
                self._audit(conn, obj, run_id, started_at, result, None)
                first_load = obj.kind == FACT_TABLE and result.action in ("create", "recreate")
                if first_load:
                    # Committed synchronously (one WAL flush), so the VACUUM below can set the
                    # rows' hint bits: after an asynchronous commit (synchronous_commit = off) it
                    # may not until the WAL writer has flushed the commit record.
                    conn.execute("SET LOCAL synchronous_commit = on")
            if first_load:
                self._vacuum(conn, obj)
            return result
        except Exception as exc:
            if not conn.closed and not conn.broken:
                failed = BuildResult(
                    name=obj.name, action="failed", duration_ms=(time.time() - started_at) * 1000
                )
                try:
                    with conn.transaction():
                        self._audit(conn, obj, run_id, started_at, failed, str(exc))
                except psycopg.Error:
                    pass
            raise

    def _vacuum(self, conn: psycopg.Connection, obj: SqlObject) -> None:
        """VACUUM (ANALYZE) a fact table after its first load (committed synchronously, see
        :meth:`build`), outside the build's transaction (VACUUM cannot run in one): it sets every
        row's hint bits once and gives the planner the table's statistics before the objects that
        read it are built. It can rarely set the visibility map (the index-only scans planned on
        the fact need it: fact_orders' key carries order_date for the payment and shipment facts),
        because the run's other step is usually running a statement older than the load; the asset
        analytics/fact_vacuum does that after every fact (retailmart_dagster/assets/fact_vacuum.py).
        Without the statistics the first builds on a new fact planned on default estimates, or on
        whatever autovacuum had analyzed meanwhile: mv_campaign_performance took 1.6 s instead of
        0.29 s at scale 10 (a merge join along the whole customer index of fact_orders). At scale
        10, fact_orders: about 0.3 s to vacuum, 0.2 s to analyze. Skipped when the connection is
        inside a caller's transaction (then ANALYZE alone, in it)."""
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute(sql.SQL("ANALYZE {}").format(self._ident(obj)))
            return
        autocommit = conn.autocommit
        conn.autocommit = True
        try:
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(self._ident(obj)))
        finally:
            conn.autocommit = autocommit

    @staticmethod
    def _row_changes(conn: psycopg.Connection, obj: SqlObject) -> tuple[int, int, int]:
        """The rows this backend inserted, updated and deleted in obj and has not reported to the
        statistics system yet: the current transaction's and, for up to a second, earlier ones'
        (so only the difference of two readings is one load's). Every row version written counts,
        a row inserted and deleted again in the same load both ways."""
        row = conn.execute(
            "SELECT pg_stat_get_xact_tuples_inserted(c.oid), pg_stat_get_xact_tuples_updated(c.oid),"
            " pg_stat_get_xact_tuples_deleted(c.oid)"
            " FROM pg_catalog.pg_class AS c WHERE c.oid = to_regclass(%s)",
            (obj.qualified_name,),
        ).fetchone()
        if not row or row[0] is None:
            return (0, 0, 0)
        return (int(row[0]), int(row[1]), int(row[2]))

    @staticmethod
    def _loaded_row_count(
        conn: psycopg.Connection,
        obj: SqlObject,
        before: tuple[int, int, int],
        after: tuple[int, int, int],
    ) -> int | None:
        """The rows of fact table obj after an incremental load, without counting them: the count
        recorded in analytics.object_registry by its last build, plus the rows this load inserted,
        less those it deleted (:meth:`_row_changes` after the load less before it, in the load's
        transaction). Exact because only a fact's own builds write it (each under the object's
        advisory lock, recording its count in the same transaction) and a load never truncates
        it; None (count the rows) when nothing is recorded: the first load after an upgrade, or
        an object re-created by a path that does not count (:meth:`_register`). At scale 10 a
        daily refresh's counts of the 14 facts took 0.54 s of the server's time."""
        row = conn.execute(
            "SELECT row_count FROM analytics.object_registry WHERE object_name = %s", (obj.name,)
        ).fetchone()
        if not row or row[0] is None:
            return None
        return int(row[0]) + (after[0] - before[0]) - (after[2] - before[2])

    def _analyze_if_stale(self, conn: psycopg.Connection, obj: SqlObject, changed: int) -> bool:
        """ANALYZE fact table obj after an incremental load, in the load's transaction, when the
        rows the load inserted, updated and deleted (``changed``: :meth:`_row_changes` after the
        load less before it) exceed the share at which autovacuum would analyze the table (the
        server's autovacuum_analyze_threshold + autovacuum_analyze_scale_factor x the rows of its
        last statistics), or when it has no statistics: the objects built on it next then plan on
        its statistics instead of waiting for autovacuum (a config change that reloads every day,
        a reload after a bulk edit). A daily refresh changes a few percent of a fact and costs
        nothing here. Returns whether it analyzed."""
        stale = conn.execute(
            """
            SELECT NOT EXISTS (
                       SELECT 1 FROM pg_catalog.pg_stats AS s
                        WHERE s.schemaname = n.nspname AND s.tablename = c.relname)
                   OR %s > current_setting('autovacuum_analyze_threshold')::float8
                           + current_setting('autovacuum_analyze_scale_factor')::float8
                             * greatest(c.reltuples, 0)
              FROM pg_catalog.pg_class AS c
              JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
             WHERE c.oid = to_regclass(%s)
            """,
            (changed, obj.qualified_name),
        ).fetchone()
        if not stale or not stale[0]:
            return False
        conn.execute(sql.SQL("ANALYZE {}").format(self._ident(obj)))
        return True

    def _audit(
        self,
        conn: psycopg.Connection,
        obj: SqlObject,
        run_id: str | None,
        started_at: float,
        result: BuildResult,
        error: str | None,
    ) -> None:
        if not self._has_table(conn, "analytics.execution_log"):
            return
        conn.execute(
            """
            INSERT INTO analytics.execution_log
                   (run_id, object_name, action, status, started_at, finished_at, duration_ms,
                    row_count, error_message)
            VALUES (%s, %s, %s, %s, to_timestamp(%s), clock_timestamp(), %s, %s, %s)
            """,
            (
                run_id,
                obj.name,
                result.action,
                "failed" if error else "success",
                started_at,
                round(result.duration_ms, 1),
                result.row_count,
                error[:4000] if error else None,
            ),
        )
        if (
            error is None
            and obj.kind in (MATERIALIZED_VIEW, TABLE, FACT_TABLE)
            and obj.group != "setup"
        ):
            if self._has_table(conn, "analytics.refresh_history"):
                conn.execute(
                    "INSERT INTO analytics.refresh_history"
                    " (run_id, object_name, method, duration_ms, row_count)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (
                        run_id,
                        obj.name,
                        result.action,
                        round(result.duration_ms, 1),
                        result.row_count,
                    ),
                )
        if error is None and self._has_table(conn, "analytics.kpi_metadata"):
            # The catalog lists every object from the moment it exists, then each build updates it.
            entries = [(obj, result)]
            if obj.name == "kpi_metadata":
                entries = [
                    (documented, self._bootstrap_result(conn, documented, obj))
                    for documented in self.objects
                ] + entries
            self._catalog(conn, entries)

    def _bootstrap_result(
        self, conn: psycopg.Connection, obj: SqlObject, catalog: SqlObject
    ) -> BuildResult | None:
        """The schema and audit tables are built (in this run) before the catalog exists: when the
        catalog is built, record them as refreshed now; every other object records its own build."""
        if obj.name == catalog.name or obj.group != "setup" or obj.kind not in (TABLE, SCHEMA):
            return None
        if obj.kind == TABLE and obj.name not in BOOTSTRAP_TABLES:
            return None
        if not self._exists(conn, obj):
            return None
        return BuildResult(
            name=obj.name, action="apply", duration_ms=0.0, row_count=self.row_count(conn, obj)
        )

    def source_tables_of(self, obj: SqlObject) -> list[str]:
        """Source tables an object reads, directly or through other analytics objects."""
        created = self.created
        seen: set[str] = set()
        sources: set[str] = set()
        stack = [obj]
        while stack:
            current = stack.pop()
            if current.name in seen:
                continue
            seen.add(current.name)
            for ref in current.references:
                if ref in created:
                    stack.append(created[ref])
                elif ref[0] != ANALYTICS_SCHEMA:
                    sources.add(f"{ref[0]}.{ref[1]}")
        return sorted(sources)

    def _catalog(
        self,
        conn: psycopg.Connection,
        entries: Sequence[tuple[SqlObject, BuildResult | None]],
    ) -> None:
        """Upsert the catalog rows of entries (object, its build or None) in one batch: the
        catalog's own build writes every object's row (about 200 at once, one round trip each
        was a quarter of the setup step's time in a daily refresh)."""
        with conn.cursor() as cur:
            cur.executemany(
                """
            INSERT INTO analytics.kpi_metadata AS k
                   (object_name, domain, object_kind, description, business_question, kpis,
                    source_tables, refresh_frequency, owner, code_version, sql_path,
                    last_refreshed_at, last_row_count, last_duration_ms)
            VALUES (%(name)s, %(domain)s, %(kind)s, %(description)s, %(question)s, %(kpis)s::jsonb,
                    %(sources)s, %(refresh)s, %(owner)s, %(version)s, %(path)s,
                    CASE WHEN %(built)s THEN now() END, %(rows)s, %(ms)s)
            ON CONFLICT (object_name) DO UPDATE
               SET domain = EXCLUDED.domain, object_kind = EXCLUDED.object_kind,
                   description = EXCLUDED.description,
                   business_question = EXCLUDED.business_question, kpis = EXCLUDED.kpis,
                   source_tables = EXCLUDED.source_tables,
                   refresh_frequency = EXCLUDED.refresh_frequency, owner = EXCLUDED.owner,
                   code_version = EXCLUDED.code_version, sql_path = EXCLUDED.sql_path,
                   last_refreshed_at = coalesce(EXCLUDED.last_refreshed_at, k.last_refreshed_at),
                   last_row_count = CASE WHEN %(built)s THEN EXCLUDED.last_row_count
                                         ELSE k.last_row_count END,
                   last_duration_ms = coalesce(EXCLUDED.last_duration_ms, k.last_duration_ms),
                   updated_at = now()
            """,
                [
                    {
                        "name": obj.name,
                        "domain": obj.group,
                        "kind": obj.kind,
                        "description": obj.description,
                        "question": obj.field("question"),
                        "kpis": json.dumps(
                            [{"name": n, "formula": f} for n, f in obj.kpis], ensure_ascii=False
                        ),
                        "sources": self.source_tables_of(obj),
                        "refresh": obj.field("refresh", DEFAULT_REFRESH),
                        "owner": obj.field("owner", f"{obj.group.capitalize()} analytics"),
                        "version": self.version(obj),
                        "path": obj.relative_path,
                        "built": result is not None,
                        "rows": result.row_count if result else None,
                        "ms": round(result.duration_ms, 1) if result else None,
                    }
                    for obj, result in entries
                ],
            )

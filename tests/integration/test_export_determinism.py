"""Exports and materialized views do not depend on physical row order or on the query plan.

A materialized view is rebuilt by building a new copy and swapping it in, so its physical row order
follows whatever plan produced it and can change between two builds on the same data; fact tables
reload their last days, which moves those rows to the end of the table. Every ranking, top-N,
DISTINCT ON and aggregate ORDER BY must therefore order totally (a unique tie-breaker last), or
two builds on the same data can write different JSON. This test proves it on the materialized KPI
database, inside ONE transaction that is rolled back (the shared database is left as it was):

1. the JSON of every ``analytics.fn_export_*()`` function and the rows of every materialized view
   are read under the default plan (the baseline);
2. the exports are read again under plans forced otherwise (no hash aggregate/join, no sort, no
   sequential scan, no index scan, forced parallel workers);
3. every table (sources and analytics) is physically rewritten in a shuffled order, and every
   materialized view in its unique key's order and then in the REVERSE of that order (CLUSTER on its
   unique index, then on a temporary descending copy of it): rows that tie on an ORDER BY key swap
   their scan order; the exports are read again after each;
4. on the shuffled tables, every materialized view is rebuilt (REFRESH, dependencies first) under
   two forced plans, as a swap refresh would rebuild it: its rows (ranks included) and the exports
   must not change.

Every read must give the baseline's JSON, apart from generatedAt (the transaction's clock, constant
here anyway). Two controls with a deliberately non-total order (an export and a materialized view,
created inside the transaction) must be caught, so a pass means something. Afterwards the shuffled
tables are vacuumed (the rolled-back copies are dead rows).
"""

from __future__ import annotations

import graphlib
import json

import psycopg
import pytest
from psycopg import sql

pytestmark = pytest.mark.integration

VOLATILE_KEYS = frozenset({"generatedAt"})
SOURCE_SCHEMAS = ("core", "customers", "finance", "hr", "marketing", "products", "sales", "stores")
SHUFFLED_SCHEMAS = ("analytics", *SOURCE_SCHEMAS)

PLANS: dict[str, dict[str, str]] = {
    "no-hash": {"enable_hashagg": "off", "enable_hashjoin": "off", "enable_memoize": "off"},
    "no-sort": {"enable_sort": "off", "enable_incremental_sort": "off"},
    "no-seqscan": {"enable_seqscan": "off"},
    "no-indexscan": {
        "enable_indexscan": "off",
        "enable_indexonlyscan": "off",
        "enable_bitmapscan": "off",
        "enable_mergejoin": "off",
    },
    "parallel": {
        "debug_parallel_query": "on",
        "parallel_setup_cost": "0",
        "parallel_tuple_cost": "0",
        "min_parallel_table_scan_size": "0",
        "min_parallel_index_scan_size": "0",
        "max_parallel_workers_per_gather": "2",
    },
}
REBUILD_PLANS = ("no-hash", "parallel")

# Controls, created inside the rolled-back transaction: an export and a materialized view whose
# order is NOT total (days ordered by weekday only; orders numbered by day only). The test must
# catch both: the reordering and the forced plans really change what a non-total order gives.
PROBE_EXPORT = "fn_export_zz_order_probe"
PROBE_MV = "mv_zz_order_probe"
PROBES = f"""
CREATE FUNCTION analytics.{PROBE_EXPORT}() RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
               'rows', jsonb_agg(d.sales_date ORDER BY extract(ISODOW FROM d.sales_date))
           )
      FROM analytics.mv_daily_sales_summary AS d
$$;
CREATE MATERIALIZED VIEW analytics.{PROBE_MV} AS
    SELECT f.order_id, row_number() OVER (ORDER BY f.order_date) AS day_rank
      FROM analytics.fact_orders AS f;
CREATE UNIQUE INDEX ux_{PROBE_MV} ON analytics.{PROBE_MV} (order_id);
"""


def _strip(value: object) -> object:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _rel(schema: str, name: str) -> sql.Composable:
    return sql.Identifier(schema, name)


def _export_functions(conn: psycopg.Connection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT p.proname FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'analytics' AND p.proname LIKE 'fn\\_export\\_%%'"
            " AND p.pronargs = 0 ORDER BY p.proname"
        )
    ]


def _exports(conn: psycopg.Connection, functions: list[str]) -> dict[str, str]:
    out = {}
    for name in functions:
        payload = conn.execute(
            sql.SQL("SELECT {}()::text").format(_rel("analytics", name))
        ).fetchone()[0]
        out[name] = json.dumps(_strip(json.loads(payload)), separators=(",", ":"))
    return out


def _mv_rows(conn: psycopg.Connection, mvs: list[str]) -> dict[str, str]:
    """Each materialized view's rows as an order-independent digest."""
    return {
        mv: conn.execute(
            sql.SQL("SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {} AS t").format(
                _rel("analytics", mv)
            )
        ).fetchone()[0]
        for mv in mvs
    }


def _set_plan(conn: psycopg.Connection, name: str) -> None:
    for setting, value in PLANS[name].items():
        conn.execute("SELECT set_config(%s, %s, true)", (setting, value))


def _reset_plan(conn: psycopg.Connection) -> None:
    for settings in PLANS.values():
        for setting in settings:
            conn.execute(sql.SQL("RESET {}").format(sql.Identifier(setting)))


def _materialized_views(conn: psycopg.Connection) -> list[str]:
    """Materialized views of the analytics schema, each after the ones it reads (directly or
    through views)."""
    edges = conn.execute(
        """
        SELECT DISTINCT v.relname, s.relname
          FROM pg_rewrite AS r
          JOIN pg_class AS v ON v.oid = r.ev_class
          JOIN pg_depend AS d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
          JOIN pg_class AS s ON s.oid = d.refobjid AND s.oid <> v.oid
          JOIN pg_namespace AS vn ON vn.oid = v.relnamespace AND vn.nspname = 'analytics'
          JOIN pg_namespace AS sn ON sn.oid = s.relnamespace AND sn.nspname = 'analytics'
         WHERE v.relkind IN ('m', 'v') AND s.relkind IN ('m', 'v')
        """
    ).fetchall()
    kinds = dict(
        conn.execute(
            "SELECT c.relname, c.relkind::text FROM pg_class AS c JOIN pg_namespace AS n"
            " ON n.oid = c.relnamespace WHERE n.nspname = 'analytics' AND c.relkind IN ('m', 'v')"
        ).fetchall()
    )
    graph: dict[str, set[str]] = {name: set() for name in sorted(kinds)}
    for reader, read in edges:
        graph[reader].add(read)
    return [n for n in graphlib.TopologicalSorter(graph).static_order() if kinds[n] == "m"]


def _tables(conn: psycopg.Connection) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class AS c JOIN pg_namespace AS n"
        " ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = ANY (%s)"
        " ORDER BY 1, 2",
        (list(SHUFFLED_SCHEMAS),),
    ).fetchall()


def _shuffle_tables(conn: psycopg.Connection) -> int:
    """Rewrite every table of the source and analytics schemas in a shuffled physical order (same
    rows; foreign keys and triggers off for the rewrite). Returns how many tables."""
    tables = _tables(conn)
    conn.execute("SET LOCAL session_replication_role = replica")
    conn.execute("SELECT setseed(0.42)")
    for schema, name in tables:
        conn.execute(
            sql.SQL("CREATE TEMP TABLE eo_rows ON COMMIT DROP AS SELECT * FROM {}").format(
                _rel(schema, name)
            )
        )
        conn.execute(sql.SQL("DELETE FROM {}").format(_rel(schema, name)))
        conn.execute(
            sql.SQL("INSERT INTO {} SELECT * FROM eo_rows ORDER BY random()").format(
                _rel(schema, name)
            )
        )
        conn.execute("DROP TABLE eo_rows")
        conn.execute(sql.SQL("ANALYZE {}").format(_rel(schema, name)))
    conn.execute("SET LOCAL session_replication_role = origin")
    return len(tables)


def _unique_keys(conn: psycopg.Connection, mvs: list[str]) -> dict[str, tuple[str, list[str]]]:
    rows = conn.execute(
        """
        SELECT DISTINCT ON (c.oid) c.relname, i.relname,
               array(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
                       JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = k.attnum
                      ORDER BY k.ord)
          FROM pg_class AS c
          JOIN pg_namespace AS n ON n.oid = c.relnamespace
          JOIN pg_index AS x ON x.indrelid = c.oid
          JOIN pg_class AS i ON i.oid = x.indexrelid
         WHERE n.nspname = 'analytics' AND c.relname = ANY (%s)
           AND x.indisunique AND x.indpred IS NULL AND NOT (0 = ANY (x.indkey::int2[]))
         ORDER BY c.oid, i.relname
        """,
        (mvs,),
    ).fetchall()
    return {r[0]: (r[1], list(r[2])) for r in rows}


def _cluster(conn: psycopg.Connection, keys: dict[str, tuple[str, list[str]]], desc: bool) -> None:
    """Rewrite each materialized view in its unique key's order (desc: the reverse order)."""
    for n, (mv, (index, columns)) in enumerate(sorted(keys.items())):
        target = index
        if desc:
            target = f"eo_desc_{n}"
            conn.execute(
                sql.SQL("CREATE INDEX {} ON {} ({})").format(
                    sql.Identifier(target),
                    _rel("analytics", mv),
                    sql.SQL(", ").join(
                        sql.SQL("{} DESC").format(sql.Identifier(c)) for c in columns
                    ),
                )
            )
        conn.execute(
            sql.SQL("CLUSTER {} USING {}").format(_rel("analytics", mv), sql.Identifier(target))
        )
        conn.execute(sql.SQL("ANALYZE {}").format(_rel("analytics", mv)))


def _first_rows(conn: psycopg.Connection, mvs: list[str]) -> dict[str, str | None]:
    """The first row of each materialized view in physical (sequential scan) order."""
    conn.execute("SET LOCAL enable_indexscan = off")
    conn.execute("SET LOCAL enable_bitmapscan = off")
    conn.execute("SET LOCAL enable_indexonlyscan = off")
    out = {
        mv: conn.execute(
            sql.SQL("SELECT t::text FROM {} AS t LIMIT 1").format(_rel("analytics", mv))
        ).fetchone()
        for mv in mvs
    }
    _reset_plan(conn)
    return {mv: row[0] if row else None for mv, row in out.items()}


def _diff(expected: dict[str, str], actual: dict[str, str], scenario: str) -> list[str]:
    problems = []
    for name, want in expected.items():
        got = actual[name]
        if got != want:
            at = next((i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b), 0)
            problems.append(
                f"{scenario}: {name} differs at character {at}:"
                f" {want[max(at - 80, 0) : at + 80]!r} vs {got[max(at - 80, 0) : at + 80]!r}"
            )
    return problems


def test_exports_and_views_are_independent_of_plan_and_physical_order(
    kpi_conn: psycopg.Connection,
) -> None:
    conn = kpi_conn
    problems: list[str] = []
    with conn.transaction(force_rollback=True):
        conn.execute(PROBES)
        functions = _export_functions(conn)
        assert len(functions) >= 40 and PROBE_EXPORT in functions, functions
        mvs = _materialized_views(conn)
        keys = _unique_keys(conn, mvs)
        # every materialized view has its unique index (CONVENTIONS): all of them are reordered
        assert sorted(keys) == sorted(mvs)
        baseline = _exports(conn, functions)
        baseline_rows = _mv_rows(conn, mvs)

        for plan in PLANS:
            _set_plan(conn, plan)
            problems += _diff(baseline, _exports(conn, functions), f"plan {plan}")
            _reset_plan(conn)

        assert _shuffle_tables(conn) >= 30
        _cluster(conn, keys, desc=False)
        key_order = _first_rows(conn, mvs)
        problems += _diff(baseline, _exports(conn, functions), "shuffled tables, MVs in key order")
        _cluster(conn, keys, desc=True)
        reverse_order = _first_rows(conn, mvs)
        # control: the physical order really changed (every view of two rows or more)
        multi_row = [
            mv
            for mv in mvs
            if conn.execute(
                sql.SQL("SELECT count(*) > 1 FROM {}").format(_rel("analytics", mv))
            ).fetchone()[0]
        ]
        assert len(multi_row) >= len(mvs) - 2, multi_row
        assert all(key_order[mv] != reverse_order[mv] for mv in multi_row)
        for plan in (None, "no-hash", "no-indexscan"):
            if plan:
                _set_plan(conn, plan)
            scenario = f"shuffled tables, MVs in reverse key order, plan {plan or 'default'}"
            problems += _diff(baseline, _exports(conn, functions), scenario)
            _reset_plan(conn)

        for plan in REBUILD_PLANS:
            _set_plan(conn, plan)
            for mv in mvs:
                conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}").format(_rel("analytics", mv)))
            _reset_plan(conn)
            scenario = f"MVs rebuilt from shuffled tables under plan {plan}"
            problems += _diff(baseline_rows, _mv_rows(conn, mvs), scenario)
            problems += _diff(baseline, _exports(conn, functions), scenario)
        shuffled = _tables(conn)
    # the shuffle's rolled-back copies are dead rows: give the space back to later tests
    for schema, name in shuffled:
        conn.execute(sql.SQL("VACUUM {}").format(_rel(schema, name)))
    caught = {probe for probe in (PROBE_EXPORT, PROBE_MV) if any(probe in p for p in problems)}
    assert caught == {PROBE_EXPORT, PROBE_MV}, f"the controls were not caught: {problems}"
    real = [p for p in problems if PROBE_EXPORT not in p and PROBE_MV not in p]
    assert not real, "\n".join(real)

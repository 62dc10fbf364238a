"""Readers never wait: while a materialized view refreshes, queries on it and the export functions
that read it run to completion from another connection. The builder computes the next version
beside the current one and swaps them in milliseconds (it holds no lock on the view meanwhile); when
it cannot swap, REFRESH ... CONCURRENTLY takes an EXCLUSIVE lock, which lets ACCESS SHARE readers
through; a plain REFRESH would take ACCESS EXCLUSIVE (the control test).

No timing is measured: the refresh is held open deterministically (an advisory lock the refresh's
own query waits for, or a transaction left open) and the locks are observed in pg_locks. Readers run
with a lock_timeout only so that a regression fails instead of hanging.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from retailmart_dagster.assets.builder import SqlBuilder
from retailmart_dagster.assets.sql_parse import SQL_DIR, discover_sql_objects, parse_sql_file

pytestmark = pytest.mark.integration

GATE_KEY = 74_210_001
SETUP = ["schema_analytics", "config", "object_registry", "kpi_metadata", "execution_log"]
BASE = "-- t\nCREATE TABLE IF NOT EXISTS analytics.base_rows (k int PRIMARY KEY, v numeric);\n"
# The refresh's query waits for a shared advisory lock that the test holds exclusively: the
# refresh is then in progress, holding its lock on the view, for as long as the test wants.
GATED_MV = f"""-- Sum per key; its query waits at a gate (test only).
CREATE MATERIALIZED VIEW analytics.mv_gated AS
SELECT b.k, sum(b.v) AS total
  FROM analytics.base_rows AS b
 CROSS JOIN LATERAL (SELECT pg_advisory_xact_lock_shared({GATE_KEY})) AS gate
 GROUP BY b.k;
CREATE UNIQUE INDEX ux_mv_gated ON analytics.mv_gated (k);
"""
EXPORT = """-- Export of mv_gated.
CREATE OR REPLACE FUNCTION analytics.fn_export_test_gated()
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('k', m.k, 'total', m.total) ORDER BY m.k),
                    '[]'::jsonb)
      FROM analytics.mv_gated AS m
$$;
"""
HANG_GUARD = "SET lock_timeout = '60s'"


def _objects(tmp_path: Path):  # noqa: ANN202
    setup = {o.name: o for o in discover_sql_objects(SQL_DIR) if o.name in SETUP}
    extra = []
    for rel, text in {
        "t/base_rows.sql": BASE,
        "t/mv_gated.sql": GATED_MV,
        "exports/fn_export_test_gated.sql": EXPORT,
    }.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        extra.append(parse_sql_file(path, tmp_path))
    return [setup[n] for n in SETUP] + extra


def _wait_for(conn: psycopg.Connection, query: str, params: tuple, what: str) -> None:
    deadline = time.monotonic() + 120
    while not conn.execute(query, params).fetchone()[0]:
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def _locks_of(conn: psycopg.Connection, pid: int, relation: str) -> set[tuple[str, bool]]:
    return {
        (r[0], r[1])
        for r in conn.execute(
            "SELECT mode, granted FROM pg_locks WHERE pid = %s AND relation = to_regclass(%s)",
            (pid, relation),
        )
    }


def test_readers_are_not_blocked_while_the_builder_refreshes(tmp_path: Path, new_database) -> None:  # noqa: ANN001
    url = new_database("concurrent")
    objects = _objects(tmp_path)
    builder = SqlBuilder(objects)
    mv = next(o for o in objects if o.name == "mv_gated")
    with psycopg.connect(url) as conn:
        for obj in objects:
            builder.build(conn, obj, run_id="setup")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("INSERT INTO analytics.base_rows VALUES (1, 10), (2, 20)")
        with psycopg.connect(url) as conn:
            assert builder.build(conn, mv).action == "swap"
        admin.execute("INSERT INTO analytics.base_rows VALUES (3, 30)")
        admin.execute("UPDATE analytics.base_rows SET v = 11 WHERE k = 1")

        admin.execute("SELECT pg_advisory_lock(%s)", (GATE_KEY,))  # close the gate
        refresher = psycopg.connect(url)
        refresher_pid = refresher.info.backend_pid
        outcome: dict[str, object] = {}

        def refresh() -> None:
            try:
                outcome["result"] = builder.build(refresher, mv, run_id="concurrent")
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                outcome["error"] = exc

        thread = threading.Thread(target=refresh)
        thread.start()
        try:
            _wait_for(
                admin,
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND locktype = 'advisory'"
                " AND objid = %s AND NOT granted)",
                (refresher_pid, GATE_KEY),
                "the refresh to reach the gate",
            )
            # The refresh is in progress: it computes the next version and holds no lock on the
            # view that would keep readers out.
            assert not _locks_of(admin, refresher_pid, "analytics.mv_gated") & {
                ("AccessExclusiveLock", True),
                ("AccessExclusiveLock", False),
            }

            with psycopg.connect(url, autocommit=True) as reader:
                reader.execute(HANG_GUARD)
                rows = reader.execute(
                    "SELECT k, total FROM analytics.mv_gated ORDER BY k"
                ).fetchall()
                exported = reader.execute("SELECT analytics.fn_export_test_gated()").fetchone()[0]
            # Readers got the previous contents at once, while the refresh still waits at the gate.
            assert rows == [(1, 10), (2, 20)]
            assert exported == [{"k": 1, "total": 10}, {"k": 2, "total": 20}]
            assert thread.is_alive()
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s)", (GATE_KEY,))  # open the gate
            thread.join(timeout=120)
            refresher.close()
        assert "error" not in outcome, outcome.get("error")
        assert outcome["result"].action == "swap"
        rows = admin.execute("SELECT k, total FROM analytics.mv_gated ORDER BY k").fetchall()
        assert rows == [(1, 11), (2, 20), (3, 30)]


def test_a_plain_refresh_would_block_readers(tmp_path: Path, new_database) -> None:  # noqa: ANN001
    """The control: the same reader is blocked by a non-concurrent refresh (so the test above
    would notice if the builder stopped refreshing concurrently)."""
    url = new_database("plainrefresh")
    objects = _objects(tmp_path)
    builder = SqlBuilder(objects)
    with psycopg.connect(url) as conn:
        for obj in objects:
            builder.build(conn, obj, run_id="setup")
    with psycopg.connect(url) as writer, psycopg.connect(url, autocommit=True) as reader:
        writer.execute("REFRESH MATERIALIZED VIEW analytics.mv_gated")  # transaction left open
        reader.execute("SET lock_timeout = '200ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            reader.execute("SELECT count(*) FROM analytics.mv_gated").fetchone()
        writer.rollback()


def test_exports_and_queries_run_while_every_kpi_view_refreshes(kpi_conn, kpi_db_url: str) -> None:  # noqa: ANN001
    """On the fully built KPI database: one transaction refreshes every materialized view
    CONCURRENTLY and stays open (holding their locks); meanwhile another connection queries every
    materialized view and calls every export function, and none of them waits."""
    mvs = [
        r[0]
        for r in kpi_conn.execute(
            "SELECT matviewname FROM pg_matviews WHERE schemaname = 'analytics' ORDER BY 1"
        )
    ]
    exports = [
        r[0]
        for r in kpi_conn.execute(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'analytics' AND p.proname LIKE 'fn\\_export\\_%' ORDER BY 1"
        )
    ]
    assert len(mvs) >= 10 and len(exports) >= 30
    with psycopg.connect(kpi_db_url) as refresher:
        for name in mvs:
            refresher.execute(
                sql.SQL("REFRESH MATERIALIZED VIEW CONCURRENTLY {}").format(
                    sql.Identifier("analytics", name)
                )
            )
        pid = refresher.info.backend_pid
        try:
            for name in mvs:
                assert ("ExclusiveLock", True) in _locks_of(kpi_conn, pid, f"analytics.{name}")
            with psycopg.connect(kpi_db_url, autocommit=True) as reader:
                reader.execute("SET lock_timeout = '2s'")
                for name in mvs:
                    reader.execute(
                        sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("analytics", name))
                    ).fetchone()
                for name in exports:
                    payload = reader.execute(
                        sql.SQL("SELECT {}()").format(sql.Identifier("analytics", name))
                    ).fetchone()[0]
                    assert payload is not None, name
            # The refreshes are still open (uncommitted) after every reader finished.
            assert refresher.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        finally:
            refresher.rollback()

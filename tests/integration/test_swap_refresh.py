"""Refresh by swap: a materialized view's next version is built beside it and swapped in.

What must hold, on a real server: views that read it see the new rows (same OID, owner, grants);
the new version keeps the old one's index names, owner, grants and comment; a materialized view
that reads it keeps reading the retired version until it is rebuilt itself, and then the retired
version is gone; a swap that cannot get its lock, or an object the swap cannot carry over (a hand-made
index, a function with a SQL-standard body), falls back to REFRESH ... CONCURRENTLY with the same
result; a failing new version leaves the old one in place.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from retailmart_dagster.assets.builder import SqlBuilder
from retailmart_dagster.assets.sql_parse import SQL_DIR, discover_sql_objects, parse_sql_file

pytestmark = pytest.mark.integration

SETUP = ["schema_analytics", "config", "object_registry", "kpi_metadata", "execution_log"]
BASE = "-- t\nCREATE TABLE IF NOT EXISTS analytics.base_rows (k int PRIMARY KEY, v numeric);\n"
MV = (
    "-- Sum per key.\nCREATE MATERIALIZED VIEW analytics.mv_sum AS\n"
    "SELECT b.k, sum(b.v) AS total FROM analytics.base_rows AS b GROUP BY b.k;\n"
    "CREATE UNIQUE INDEX ux_mv_sum ON analytics.mv_sum (k);\n"
    "CREATE INDEX ix_mv_sum_total ON analytics.mv_sum (total DESC) WHERE total > 0;\n"
)
VIEW = "-- Top.\nCREATE VIEW analytics.vw_top AS SELECT m.k, m.total FROM analytics.mv_sum AS m;\n"
MV_ON_MV = (
    "-- Grand total.\nCREATE MATERIALIZED VIEW analytics.mv_grand AS\n"
    "SELECT 1 AS id, sum(m.total) AS total FROM analytics.mv_sum AS m;\n"
    "CREATE UNIQUE INDEX ux_mv_grand ON analytics.mv_grand (id);\n"
)
READER_ROLE = "swap_test_reader"


def _objects(tmp_path: Path, files: dict[str, str]):  # noqa: ANN202
    setup = {o.name: o for o in discover_sql_objects(SQL_DIR) if o.name in SETUP}
    extra = []
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        extra.append(parse_sql_file(path, tmp_path))
    return [setup[n] for n in SETUP] + extra


def _built(tmp_path: Path, url: str, files: dict[str, str]) -> tuple[SqlBuilder, dict]:
    objects = _objects(tmp_path, files)
    builder = SqlBuilder(objects)
    with psycopg.connect(url) as conn:
        for obj in objects:
            builder.build(conn, obj, run_id="setup")
        conn.execute("INSERT INTO analytics.base_rows VALUES (1, 10), (2, 20)")
        conn.commit()
        for obj in objects:
            builder.build(conn, obj, run_id="first")
    return builder, {o.name: o for o in objects}


def _one(conn: psycopg.Connection, query: str, params: tuple = ()) -> object:
    return conn.execute(query, params).fetchone()[0]


def test_swap_keeps_views_grants_comment_and_index_names(tmp_path: Path, new_database) -> None:  # noqa: ANN001
    url = new_database("swap")
    builder, objs = _built(
        tmp_path, url, {"t/base_rows.sql": BASE, "t/mv_sum.sql": MV, "t/vw_top.sql": VIEW}
    )
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"DROP ROLE IF EXISTS {READER_ROLE}")
        admin.execute(f"CREATE ROLE {READER_ROLE} NOLOGIN")
        try:
            admin.execute(f"GRANT USAGE ON SCHEMA analytics TO {READER_ROLE}")
            admin.execute(f"GRANT SELECT ON analytics.mv_sum, analytics.vw_top TO {READER_ROLE}")
            admin.execute("COMMENT ON MATERIALIZED VIEW analytics.mv_sum IS 'sums'")
            view_oid = _one(admin, "SELECT 'analytics.vw_top'::regclass::oid")
            mv_oid = _one(admin, "SELECT 'analytics.mv_sum'::regclass::oid")
            admin.execute("UPDATE analytics.base_rows SET v = 11 WHERE k = 1")
            admin.execute("INSERT INTO analytics.base_rows VALUES (3, 30)")

            with psycopg.connect(url) as conn:
                result = builder.build(conn, objs["mv_sum"], run_id="swap")
            assert result.action == "swap"
            assert result.row_count == 3

            # A new relation under the old name, with the old one's trimmings.
            assert _one(admin, "SELECT 'analytics.mv_sum'::regclass::oid") != mv_oid
            assert _one(admin, "SELECT obj_description('analytics.mv_sum'::regclass)") == "sums"
            assert _one(
                admin,
                "SELECT has_table_privilege(%s, 'analytics.mv_sum', 'SELECT')",
                (READER_ROLE,),
            )
            assert not _one(
                admin,
                "SELECT has_table_privilege(%s, 'analytics.mv_sum', 'INSERT')",
                (READER_ROLE,),
            )
            indexes = admin.execute(
                "SELECT pg_get_indexdef(indexrelid) FROM pg_index"
                " WHERE indrelid = 'analytics.mv_sum'::regclass ORDER BY 1"
            ).fetchall()
            assert indexes == [
                (
                    "CREATE INDEX ix_mv_sum_total ON analytics.mv_sum USING btree (total DESC)"
                    " WHERE (total > (0)::numeric)",
                ),
                ("CREATE UNIQUE INDEX ux_mv_sum ON analytics.mv_sum USING btree (k)",),
            ]
            # The view that reads it is the same view (OID, grants), now reading the new rows.
            assert _one(admin, "SELECT 'analytics.vw_top'::regclass::oid") == view_oid
            assert admin.execute("SELECT k, total FROM analytics.vw_top ORDER BY k").fetchall() == [
                (1, 11),
                (2, 20),
                (3, 30),
            ]
            assert _one(
                admin,
                "SELECT has_table_privilege(%s, 'analytics.vw_top', 'SELECT')",
                (READER_ROLE,),
            )
            leftovers = admin.execute(
                "SELECT relname FROM pg_class WHERE relname LIKE '%%\\_\\_swap'"
                " OR relname LIKE '%%\\_\\_retired'"
            ).fetchall()
            assert leftovers == []
            logged = admin.execute(
                "SELECT action, row_count FROM analytics.execution_log WHERE run_id = 'swap'"
            ).fetchall()
            assert logged == [("swap", 3)]
        finally:
            admin.execute(f"DROP OWNED BY {READER_ROLE}")
            admin.execute(f"DROP ROLE {READER_ROLE}")


def test_a_materialized_view_on_top_keeps_the_retired_version_until_rebuilt(
    tmp_path: Path,
    new_database,  # noqa: ANN001
) -> None:
    url = new_database("swap_mv_on_mv")
    builder, objs = _built(
        tmp_path, url, {"t/base_rows.sql": BASE, "t/mv_sum.sql": MV, "t/mv_grand.sql": MV_ON_MV}
    )
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("INSERT INTO analytics.base_rows VALUES (3, 30)")
        with psycopg.connect(url) as conn:
            assert builder.build(conn, objs["mv_sum"], run_id="r").action == "swap"
        # mv_grand still reads (and shows) the previous version, kept as retired.
        assert _one(admin, "SELECT total FROM analytics.mv_grand") == 30
        assert _one(admin, "SELECT count(*) FROM analytics.mv_sum__retired") == 2
        assert _one(admin, "SELECT count(*) FROM analytics.mv_sum") == 3
        # A second swap before mv_grand is rebuilt cannot drop the retired version: it falls back.
        admin.execute("INSERT INTO analytics.base_rows VALUES (4, 40)")
        with psycopg.connect(url) as conn:
            assert builder.build(conn, objs["mv_sum"], run_id="r").action == "refresh_concurrently"
        assert _one(admin, "SELECT count(*) FROM analytics.mv_sum") == 4
        # Rebuilding the reader points it at the current version; the retired one is dropped.
        with psycopg.connect(url) as conn:
            assert builder.build(conn, objs["mv_grand"], run_id="r").action == "swap"
        assert _one(admin, "SELECT total FROM analytics.mv_grand") == 100
        assert _one(admin, "SELECT to_regclass('analytics.mv_sum__retired')") is None
        with psycopg.connect(url) as conn:
            assert builder.build(conn, objs["mv_sum"], run_id="r").action == "swap"


def test_a_long_reader_makes_the_swap_give_up_and_refresh_concurrently(
    tmp_path: Path,
    new_database,  # noqa: ANN001
) -> None:
    url = new_database("swap_reader")
    builder, objs = _built(
        tmp_path, url, {"t/base_rows.sql": BASE, "t/mv_sum.sql": MV, "t/vw_top.sql": VIEW}
    )
    builder.swap_lock_timeout_ms, builder.swap_attempts = 50, 2
    with (
        psycopg.connect(url, autocommit=True) as admin,
        psycopg.connect(url) as long_reader,
    ):
        admin.execute("INSERT INTO analytics.base_rows VALUES (3, 30)")
        # An open transaction that read the view holds its ACCESS SHARE lock until it ends.
        assert _one(long_reader, "SELECT count(*) FROM analytics.mv_sum") == 2
        outcome: dict[str, object] = {}

        def build() -> None:
            with psycopg.connect(url) as conn:
                outcome["result"] = builder.build(conn, objs["mv_sum"], run_id="r")

        thread = threading.Thread(target=build)
        thread.start()
        thread.join(timeout=60)
        assert not thread.is_alive()
        # The swap gave up (it never waits long for the lock); the refresh went through anyway.
        assert outcome["result"].action == "refresh_concurrently"
        long_reader.rollback()
        assert _one(admin, "SELECT count(*) FROM analytics.vw_top") == 3
        assert _one(admin, "SELECT to_regclass('analytics.mv_sum__swap')") is None


def test_what_a_swap_cannot_carry_over_means_a_concurrent_refresh(
    tmp_path: Path,
    new_database,  # noqa: ANN001
) -> None:
    url = new_database("swap_fallback")
    builder, objs = _built(tmp_path, url, {"t/base_rows.sql": BASE, "t/mv_sum.sql": MV})
    with psycopg.connect(url, autocommit=True) as admin:
        # An index made by hand would be lost by a swap.
        admin.execute("CREATE INDEX ix_by_hand ON analytics.mv_sum (total)")
        with psycopg.connect(url) as conn:
            assert builder.build(conn, objs["mv_sum"], run_id="r").action == "refresh_concurrently"
        assert _one(admin, "SELECT to_regclass('analytics.ix_by_hand')") is not None
        admin.execute("DROP INDEX analytics.ix_by_hand")
        # A function with a SQL-standard body depends on the relation itself.
        admin.execute(
            "CREATE FUNCTION analytics.fn_atomic_total() RETURNS numeric LANGUAGE sql"
            " BEGIN ATOMIC SELECT sum(m.total) FROM analytics.mv_sum AS m; END"
        )
        admin.execute("INSERT INTO analytics.base_rows VALUES (3, 30)")
        with psycopg.connect(url) as conn:
            assert builder.build(conn, objs["mv_sum"], run_id="r").action == "refresh_concurrently"
        assert _one(admin, "SELECT analytics.fn_atomic_total()") == 60
        admin.execute("DROP FUNCTION analytics.fn_atomic_total()")
        with psycopg.connect(url) as conn:
            assert builder.build(conn, objs["mv_sum"], run_id="r").action == "swap"


def test_a_failing_next_version_leaves_the_current_one(tmp_path: Path, new_database) -> None:  # noqa: ANN001
    url = new_database("swap_fail")
    builder, objs = _built(
        tmp_path, url, {"t/base_rows.sql": BASE, "t/mv_sum.sql": MV, "t/vw_top.sql": VIEW}
    )
    with psycopg.connect(url, autocommit=True) as admin:
        # Two rows with the same key make the unique index of the next version fail.
        admin.execute("ALTER TABLE analytics.base_rows DROP CONSTRAINT base_rows_pkey")
        admin.execute("INSERT INTO analytics.base_rows VALUES (5, 1)")
        mv_oid = _one(admin, "SELECT 'analytics.mv_sum'::regclass::oid")
        broken = MV.replace("GROUP BY b.k", "GROUP BY b.k, b.v")
        admin.execute("INSERT INTO analytics.base_rows VALUES (5, 2)")
        objects = _objects(tmp_path / "v2", {"t/mv_sum.sql": broken})
        bad = next(o for o in objects if o.name == "mv_sum")
        # Same version registered as the broken SQL, so the builder refreshes (swap) with it.
        admin.execute(
            "UPDATE analytics.object_registry SET code_version = %s WHERE object_name = 'mv_sum'",
            (SqlBuilder.version(bad),),
        )
        with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.UniqueViolation):
            builder.build(conn, bad, run_id="r")
        assert _one(admin, "SELECT 'analytics.mv_sum'::regclass::oid") == mv_oid
        assert _one(admin, "SELECT count(*) FROM analytics.vw_top") == 2
        assert _one(admin, "SELECT to_regclass('analytics.mv_sum__swap')") is None


MV_A = (
    "-- Per key.\nCREATE MATERIALIZED VIEW analytics.mv_a AS\n"
    "SELECT b.k, sum(b.v) AS total FROM analytics.base_rows AS b GROUP BY b.k;\n"
    "CREATE UNIQUE INDEX ux_mv_a ON analytics.mv_a (k);\n"
)
MV_B = (
    "-- Per key, doubled.\nCREATE MATERIALIZED VIEW analytics.mv_b AS\n"
    "SELECT b.k, 2 * sum(b.v) AS total FROM analytics.base_rows AS b GROUP BY b.k;\n"
    "CREATE UNIQUE INDEX ux_mv_b ON analytics.mv_b (k);\n"
)
VIEW_AB = (
    "-- Both.\nCREATE VIEW analytics.vw_ab AS SELECT a.k, a.total AS a_total, b.total AS b_total\n"
    "FROM analytics.mv_a AS a JOIN analytics.mv_b AS b ON b.k = a.k;\n"
)


def test_two_swaps_at_once_both_swap_and_re_point_a_shared_view(
    tmp_path: Path,
    new_database,  # noqa: ANN001
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two steps running at once (retailmart_dagster/executor.py) swap the two materialized views
    one view reads. Both reach the swap together (a barrier); each re-points the shared view. The
    DDL lock makes one wait for the other (milliseconds). Measured without it: each swap holds a
    lock on the other's view (re-pointing the shared view locks what it reads), both give up and
    refresh CONCURRENTLY; reading that view's definition before the computation, outside a
    rolled-back savepoint, does the same."""
    url = new_database("swap_pair")
    builder, objs = _built(
        tmp_path,
        url,
        {"t/base_rows.sql": BASE, "t/mv_a.sql": MV_A, "t/mv_b.sql": MV_B, "t/vw_ab.sql": VIEW_AB},
    )
    together = threading.Barrier(2, timeout=30)
    original = SqlBuilder._copy_ownership

    def copy_then_meet(conn, obj, swap_name):  # noqa: ANN001, ANN202
        original(conn, obj, swap_name)
        together.wait()  # both next versions are built: now both swap

    monkeypatch.setattr(SqlBuilder, "_copy_ownership", staticmethod(copy_then_meet))
    with psycopg.connect(url) as conn:
        view_oid = _one(conn, "SELECT 'analytics.vw_ab'::regclass::oid")
    for round_ in range(3):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE analytics.base_rows SET v = v + 1")
        results: dict[str, object] = {}

        def build(name: str, results: dict[str, object], run_id: str) -> None:
            try:
                with psycopg.connect(url) as conn:
                    results[name] = builder.build(conn, objs[name], run_id=run_id).action
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                results[name] = exc

        threads = [
            threading.Thread(target=build, args=(n, results, f"pair-{round_}"))
            for n in ("mv_a", "mv_b")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert results == {"mv_a": "swap", "mv_b": "swap"}, results
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT k, a_total, b_total FROM analytics.vw_ab ORDER BY k"
            ).fetchall()
            assert _one(conn, "SELECT 'analytics.vw_ab'::regclass::oid") == view_oid
            retired = _one(conn, "SELECT count(*) FROM pg_class WHERE relname LIKE '%%__retired'")
        assert [(k, float(a), float(b)) for k, a, b in rows] == [
            (1, 11.0 + round_, 22.0 + 2 * round_),
            (2, 21.0 + round_, 42.0 + 2 * round_),
        ]
        assert retired == 0


MV_GRAND_ALSO = (
    "-- Grand total and the sum of the largest key's total.\n"
    "CREATE MATERIALIZED VIEW analytics.mv_grand AS\n"
    "SELECT 1 AS id, sum(m.total) AS total FROM analytics.mv_sum AS m;\n"
    "CREATE UNIQUE INDEX ux_mv_grand ON analytics.mv_grand (id);\n"
)
MV_TOP = (
    "-- Reads both: the grand total's share of the largest key.\n"
    "CREATE MATERIALIZED VIEW analytics.mv_share AS\n"
    "SELECT g.id, max(m.total) / g.total AS share\n"
    "FROM analytics.mv_grand AS g CROSS JOIN analytics.mv_sum AS m GROUP BY g.id, g.total;\n"
    "CREATE UNIQUE INDEX ux_mv_share ON analytics.mv_share (id);\n"
)


def test_retired_versions_read_only_by_retired_ones_go_within_the_run(
    tmp_path: Path,
    new_database,  # noqa: ANN001
) -> None:
    """mv_sum <- mv_grand <- mv_share (which reads mv_sum too): refreshed in order, each swap
    retires the version its readers still read, and once the last reader is rebuilt every retired
    version goes, including one that only another retired version read. Left behind, it made the
    next run's swap of mv_sum fall back to a concurrent refresh."""
    url = new_database("swap_chain")
    builder, objs = _built(
        tmp_path,
        url,
        {
            "t/base_rows.sql": BASE,
            "t/mv_sum.sql": MV,
            "t/mv_grand.sql": MV_GRAND_ALSO,
            "t/mv_share.sql": MV_TOP,
        },
    )
    with psycopg.connect(url) as conn:
        for run in ("second", "third"):
            conn.execute("UPDATE analytics.base_rows SET v = v + 1")
            conn.commit()
            actions = {
                name: builder.build(conn, objs[name], run_id=run).action
                for name in ("mv_sum", "mv_grand", "mv_share")
            }
            conn.commit()
            assert actions == {"mv_sum": "swap", "mv_grand": "swap", "mv_share": "swap"}, run
            assert (
                _one(conn, "SELECT count(*) FROM pg_class WHERE relname LIKE '%%\\_\\_retired'")
                == 0
            )
        assert _one(conn, "SELECT total FROM analytics.mv_grand") == 34


def test_a_swap_waits_out_deadlock_timeout_to_cancel_an_autovacuum_in_its_way(
    tmp_path: Path,
    new_database,  # noqa: ANN001
    pg_admin_url: str,
) -> None:
    """An autovacuum worker that holds the current version gives way only to a lock request that
    has waited deadlock_timeout; the swap's short waits alone never make it give way, so every
    attempt failed while it kept the lock and the view was refreshed CONCURRENTLY instead."""
    url = new_database("swap_autovacuum")
    builder, objs = _built(
        tmp_path, url, {"t/base_rows.sql": BASE, "t/mv_sum.sql": MV, "t/vw_top.sql": VIEW}
    )
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "INSERT INTO analytics.base_rows SELECT g, g FROM generate_series(3, 20000) g"
        )
        with psycopg.connect(url) as conn:
            assert builder.build(conn, objs["mv_sum"], run_id="r0").row_count == 20000
        # The current version: vacuumed by autovacuum as soon as it looks (any insert counts) and
        # as slowly as autovacuum goes (100 ms of sleep per page: about 9 s for its 90 pages).
        admin.execute(
            "ALTER MATERIALIZED VIEW analytics.mv_sum SET ("
            " autovacuum_vacuum_insert_threshold = 1, autovacuum_vacuum_insert_scale_factor = 0,"
            " autovacuum_analyze_threshold = 1000000000,"
            " autovacuum_vacuum_cost_delay = 100, autovacuum_vacuum_cost_limit = 1)"
        )
        admin.execute("INSERT INTO analytics.base_rows VALUES (20001, 1)")
        with psycopg.connect(pg_admin_url, autocommit=True) as server:
            server.execute("ALTER SYSTEM SET autovacuum_naptime = '1s'")
            server.execute("SELECT pg_reload_conf()")
            try:
                vacuuming = (
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE backend_type = 'autovacuum worker' AND datname = current_database()"
                    " AND query LIKE '%%mv_sum%%'"
                )
                deadline = time.monotonic() + 60
                while _one(admin, vacuuming) == 0:
                    assert time.monotonic() < deadline, "autovacuum never started on mv_sum"
                    time.sleep(0.1)
                # Seen by a role that may not read other roles' activity (as the pipeline role):
                # the attempts after the first wait past deadlock_timeout.
                deadlock_ms = int(
                    _one(admin, "SELECT setting FROM pg_settings WHERE name = 'deadlock_timeout'")
                )
                admin.execute(f"DROP ROLE IF EXISTS {READER_ROLE}")
                admin.execute(f"CREATE ROLE {READER_ROLE} NOLOGIN")
                admin.execute(f"GRANT USAGE ON SCHEMA analytics TO {READER_ROLE}")
                try:
                    with psycopg.connect(url) as restricted:
                        restricted.execute(f"SET ROLE {READER_ROLE}")
                        assert builder._swap_lock_wait_ms(restricted, objs["mv_sum"]) == (
                            deadlock_ms + builder.swap_lock_timeout_ms
                        )
                finally:
                    admin.execute(f"REVOKE USAGE ON SCHEMA analytics FROM {READER_ROLE}")
                    admin.execute(f"DROP ROLE {READER_ROLE}")
                # Five attempts of 20 ms could never outlast the vacuum (seconds); the second
                # waits past deadlock_timeout, which cancels the worker.
                builder.swap_lock_timeout_ms, builder.swap_attempts = 20, 5
                started = time.monotonic()
                with psycopg.connect(url) as conn:
                    result = builder.build(conn, objs["mv_sum"], run_id="r1")
                assert result.action == "swap"
                assert result.row_count == 20001
                assert time.monotonic() - started < 5
                assert _one(admin, "SELECT count(*) FROM analytics.vw_top") == 20001
            finally:
                server.execute("ALTER SYSTEM RESET autovacuum_naptime")
                server.execute("SELECT pg_reload_conf()")

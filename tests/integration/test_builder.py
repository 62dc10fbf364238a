"""The build engine on a real server: create, refresh concurrently, re-create on change with
dependents, failures leave the previous version in place, audit history survives re-setup."""

from pathlib import Path

import psycopg
import pytest

from retailmart_dagster.assets.builder import SqlBuilder
from retailmart_dagster.assets.sql_parse import SQL_DIR, discover_sql_objects, parse_sql_file

pytestmark = pytest.mark.integration

SETUP = [
    "schema_analytics",
    "config",
    "object_registry",
    "kpi_metadata",
    "execution_log",
    "refresh_history",
]


def _objects(tmp_path: Path, files: dict[str, str]):  # noqa: ANN202
    setup = {o.name: o for o in discover_sql_objects(SQL_DIR) if o.name in SETUP}
    extra = []
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        extra.append(parse_sql_file(path, tmp_path))
    return [setup[n] for n in SETUP] + extra


BASE = "-- t\nCREATE TABLE IF NOT EXISTS analytics.base_src (k int PRIMARY KEY, v numeric);\n"
MV_V1 = (
    "-- Sum per k.\nCREATE MATERIALIZED VIEW analytics.mv_sum AS\n"
    "SELECT b.k, sum(b.v) AS total FROM analytics.base_src b GROUP BY b.k;\n"
    "CREATE UNIQUE INDEX ux_mv_sum ON analytics.mv_sum (k);\n"
)
MV_V2 = MV_V1.replace("sum(b.v) AS total", "sum(b.v) AS total, count(*) AS n")
VIEW_ON_MV = (
    "-- On top.\nCREATE VIEW analytics.vw_top AS SELECT m.k, m.total FROM analytics.mv_sum m;\n"
)


def _build_all(builder: SqlBuilder, conn: psycopg.Connection) -> dict[str, str]:
    return {o.name: builder.build(conn, o, run_id="test").action for o in builder.objects}


def test_create_refresh_recreate(tmp_path: Path, new_database) -> None:  # noqa: ANN001
    url = new_database("builder")
    with psycopg.connect(url) as conn:
        objs = _objects(
            tmp_path,
            {"t/base_src.sql": BASE, "t/mv_sum.sql": MV_V1, "t/vw_top.sql": VIEW_ON_MV},
        )
        builder = SqlBuilder(objs)
        actions = _build_all(builder, conn)
        assert actions["mv_sum"] == "create" and actions["vw_top"] == "create"
        conn.execute("INSERT INTO analytics.base_src VALUES (1, 10), (2, 5)")
        conn.commit()
        actions = _build_all(builder, conn)
        assert actions["mv_sum"] == "swap"
        assert actions["vw_top"] == "unchanged"
        assert conn.execute("SELECT sum(total) FROM analytics.vw_top").fetchone() == (15,)

        # A changed MV definition: re-created, its dependent view re-created in the same step.
        objs2 = _objects(
            tmp_path / "v2",
            {"t/base_src.sql": BASE, "t/mv_sum.sql": MV_V2, "t/vw_top.sql": VIEW_ON_MV},
        )
        builder2 = SqlBuilder(objs2)
        mv2 = next(o for o in objs2 if o.name == "mv_sum")
        result = builder2.build(conn, mv2, run_id="test")
        assert result.action == "recreate"
        assert result.recreated_dependents == ["vw_top"]
        assert [c for c, _ in result.columns] == ["k", "total", "n"]
        assert conn.execute("SELECT count(*) FROM analytics.vw_top").fetchone() == (2,)

        # A failing new version leaves the previous one in place.
        broken = _objects(
            tmp_path / "v3",
            {"t/mv_sum.sql": MV_V1.replace("sum(b.v)", "sum(b.no_such_column)")},
        )
        bad = next(o for o in broken if o.name == "mv_sum")
        with pytest.raises(psycopg.errors.UndefinedColumn):
            builder2.build(conn, bad, run_id="test")
        cols = conn.execute(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'analytics.mv_sum'::regclass"
            " AND attnum > 0"
        ).fetchone()
        assert cols == (3,)
        assert conn.execute("SELECT count(*) FROM analytics.vw_top").fetchone() == (2,)
        failed = conn.execute(
            "SELECT count(*) FROM analytics.execution_log WHERE status = 'failed'"
            " AND object_name = 'mv_sum'"
        ).fetchone()
        assert failed == (1,)

        # Re-running setup keeps history.
        before = conn.execute("SELECT count(*) FROM analytics.execution_log").fetchone()[0]
        _build_all(builder2, conn)
        after = conn.execute("SELECT count(*) FROM analytics.execution_log").fetchone()[0]
        assert after == before + len(objs2)
        history = conn.execute(
            "SELECT method FROM analytics.refresh_history WHERE object_name = 'mv_sum'"
            " ORDER BY refresh_id"
        ).fetchall()
        assert [h[0] for h in history] == ["create", "swap", "recreate", "swap"]


def test_objects_whose_file_is_gone_are_retired(tmp_path: Path, new_database) -> None:  # noqa: ANN001
    """A renamed or deleted SQL file: its object (and what an old version built on it) is dropped
    when the registry is set up, with its catalog entry; objects we never built are kept."""
    url = new_database("builder_retire")
    with psycopg.connect(url) as conn:
        old = _objects(
            tmp_path / "v1",
            {"t/base_src.sql": BASE, "t/mv_sum.sql": MV_V1, "t/vw_top.sql": VIEW_ON_MV},
        )
        _build_all(SqlBuilder(old), conn)
        conn.execute("CREATE VIEW analytics.users_own_view AS SELECT 1 AS one")
        conn.commit()
        # Version 2 renamed vw_top to vw_best.
        new = _objects(
            tmp_path / "v2",
            {
                "t/base_src.sql": BASE,
                "t/mv_sum.sql": MV_V1,
                "t/vw_best.sql": VIEW_ON_MV.replace("vw_top", "vw_best"),
            },
        )
        actions = _build_all(SqlBuilder(new, retire_removed=True), conn)
        assert actions["vw_best"] == "create"
        exists = conn.execute(
            "SELECT to_regclass('analytics.vw_top'), to_regclass('analytics.vw_best'),"
            " to_regclass('analytics.users_own_view'), to_regclass('analytics.mv_sum')"
        ).fetchone()
        assert exists[0] is None
        assert all(e is not None for e in exists[1:])
        registered = {
            r[0] for r in conn.execute("SELECT object_name FROM analytics.object_registry")
        }
        assert "vw_top" not in registered and {"vw_best", "mv_sum"} <= registered
        catalog = {r[0] for r in conn.execute("SELECT object_name FROM analytics.kpi_metadata")}
        assert "vw_top" not in catalog
        logged = conn.execute(
            "SELECT count(*) FROM analytics.execution_log"
            " WHERE object_name = 'vw_top' AND action = 'retire'"
        ).fetchone()[0]
        assert logged == 1
        # Idempotent: nothing more to retire on the next run.
        _build_all(SqlBuilder(new, retire_removed=True), conn)
        assert (
            conn.execute(
                "SELECT count(*) FROM analytics.execution_log WHERE action = 'retire'"
            ).fetchone()[0]
            == 1
        )
        # A builder that was not told it knows every object never drops anything.
        _build_all(SqlBuilder(old[:3]), conn)
        assert conn.execute("SELECT to_regclass('analytics.vw_best')").fetchone()[0] is not None


def test_upgrade_where_a_dependent_changed_to_need_a_new_object(
    tmp_path: Path, new_database
) -> None:  # noqa: ANN001
    """Version 2 changes mv_sum and also vw_top, which now reads vw_extra, a new object built after
    mv_sum. Re-creating mv_sum drops vw_top and vw_deep (CASCADE); vw_top must not be re-created
    there from its new SQL (vw_extra does not exist yet), nor the unchanged vw_deep (it reads
    vw_top): each is created by its own build, later in the run. (Seen upgrading a real database.)"""
    deep = "-- Deep.\nCREATE VIEW analytics.vw_deep AS SELECT t.k FROM analytics.vw_top t;\n"
    url = new_database("builder_upgrade")
    extra = "-- Extra.\nCREATE VIEW analytics.vw_extra AS SELECT b.k FROM analytics.base_src b;\n"
    top_v2 = (
        "-- On top, v2.\nCREATE VIEW analytics.vw_top AS SELECT m.k, m.total FROM analytics.mv_sum m"
        " JOIN analytics.vw_extra e ON e.k = m.k;\n"
    )
    with psycopg.connect(url) as conn:
        v1 = _objects(
            tmp_path / "v1",
            {
                "t/base_src.sql": BASE,
                "t/mv_sum.sql": MV_V1,
                "t/vw_top.sql": VIEW_ON_MV,
                "t/vw_deep.sql": deep,
            },
        )
        _build_all(SqlBuilder(v1), conn)
        conn.commit()
        v2 = _objects(
            tmp_path / "v2",
            {
                "t/base_src.sql": BASE,
                "t/mv_sum.sql": MV_V2,
                "t/vw_top.sql": top_v2,
                "t/vw_deep.sql": deep,
                "u/vw_extra.sql": extra,
            },
        )
        by_name = {o.name: o for o in v2}
        builder = SqlBuilder(v2)
        actions = {}
        for name in [*SETUP, "base_src", "mv_sum", "vw_extra", "vw_top", "vw_deep"]:
            actions[name] = builder.build(conn, by_name[name], run_id="upgrade").action
        assert actions["mv_sum"] == "recreate"
        assert actions["vw_extra"] == "create" and actions["vw_top"] == "create"
        assert actions["vw_deep"] == "create"
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT a.attname FROM pg_attribute a"
                " WHERE a.attrelid = 'analytics.mv_sum'::regclass AND a.attnum > 0 ORDER BY 1"
            )
        ]
        assert columns == ["k", "n", "total"]
        assert conn.execute("SELECT count(*) FROM analytics.vw_top").fetchone()[0] == 0


FACT = (
    "-- Copy of base_src, reloaded whole.\n"
    "CREATE TABLE analytics.fact_copy (k int NOT NULL, v numeric);\n"
    "DELETE FROM analytics.fact_copy;\n"
    "INSERT INTO analytics.fact_copy SELECT b.k, b.v FROM analytics.base_src AS b;\n"
)


def _stats_rows(conn: psycopg.Connection) -> int:
    return conn.execute(
        "SELECT count(*) FROM pg_stats WHERE schemaname = 'analytics' AND tablename = 'fact_copy'"
    ).fetchone()[0]


def test_fact_tables_are_analyzed_when_loaded_or_changed_beyond_autovacuums_share(
    tmp_path: Path,
    new_database,  # noqa: ANN001
) -> None:
    """A fact gets its statistics with its first load (VACUUM (ANALYZE)), and again after a load
    that changed more rows than autovacuum's analyze threshold (with that share of the table), so
    the objects built on it next never plan on default estimates; a small change keeps them."""
    url = new_database("builder_analyze")
    with psycopg.connect(url) as conn:
        objs = _objects(tmp_path, {"t/base_src.sql": BASE, "facts/fact_copy.sql": FACT})
        fact = next(o for o in objs if o.name == "fact_copy")
        assert fact.kind == "fact_table"
        builder = SqlBuilder(objs)
        for o in objs[:-1]:
            builder.build(conn, o, run_id="test")
        conn.execute(
            "INSERT INTO analytics.base_src SELECT g, g FROM generate_series(1, 2000) AS g"
        )
        conn.commit()
        assert builder.build(conn, fact, run_id="test").action == "create"
        assert _stats_rows(conn) == 2
        conn.commit()

        def load() -> tuple[bool, float]:
            """One incremental load's statements, then whether it analyzed and reltuples after."""
            with conn.transaction():
                before = builder._row_changes(conn, fact)
                conn.execute(fact.load_sql)
                changed = sum(builder._row_changes(conn, fact)) - sum(before)
                analyzed = builder._analyze_if_stale(conn, fact, changed)
                tuples = conn.execute(
                    "SELECT reltuples FROM pg_class WHERE oid = 'analytics.fact_copy'::regclass"
                ).fetchone()[0]
            return analyzed, tuples

        # A reload of every row (2000 deleted + 2000 inserted) is far above the threshold.
        conn.execute(
            "INSERT INTO analytics.base_src SELECT g, g FROM generate_series(2001, 3000) g"
        )
        conn.commit()
        assert load() == (True, 3000)
        # The statistics are the new rows' (the max of v moved from 2000 to 3000).
        assert (
            conn.execute(
                "SELECT max(x::text::numeric) FROM pg_stats, unnest(histogram_bounds::text::text[]) x"
                " WHERE schemaname = 'analytics' AND tablename = 'fact_copy' AND attname = 'v'"
            ).fetchone()[0]
            == 3000
        )

        # A change below the threshold (the server's: 50 rows + 10 % of 3000) leaves them alone.
        with conn.transaction():
            before = builder._row_changes(conn, fact)
            conn.execute("UPDATE analytics.fact_copy SET v = v WHERE k = 1")
            after = builder._row_changes(conn, fact)
            assert sum(after) - sum(before) == 1
            assert builder._analyze_if_stale(conn, fact, sum(after) - sum(before)) is False
        # Without statistics (dropped with the table's rows by a hand-made copy): analyzed.
        with conn.transaction():
            conn.execute("CREATE TABLE analytics.tmp_copy AS SELECT * FROM analytics.fact_copy")
            conn.execute("DROP TABLE analytics.fact_copy")
            conn.execute("ALTER TABLE analytics.tmp_copy RENAME TO fact_copy")
            assert _stats_rows(conn) == 0
            assert builder._analyze_if_stale(conn, fact, 0) is True
            assert _stats_rows(conn) == 2


def test_an_incremental_fact_load_counts_its_rows_from_the_recorded_count_and_its_changes(
    tmp_path: Path,
    new_database,  # noqa: ANN001
) -> None:
    """A fact's row count (the asset's dagster/row_count) after an incremental load is the count
    its last build recorded in analytics.object_registry plus the rows the load inserted less those
    it deleted, without counting the table; the first load, a re-creation and a load without a
    recorded count count it. Loads that add, delete and keep rows all give count(*)."""
    url = new_database("builder_fact_count")
    with psycopg.connect(url) as conn:
        objs = _objects(tmp_path, {"t/base_src.sql": BASE, "facts/fact_copy.sql": FACT})
        fact = next(o for o in objs if o.name == "fact_copy")
        builder = SqlBuilder(objs)
        for o in objs[:-1]:
            builder.build(conn, o, run_id="test")
        conn.execute("INSERT INTO analytics.base_src SELECT g, g FROM generate_series(1, 500) g")
        conn.commit()

        def recorded() -> int | None:
            return conn.execute(
                "SELECT row_count FROM analytics.object_registry WHERE object_name = 'fact_copy'"
            ).fetchone()[0]

        def actual() -> int:
            return conn.execute("SELECT count(*) FROM analytics.fact_copy").fetchone()[0]

        first = builder.build(conn, fact, run_id="test")
        assert (first.action, first.row_count, recorded()) == ("create", 500, 500)
        for change in (
            "INSERT INTO analytics.base_src SELECT g, g FROM generate_series(501, 530) g",
            "DELETE FROM analytics.base_src WHERE k > 490",
            "UPDATE analytics.base_src SET v = v + 1 WHERE k <= 10",
            "DELETE FROM analytics.base_src",
        ):
            conn.execute(change)
            conn.commit()
            result = builder.build(conn, fact, run_id="test")
            assert result.action == "incremental_load"
            assert result.row_count == actual() == recorded(), change
        assert recorded() == 0
        # The recorded count is what the load starts from: a wrong one stays off by as much
        # (only the fact's own builds write it), a missing one is counted again.
        conn.execute("INSERT INTO analytics.base_src SELECT g, g FROM generate_series(1, 40) g")
        conn.execute(
            "UPDATE analytics.object_registry SET row_count = 1000 WHERE object_name = 'fact_copy'"
        )
        conn.commit()
        assert builder.build(conn, fact, run_id="test").row_count == 1040
        conn.execute(
            "UPDATE analytics.object_registry SET row_count = NULL WHERE object_name = 'fact_copy'"
        )
        conn.commit()
        result = builder.build(conn, fact, run_id="test")
        assert (result.row_count, recorded(), actual()) == (40, 40, 40)
        # A failed load leaves the recorded count as it was (one transaction with the load).
        conn.execute("ALTER TABLE analytics.fact_copy ADD CONSTRAINT small CHECK (k < 45)")
        conn.execute("INSERT INTO analytics.base_src SELECT g, g FROM generate_series(41, 50) g")
        conn.commit()
        with pytest.raises(psycopg.errors.CheckViolation):
            builder.build(conn, fact, run_id="test")
        assert (recorded(), actual()) == (40, 40)

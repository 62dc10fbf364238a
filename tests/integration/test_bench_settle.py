"""benchmarks/bench_build.py does the maintenance autovacuum would do after a run before it times the
next one (settle_maintenance): the tables over autovacuum's thresholds are vacuumed and analyzed,
the others left alone."""

import psycopg
import pytest

from benchmarks.bench_build import _OVER_AUTOVACUUM_THRESHOLDS, settle_maintenance

pytestmark = pytest.mark.integration


def test_settle_vacuums_and_analyzes_the_tables_over_autovacuums_thresholds(
    new_database,  # noqa: ANN001
) -> None:
    url = new_database("bench_settle")
    with psycopg.connect(url, autocommit=True) as conn:
        # No autovacuum in this database meanwhile: the test decides what is over the thresholds.
        conn.execute("CREATE TABLE busy (id int) WITH (autovacuum_enabled = false)")
        conn.execute("CREATE TABLE quiet (id int) WITH (autovacuum_enabled = false)")
        conn.execute("INSERT INTO busy SELECT g FROM generate_series(1, 20000) AS g")
        conn.execute("INSERT INTO quiet VALUES (1)")
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT pg_stat_clear_snapshot()")
        over = [row[0] for row in conn.execute(_OVER_AUTOVACUUM_THRESHOLDS).fetchall()]
        assert "public.busy" in over and "public.quiet" not in over

    seconds, vacuumed = settle_maintenance(url, timeout_s=60)

    assert vacuumed >= 1 and 0 <= seconds < 60
    with psycopg.connect(url, autocommit=True) as conn:
        over = [row[0] for row in conn.execute(_OVER_AUTOVACUUM_THRESHOLDS).fetchall()]
        assert "public.busy" not in over
        busy, quiet = conn.execute(
            "SELECT max(last_vacuum) FILTER (WHERE relname = 'busy'),"
            " max(last_vacuum) FILTER (WHERE relname = 'quiet')"
            " FROM pg_stat_user_tables"
        ).fetchone()
        assert busy is not None and quiet is None
        analyzed = conn.execute(
            "SELECT reltuples FROM pg_class WHERE oid = 'public.busy'::regclass"
        ).fetchone()[0]
        assert analyzed == 20000

"""Daily refresh: one new day of orders appended (benchmarks/append_day.py), the main job run again,
gives exactly what a full build on the same data gives — every KPI view, materialized view and
export. The appended day follows the generator's rules (the data-quality gate passes on it)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest

from benchmarks.append_day import append_day, kpi_snapshot, snapshot_differences
from retailmart_dagster.assets.sql_parse import (
    FACT_TABLE,
    MATERIALIZED_VIEW,
    SQL_DIR,
    discover_sql_objects,
)
from tests.conftest import materialize_all

pytestmark = pytest.mark.integration

END = dt.date(2025, 10, 1)
QUALITY_RESULTS = (
    "SELECT check_name, severity, passed, affected_count, total_rows, threshold, sample_keys,"
    "       details"
    "  FROM analytics.data_quality_results WHERE run_id = %s ORDER BY check_name"
)


def _failures(result) -> list[str]:  # noqa: ANN001
    return [
        f"{e.step_key}: {e.event_specific_data.error.message.strip()[:300]}"
        for e in result.all_events
        if e.is_step_failure
    ]


def _source_counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = ("sales.orders", "sales.order_items", "sales.payments", "sales.shipments")
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def test_append_day_is_deterministic_and_consistent(new_database) -> None:  # noqa: ANN001
    from retailmart_dagster.generate import generate

    appended = []
    for prefix in ("append_a", "append_b"):
        url = new_database(prefix)
        with psycopg.connect(url) as conn:
            generate(conn, scale=0.02, seed=5, end_date=END)
            before = _source_counts(conn)
            result = append_day(conn, seed=5)
            after = _source_counts(conn)
            rows = conn.execute(
                "SELECT o.order_id, o.cust_id, o.store_id, o.order_status, o.total_amount,"
                " (SELECT array_agg((i.prod_id, i.quantity, i.unit_price, i.discount)::text"
                "                   ORDER BY i.order_item_id)"
                "    FROM sales.order_items i WHERE i.order_id = o.order_id)"
                " FROM sales.orders o WHERE o.order_date = %s ORDER BY o.order_id",
                (result.day,),
            ).fetchall()
            appended.append(rows)
            assert result.day == END + dt.timedelta(days=1)
            assert after["sales.orders"] - before["sales.orders"] == result.orders > 0
            assert after["sales.order_items"] - before["sales.order_items"] == result.lines
            assert after["sales.payments"] - before["sales.payments"] == result.orders
            assert after["sales.shipments"] - before["sales.shipments"] == result.shipments
            # Order total = sum of line nets; one payment per order for its total, that day.
            bad = conn.execute(
                """
                SELECT o.order_id
                  FROM sales.orders o
                  JOIN (SELECT order_id,
                               sum(round(quantity * unit_price * (1 - discount / 100), 2)) AS net
                          FROM sales.order_items GROUP BY order_id) l ON l.order_id = o.order_id
                  JOIN sales.payments p ON p.order_id = o.order_id
                 WHERE o.order_date = %(d)s
                   AND (o.total_amount <> l.net OR p.amount <> o.total_amount
                        OR p.payment_date <> %(d)s)
                """,
                {"d": result.day},
            ).fetchall()
            assert bad == []
            # Shipments exactly for the Shipped orders of the day, in transit.
            mismatched = conn.execute(
                """
                SELECT o.order_id FROM sales.orders o
                  LEFT JOIN sales.shipments s ON s.order_id = o.order_id
                 WHERE o.order_date = %s
                   AND ((o.order_status = 'Shipped') <> (s.order_id IS NOT NULL)
                        OR s.delivered_date IS NOT NULL OR s.status <> 'Shipped')
                """,
                (result.day,),
            ).fetchall()
            assert mismatched == []
    assert appended[0] == appended[1]  # same database and seed, same rows


def test_daily_refresh_equals_full_build(new_database, tmp_path: Path) -> None:  # noqa: ANN001
    from retailmart_dagster.generate import generate

    url = new_database("daily")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.05, seed=11, end_date=END)
    first = materialize_all(url, tmp_path / "d1")
    assert first.success, _failures(first)
    with psycopg.connect(url, autocommit=True) as conn:
        before_append = kpi_snapshot(conn)

    with psycopg.connect(url) as conn:
        day = append_day(conn, seed=11).day
    refreshed = materialize_all(url, tmp_path / "d2", quality_clock=day.isoformat())
    assert refreshed.success, _failures(refreshed)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT analytics.fn_reference_date()").fetchone()[0] == day
        # Each fact's and materialized view's row count (the asset's dagster/row_count: a fact's
        # from the count its last build recorded plus the rows the load added less those it
        # deleted, a view's next version's from the rows its REFRESH wrote) is its count(*).
        counted = {
            o.name
            for o in discover_sql_objects(SQL_DIR)
            if o.kind in (FACT_TABLE, MATERIALIZED_VIEW)
        }
        row_counts = {
            e.asset_key.path[-1]: e.materialization.metadata["dagster/row_count"].value
            for e in refreshed.get_asset_materialization_events()
            if e.asset_key.path[-1] in counted
        }
        assert len(row_counts) == len(counted) >= 40
        for name, count in row_counts.items():
            actual = conn.execute(f"SELECT count(*) FROM analytics.{name}").fetchone()[0]
            assert (name, actual) == (name, count)
        blocking = conn.execute(
            "SELECT check_name FROM analytics.data_quality_results"
            " WHERE run_id = %s AND NOT passed AND severity = 'ERROR'",
            (refreshed.run_id,),
        ).fetchall()
        assert blocking == []
        # The evaluation reused the parts of the first run the new day did not touch.
        reused = conn.execute(
            "SELECT count(*) FROM analytics.data_quality_segments WHERE run_id <> %s",
            (refreshed.run_id,),
        ).fetchone()[0]
        assert reused >= 40
        quality_refresh = conn.execute(QUALITY_RESULTS, (refreshed.run_id,)).fetchall()
        after_refresh = kpi_snapshot(conn)
        conn.execute("DROP SCHEMA analytics CASCADE")

    rebuilt = materialize_all(url, tmp_path / "d3", quality_clock=day.isoformat())
    assert rebuilt.success, _failures(rebuilt)
    with psycopg.connect(url, autocommit=True) as conn:
        after_rebuild = kpi_snapshot(conn)
        quality_rebuild = conn.execute(QUALITY_RESULTS, (rebuilt.run_id,)).fetchall()
    # Every check gave the same result, incrementally and in full.
    assert len(quality_refresh) >= 70 and quality_refresh == quality_rebuild
    assert len(after_refresh) >= 80
    assert after_refresh["fact_customer_cohort_months"]  # a fact compared row by row too
    # The new day changed the KPIs (the reference date moved), and the refresh followed exactly.
    assert len(snapshot_differences(before_append, after_refresh)) >= 20
    assert snapshot_differences(after_refresh, after_rebuild) == []
    # The exports' JSON files are the same too (alerts and quality carry run history: skipped).
    for path in sorted((tmp_path / "d3").rglob("*.json")):
        relative = path.relative_to(tmp_path / "d3")
        if relative.name == "manifest.json" or relative.as_posix() in (
            "alerts.json",
            "quality.json",
        ):
            continue
        assert (tmp_path / "d2" / relative).read_bytes() == path.read_bytes(), relative

    # A failing check's open issue is compared by whether there is one, not by its id or the time
    # it was detected (a daily refresh and a full build open it in different runs).
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO analytics.data_quality_issues"
            "       (check_name, dimension, severity, table_name, affected_count)"
            " SELECT check_name, dimension, severity, table_name, 1"
            "   FROM analytics.vw_data_quality_report ORDER BY check_name LIMIT 1"
        )
        opened = kpi_snapshot(conn)
        conn.execute(
            "UPDATE analytics.data_quality_issues"
            "   SET issue_id = issue_id + 1000, detected_at = detected_at - interval '1 day'"
            " WHERE status = 'open'"
        )
        moved = kpi_snapshot(conn)
    assert snapshot_differences(after_rebuild, opened) == ["vw_data_quality_report"]
    assert snapshot_differences(opened, moved) == []

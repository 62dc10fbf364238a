"""The data-quality checks through real Dagster runs on generated data with injected defects
(``generate(defects=True)``): every defect is found by the check meant for it with exactly the injected
count and nothing else fails; the blocking (ERROR) failures stop the KPIs and fail the run, and
``dagster asset materialize --select '*'`` exits non-zero; warnings never block; issues open, stay open
and resolve across runs; quality.json has its documented shape.

The wall-clock timeliness check is evaluated as of the data's end date (QualityClockResource), so
that the sample data's fixed end date is not "late".
"""

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance

from retailmart_dagster.assets.sql_parse import discover_sql_objects
from retailmart_dagster.checks.assets import DATA_QUALITY_JOB, EVALUATION_KEY, GATE_KEY
from retailmart_dagster.checks.registry import load_checks
from retailmart_dagster.config import config_value, config_values
from retailmart_dagster.definitions import FULL_REFRESH_JOB, build_definitions
from retailmart_dagster.generate import DEFECTS, generate
from tests.conftest import create_database, drop_database

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
END = dt.date(2025, 10, 1)
CHECKS = {c.name: c for c in load_checks()}
SEVERITY = {name: config_values()[c.severity_key] for name, c in CHECKS.items()}

# The check meant to find each kind of defect the generator injects (generate/defects.py).
DEFECT_CHECKS = {
    "total_mismatch": "consistency_order_total_mismatch",
    "negative_quantity": "accuracy_order_item_quantity_not_positive",
    "discount_over_100": "accuracy_order_item_discount_out_of_range",
    "null_full_name": "completeness_customer_name",
    "implausible_age": "accuracy_customer_age_out_of_range",
    "duplicate_natural_key": "uniqueness_duplicate_customers",
    "orphan_prod_id": "consistency_orphan_reviews",
    "orphan_store_id": "consistency_orphan_inventory",
    "negative_stock": "accuracy_inventory_stock_negative",
    "delivered_before_shipped": "accuracy_delivery_before_shipment",
    "delivered_without_date": "completeness_delivered_shipment_date",
    "amount_mismatch": "consistency_payment_amount_mismatch",
    "duplicate_payment": "uniqueness_multiple_payments_per_order",
    "clicked_not_opened": "consistency_email_clicked_not_opened",
    "conversions_over_clicks": "consistency_ad_conversions_over_clicks",
    "return_not_delivered": "consistency_return_of_undelivered_order",
    "refund_over_line": "accuracy_refund_over_paid",
}
BLOCKING = {c for c in DEFECT_CHECKS.values() if SEVERITY[c] == "ERROR"}
QUALITY_OBJECTS = {o.name for o in discover_sql_objects() if o.group in ("setup", "quality")} | {
    "fn_export_quality"
}

# Repairs the blocking defects (lines, order totals, payments; the finance summary follows the
# orders) and one warning (negative stock); the other warnings stay.
REPAIR = [
    "UPDATE sales.order_items SET quantity = -quantity WHERE quantity < 0",
    "UPDATE sales.order_items SET discount = 0 WHERE discount > 100",
    """UPDATE sales.orders AS o SET total_amount = l.total
         FROM (SELECT i.order_id,
                      sum(round(i.quantity * i.unit_price * (1 - i.discount / 100), 2)) AS total
                 FROM sales.order_items AS i GROUP BY i.order_id) AS l
        WHERE l.order_id = o.order_id AND o.total_amount <> l.total""",
    """UPDATE sales.payments AS y SET amount = o.total_amount FROM sales.orders AS o
        WHERE o.order_id = y.order_id AND y.amount <> o.total_amount""",
    """UPDATE finance.revenue_summary AS rs
          SET total_sales = m.sales, net_profit = m.sales - rs.total_expenses
         FROM (SELECT o.store_id, date_trunc('month', o.order_date)::date AS month,
                      sum(o.total_amount) AS sales
                 FROM sales.orders AS o WHERE o.order_status <> 'Cancelled' GROUP BY 1, 2) AS m
        WHERE m.store_id = rs.store_id AND m.month = rs.summary_date AND rs.total_sales <> m.sales""",
    "UPDATE products.inventory SET stock_qty = -stock_qty WHERE stock_qty < 0",
]
REPAIRED = BLOCKING | {"accuracy_inventory_stock_negative"}


def _run(url: str, data_dir: Path, instance: DagsterInstance, job: str = FULL_REFRESH_JOB):  # noqa: ANN202
    defs = build_definitions(
        database_url=url, dashboard_dir=str(data_dir), quality_clock=END.isoformat()
    )
    return defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False)


def _evaluations(result) -> dict[str, object]:  # noqa: ANN001
    return {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def _materialized(result) -> set[AssetKey]:  # noqa: ANN001
    return {
        e.event_specific_data.materialization.asset_key
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    }


def _failures(result) -> dict[str, str]:  # noqa: ANN001
    return {
        e.step_key: e.event_specific_data.error.message
        for e in result.all_events
        if e.is_step_failure
    }


def _issues(url: str) -> dict[str, tuple]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT check_name, issue_id, status, detected_at, last_seen_at, resolved_at,"
            " affected_count FROM analytics.data_quality_issues ORDER BY issue_id"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


@pytest.fixture(scope="module")
def defects_url(pg_admin_url: str) -> Iterator[str]:
    url = create_database(pg_admin_url, "quality")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.02, seed=11, end_date=END, defects=True)
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture(scope="module")
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as inst:
        yield inst


@pytest.fixture(scope="module")
def first_run(defects_url: str, instance: DagsterInstance, tmp_path_factory):  # noqa: ANN001, ANN201
    data_dir = tmp_path_factory.mktemp("quality_run1")
    result = _run(defects_url, data_dir, instance)
    return result, data_dir


def test_every_injected_defect_is_found_with_its_exact_count(defects_url: str, first_run) -> None:  # noqa: ANN001
    result, _ = first_run
    assert {d.name for d in DEFECTS} == set(DEFECT_CHECKS)
    with psycopg.connect(defects_url) as conn:
        injected = conn.execute(
            "SELECT table_name, defect, affected_count, sample_keys FROM generator.injected_defects"
        ).fetchall()
    assert {r[1] for r in injected} == set(DEFECT_CHECKS)
    evaluations = _evaluations(result)
    assert set(evaluations) == set(CHECKS)
    for table, defect, count, sample_keys in injected:
        name = DEFECT_CHECKS[defect]
        evaluation = evaluations[name]
        assert CHECKS[name].table_name == table, defect
        assert not evaluation.passed, defect
        assert evaluation.metadata["affected_count"].value == count, defect
        found = set(evaluation.metadata["sample_keys"].value)
        assert set(sample_keys.split("; ")) <= found, defect
    failed = {n for n, e in evaluations.items() if not e.passed}
    assert failed == set(DEFECT_CHECKS.values()), "only the checks meant for the defects fail"


def test_dagster_records_each_check_execution_on_its_source_asset(
    instance: DagsterInstance,
    first_run,  # noqa: ANN001
) -> None:
    """What the UI shows per check: the full run's evaluation is stored as that check's execution."""
    result, _ = first_run
    keys = [AssetCheckKey(AssetKey(["retailmart", *c.table]), n) for n, c in CHECKS.items()]
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    assert set(latest) == set(keys)
    for key, record in latest.items():
        assert record.run_id == result.run_id
        expected = "FAILED" if key.name in DEFECT_CHECKS.values() else "SUCCEEDED"
        assert record.status.value == expected, key.name


def test_a_blocking_failure_stops_the_kpis_and_fails_the_run(first_run) -> None:  # noqa: ANN001
    result, data_dir = first_run
    assert not result.success
    failures = _failures(result)
    assert set(failures) == {"analytics__data_quality_gate"}
    message = failures["analytics__data_quality_gate"]
    assert f"{len(BLOCKING)} blocking checks failed" in message
    for name in BLOCKING:
        assert name in message
    for name in set(DEFECT_CHECKS.values()) - BLOCKING:
        assert name not in message  # warnings do not block
    materialized = _materialized(result)
    assert EVALUATION_KEY in materialized and GATE_KEY not in materialized
    analytics = {k.path[1] for k in materialized if k.path[0] == "analytics"}
    assert analytics - {EVALUATION_KEY.path[1]} <= QUALITY_OBJECTS, "a KPI object was built"
    assert {k for k in materialized if k.path[0] == "dashboard"} == {
        AssetKey(["dashboard", "quality"])
    }
    files = sorted(p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*.json"))
    assert files == ["quality.json"]


def test_issues_are_recorded_per_failing_check(defects_url: str, first_run) -> None:  # noqa: ANN001
    issues = _issues(defects_url)
    assert set(issues) == set(DEFECT_CHECKS.values())
    assert {v[1] for v in issues.values()} == {"open"}
    with psycopg.connect(defects_url) as conn:
        results = conn.execute(
            "SELECT count(*), count(DISTINCT check_name), min(reference_date), max(reference_date)"
            " FROM analytics.data_quality_results"
        ).fetchone()
        row = conn.execute(
            "SELECT dimension, severity, table_name, affected_count, sample_keys"
            " FROM analytics.data_quality_issues WHERE check_name = 'consistency_orphan_inventory'"
        ).fetchone()
    assert results == (len(CHECKS), len(CHECKS), END, END)
    assert row[:3] == ("consistency", "WARN", "products.inventory")
    assert row[3] == len(row[4]) and all(k.startswith("store_id=") for k in row[4])


def test_quality_json_has_its_documented_shape(defects_url: str, first_run) -> None:  # noqa: ANN001
    _, data_dir = first_run
    payload = json.loads((data_dir / "quality.json").read_text())
    assert set(payload) == {
        "referenceDate",
        "period",
        "summary",
        "byDimension",
        "byTable",
        "rows",
        "trend",
    }
    assert payload["referenceDate"] == END.isoformat()
    assert payload["period"] == {"from": END.isoformat(), "to": END.isoformat()}
    summary = payload["summary"]
    assert summary == {
        "checks": len(CHECKS),
        "passed": len(CHECKS) - len(DEFECT_CHECKS),
        "failed": len(DEFECT_CHECKS),
        "blockingFailed": len(BLOCKING),
        "warningsFailed": len(DEFECT_CHECKS) - len(BLOCKING),
        "affectedRows": summary["affectedRows"],
        "openIssues": len(DEFECT_CHECKS),
        "gate": "blocked",
    }
    rows = payload["rows"]
    assert [r["check"] for r in rows[: len(BLOCKING)]] == sorted(
        BLOCKING, key=lambda n: (CHECKS[n].dimension, n)
    )  # blocking failures first
    assert sum(r["affectedCount"] for r in rows if not r["passed"]) == summary["affectedRows"]
    for row in rows:
        assert set(row) == {
            "check",
            "dimension",
            "table",
            "severity",
            "passed",
            "blocking",
            "affectedCount",
            "totalRows",
            "failingRatePct",
            "thresholdPct",
            "sampleKeys",
            "details",
            "openSince",
        }
        assert len(row["sampleKeys"]) <= config_value("quality.sample_key_limit")
        assert (row["openSince"] is None) == row["passed"]
        if row["totalRows"]:
            exact = 100 * row["affectedCount"] / row["totalRows"]
            assert abs(row["failingRatePct"] - exact) <= 0.005 + 1e-9  # rounded to 2 decimals
    dims = {d["dimension"]: d for d in payload["byDimension"]}
    assert list(dims) == sorted(dims) == sorted({c.dimension for c in CHECKS.values()})
    for name, d in dims.items():
        members = [r for r in rows if r["dimension"] == name]
        assert d["checks"] == len(members)
        assert d["failed"] == sum(not r["passed"] for r in members)
        assert d["blockingFailed"] == sum(r["blocking"] for r in members)
        assert d["affectedRows"] == sum(r["affectedCount"] for r in members if not r["passed"])
    tables = {t["table"]: t for t in payload["byTable"]}
    assert sum(t["checks"] for t in tables.values()) == len(CHECKS)
    assert tables["sales.order_items"]["blockingFailed"] == 2
    assert [t["failed"] for t in payload["byTable"]] == sorted(
        (t["failed"] for t in payload["byTable"]), reverse=True
    )
    (point,) = payload["trend"]
    assert point["referenceDate"] == END.isoformat()
    assert point["failed"] == len(DEFECT_CHECKS) and point["blockingFailed"] == len(BLOCKING)
    # The file is the export function's output, which reads the report view.
    with psycopg.connect(defects_url) as conn:
        assert conn.execute("SELECT analytics.fn_export_quality()").fetchone()[0] == payload
        view = conn.execute(
            "SELECT check_name, affected_count FROM analytics.vw_data_quality_report"
        ).fetchall()
    assert {r[0]: r[1] for r in view} == {r["check"]: r["affectedCount"] for r in rows}


def test_source_changes_are_reported_for_the_freshness_policy(
    instance: DagsterInstance, first_run
) -> None:  # noqa: ANN001
    for name in config_value("quality.freshness_tables"):
        event = instance.get_latest_materialization_event(
            AssetKey(["retailmart", *name.split(".")])
        )
        assert event is not None, name
        metadata = event.asset_materialization.metadata
        assert metadata["fingerprint"].value.startswith(f"{metadata['dagster/row_count'].value}:")


def test_checks_only_job_records_and_fails_on_blocking_checks(
    defects_url: str,
    instance: DagsterInstance,
    first_run,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    before = _issues(defects_url)
    result = _run(defects_url, tmp_path, instance, job=DATA_QUALITY_JOB)
    assert not result.success
    failures = _failures(result)
    assert set(failures) == {"data_quality_checks"}
    for name in BLOCKING:
        assert name in failures["data_quality_checks"]
    evaluations = _evaluations(result)
    assert set(evaluations) == set(CHECKS)
    assert {n for n, e in evaluations.items() if not e.passed} == set(DEFECT_CHECKS.values())
    assert not _materialized(result)
    with psycopg.connect(defects_url) as conn:
        recorded = conn.execute(
            "SELECT count(*) FROM analytics.data_quality_results WHERE run_id = %s",
            (result.run_id,),
        ).fetchone()[0]
        # Incremental like the evaluation asset: nothing changed since the full refresh, so only
        # the part that reads the clock ran again; every other stored part was reused and kept.
        ran = conn.execute(
            "SELECT check_name || ':' || segment FROM analytics.data_quality_segments"
            " WHERE run_id = %s",
            (result.run_id,),
        ).fetchall()
        stored = conn.execute(
            "SELECT count(DISTINCT check_name) FROM analytics.data_quality_segments"
        ).fetchone()[0]
    assert recorded == len(CHECKS)
    assert {r[0] for r in ran} == {"timeliness_latest_order_lag:all"}
    assert stored == len(CHECKS)
    after = _issues(defects_url)
    assert {n: v[0] for n, v in after.items()} == {n: v[0] for n, v in before.items()}
    assert all(after[n][3] > before[n][3] for n in before)  # last_seen_at


def test_issues_resolve_and_warnings_do_not_block(
    defects_url: str,
    instance: DagsterInstance,
    first_run,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    before = _issues(defects_url)
    orders_key = AssetKey(["retailmart", "sales", "orders"])
    returns_key = AssetKey(["retailmart", "sales", "returns"])
    reported = {
        k: instance.get_latest_materialization_event(k).timestamp for k in (orders_key, returns_key)
    }
    with psycopg.connect(defects_url) as conn:
        for statement in REPAIR:
            conn.execute(statement)
    result = _run(defects_url, tmp_path, instance)
    assert result.success, _failures(result)
    evaluations = _evaluations(result)
    still = set(DEFECT_CHECKS.values()) - REPAIRED
    assert {n for n, e in evaluations.items() if not e.passed} == still
    assert all(SEVERITY[n] == "WARN" for n in still)
    materialized = _materialized(result)
    assert GATE_KEY in materialized
    kpis = {o.name for o in discover_sql_objects()} - QUALITY_OBJECTS
    assert {AssetKey(["analytics", n]) for n in kpis} <= materialized, "KPIs build despite warnings"
    assert (tmp_path / "manifest.json").exists() and (tmp_path / "sales").is_dir()
    after = _issues(defects_url)
    assert set(after) == set(before), "issues are never deleted"
    for name, (issue_id, status, detected, last_seen, resolved, _count) in after.items():
        assert issue_id == before[name][0] and detected == before[name][2]
        if name in REPAIRED:
            assert status == "resolved" and resolved is not None and last_seen == before[name][3]
        else:
            assert status == "open" and resolved is None and last_seen > before[name][3]
    payload = json.loads((tmp_path / "quality.json").read_text())
    assert payload["summary"]["gate"] == "pass"
    assert payload["summary"]["openIssues"] == len(still)
    # Freshness: the repaired orders changed (a new report of the source), the returns did not.
    assert instance.get_latest_materialization_event(orders_key).timestamp > reported[orders_key]
    assert instance.get_latest_materialization_event(returns_key).timestamp == reported[returns_key]


def test_dagster_asset_materialize_exits_non_zero_on_a_blocking_failure(
    pg_admin_url: str, tmp_path: Path
) -> None:
    url = create_database(pg_admin_url, "quality_cli")
    try:
        with psycopg.connect(url) as conn:
            generate(conn, scale=0.01, seed=2, end_date=END, defects=True)
        home = tmp_path / "dagster_home"
        home.mkdir()
        data_dir = tmp_path / "data"
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "RETAILMART_DATABASE_URL": url,
            "RETAILMART_DASHBOARD_DIR": str(data_dir),
            "RETAILMART_QUALITY_CLOCK": END.isoformat(),
        }
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "dagster"),
                "asset",
                "materialize",
                "--select",
                "*",
                "-m",
                "retailmart_dagster.definitions",
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        output = result.stdout + result.stderr
        assert result.returncode != 0, output[-3000:]
        assert "Data-quality gate" in output
        for name in BLOCKING:
            assert name in output
        with psycopg.connect(url) as conn:
            built = conn.execute("SELECT count(*) FROM analytics.data_quality_results").fetchone()[
                0
            ]
            kpi = conn.execute(
                "SELECT to_regclass('analytics.mv_daily_sales_summary'),"
                " to_regclass('analytics.fact_orders')"
            ).fetchone()
        assert built == len(CHECKS)
        assert kpi == (None, None), "a KPI object or fact was built on broken data"
        assert json.loads((data_dir / "quality.json").read_text())["summary"]["gate"] == "blocked"
        assert not (data_dir / "sales").exists()
    finally:
        drop_database(pg_admin_url, url)

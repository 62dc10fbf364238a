"""The check functions as plain functions (rates, verdicts, Dagster results, the gate's message) and
how the checks are wired into the Definitions — without a database."""

import datetime as dt
from datetime import timedelta

import pytest
from dagster import AssetCheckKey, AssetCheckSeverity, AssetKey, FreshnessPolicy

from retailmart_dagster.assets.sql_assets import load_sql_objects
from retailmart_dagster.assets.sql_parse import SqlFileError
from retailmart_dagster.checks.assets import (
    DATA_QUALITY_JOB,
    EVALUATION_KEY,
    GATE_KEY,
    QualityClockResource,
    quality_dependencies,
)
from retailmart_dagster.checks.evaluate import (
    CheckOutcome,
    GateEntry,
    check_passes,
    clock_value,
    failing_rate,
    gate_failures,
    gate_message,
    outcome_from_row,
    to_check_evaluation,
    to_check_result,
)
from retailmart_dagster.checks.registry import load_checks
from retailmart_dagster.config import ConfigError, config_value, config_values
from retailmart_dagster.definitions import FULL_REFRESH_JOB, build_definitions

CHECKS = {c.name: c for c in load_checks()}
ORPHANS = CHECKS["consistency_orphan_order_items"]
URL = "postgresql://u@127.0.0.1:1/none"


def _row(**overrides: object) -> dict:
    row = {
        "affected_count": 3,
        "total_rows": 1000,
        "threshold": 0,
        "severity": "ERROR",
        "sample_keys": ["order_item_id=4", "order_item_id=9", "order_item_id=12"],
    }
    row.update(overrides)
    return row


@pytest.mark.parametrize(
    ("affected", "total", "threshold", "passes"),
    [
        (0, 1000, 0.0, True),
        (1, 1000, 0.0, False),
        (0, 0, 0.0, True),
        (25, 1000, 0.05, True),  # 2.5 % tolerated
        (50, 1000, 0.05, True),  # exactly at the threshold
        (51, 1000, 0.05, False),
        (3, 0, 0.5, False),  # failing rows without a population never pass
    ],
)
def test_check_passes(affected: int, total: int, threshold: float, passes: bool) -> None:
    assert check_passes(affected, total, threshold) is passes


def test_failing_rate() -> None:
    assert failing_rate(3, 1000) == 0.003
    assert failing_rate(1, 3) == 0.333333
    assert failing_rate(0, 0) == 0.0


def test_outcome_and_check_result_carry_counts_rate_threshold_and_samples() -> None:
    outcome = outcome_from_row(ORPHANS, _row(details='{"x": 1}'))
    assert not outcome.passed and outcome.blocking_failure
    result = to_check_result(outcome, AssetKey(["retailmart", "sales", "order_items"]))
    assert result.check_name == "consistency_orphan_order_items"
    assert result.severity == AssetCheckSeverity.ERROR
    assert not result.passed
    meta = {k: getattr(v, "value", v) for k, v in result.metadata.items()}
    assert meta["affected_count"] == 3
    assert meta["total_rows"] == 1000
    assert meta["rate"] == 0.003
    assert meta["threshold"] == 0.0
    assert meta["sample_keys"] == ["order_item_id=4", "order_item_id=9", "order_item_id=12"]
    assert meta["details"] == {"x": 1}
    assert meta["dimension"] == "consistency" and meta["table"] == "sales.order_items"
    assert "consistency_orphan_order_items FAILED (ERROR): 3 of 1000" in result.description
    evaluation = to_check_evaluation(outcome, AssetKey(["retailmart", "sales", "order_items"]))
    assert evaluation.blocking is True and evaluation.passed is False


def test_a_warning_is_never_blocking() -> None:
    outcome = outcome_from_row(ORPHANS, _row(severity="WARN"))
    assert not outcome.passed and not outcome.blocking_failure
    result = to_check_result(outcome, AssetKey(["retailmart", "sales", "order_items"]))
    assert result.severity == AssetCheckSeverity.WARN
    passing = outcome_from_row(ORPHANS, _row(affected_count=0, sample_keys=[]))
    assert passing.passed and "passed" in to_check_result(passing, "x").description


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"affected_count": 1, "total_rows": 1, "threshold": 0, "severity": "WARN"}, "sample_keys"),
        (_row(severity="INFO"), "is not one of"),
        (_row(total_rows=None), "total_rows is NULL"),
        (_row(extra=1), "unexpected column"),
    ],
)
def test_a_bad_result_row_names_the_file(row: dict, message: str) -> None:
    with pytest.raises(SqlFileError, match=message) as err:
        outcome_from_row(ORPHANS, row)
    assert str(ORPHANS.path) in str(err.value)


def test_gate_names_every_blocking_failure_and_ignores_warnings() -> None:
    entries = [
        GateEntry("consistency_orphan_orders", "consistency", "ERROR", "sales.orders", False, 4),
        GateEntry("accuracy_refund_over_paid", "accuracy", "WARN", "sales.returns", False, 7),
        GateEntry(
            "accuracy_order_amount_not_positive", "accuracy", "ERROR", "sales.orders", True, 0
        ),
        GateEntry(
            "accuracy_order_item_quantity_not_positive",
            "accuracy",
            "ERROR",
            "sales.order_items",
            False,
            2,
            ("order_item_id=5", "order_item_id=8"),
        ),
    ]
    failures = gate_failures(entries)
    assert [f.check_name for f in failures] == [
        "accuracy_order_item_quantity_not_positive",
        "consistency_orphan_orders",
    ]
    message = gate_message(failures)
    assert "2 blocking checks failed" in message
    assert "consistency_orphan_orders (consistency, sales.orders): 4 rows" in message
    assert "order_item_id=5" in message
    assert "accuracy_refund_over_paid" not in message
    assert gate_failures([e for e in entries if e.severity == "WARN"]) == []


def test_quality_clock() -> None:
    assert QualityClockResource(clock="2025-10-01").now() == dt.datetime(2025, 10, 1, tzinfo=dt.UTC)
    fixed = QualityClockResource(clock="2025-10-01T23:30:00+05:30").now()
    assert clock_value(fixed) == "2025-10-01T18:00:00+00:00"
    now = QualityClockResource(clock=None).now()
    assert abs((now - dt.datetime.now(dt.UTC)).total_seconds()) < 60
    with pytest.raises(ConfigError, match="not an ISO date"):
        QualityClockResource(clock="yesterday").now()


def test_kpi_objects_wait_for_the_gate_and_the_report_for_the_evaluation() -> None:
    objects = load_sql_objects()
    deps = quality_dependencies(objects)
    for obj in objects:
        if obj.group == "setup":
            assert obj.name not in deps
        elif obj.group == "quality" or obj.name == "fn_export_quality":
            assert deps[obj.name] == {EVALUATION_KEY}
        else:
            assert deps[obj.name] == {GATE_KEY}, obj.name


def test_definitions_register_checks_gate_freshness_and_jobs() -> None:
    defs = build_definitions(database_url=URL)
    graph = defs.resolve_asset_graph()
    keys = set(graph.asset_check_keys)
    values = config_values()
    for check in CHECKS.values():
        key = AssetCheckKey(AssetKey(["retailmart", *check.table]), check.name)
        assert key in keys
        spec = graph.get_check_spec(key)
        assert spec.blocking is (values[check.severity_key] == "ERROR")
    specs = {s.key: s for s in defs.resolve_all_asset_specs()}
    # Every KPI asset (a SQL object outside setup and the quality report) depends on the gate.
    for obj in load_sql_objects():
        dep_keys = {d.asset_key for d in specs[AssetKey(["analytics", obj.name])].deps}
        if obj.group not in ("setup", "quality") and obj.name != "fn_export_quality":
            assert GATE_KEY in dep_keys, obj.name
        else:
            assert GATE_KEY not in dep_keys, obj.name
    assert {d.asset_key for d in specs[GATE_KEY].deps} == {EVALUATION_KEY}
    # The evaluation waits for the source tables' indexes (its checks' joins use them).
    evaluation_deps = {d.asset_key for d in specs[EVALUATION_KEY].deps}
    assert AssetKey(["analytics", "source_indexes"]) in evaluation_deps
    # FreshnessPolicy (1.13: FreshnessPolicy.time_window) on the configured source tables only.
    tracked = {tuple(t.split(".")) for t in config_value("quality.freshness_tables")}
    days = config_value("quality.source_max_lag_days")
    for key, spec in specs.items():
        if key.path[0] != "retailmart":
            continue
        if tuple(key.path[1:]) in tracked:
            assert spec.freshness_policy == FreshnessPolicy.time_window(
                fail_window=timedelta(days=days)
            )
        else:
            assert spec.freshness_policy is None
    # The full job runs the evaluation and the gate (not the separate check ops); the checks job
    # runs only the checks.
    full = {n.name for n in defs.resolve_job_def(FULL_REFRESH_JOB).graph.nodes}
    assert "analytics__data_quality_evaluation" in full and "analytics__data_quality_gate" in full
    assert not any(n.startswith("data_quality_") for n in full)
    quality_job = {n.name for n in defs.resolve_job_def(DATA_QUALITY_JOB).graph.nodes}
    assert quality_job == {"data_quality_checks"}  # one op: the sources fingerprinted once


def test_outcome_is_plain_data() -> None:
    outcome = CheckOutcome(
        check=ORPHANS,
        severity="WARN",
        affected_count=2,
        total_rows=8,
        threshold=0.25,
        sample_keys=("a", "b"),
    )
    assert outcome.rate == 0.25 and outcome.passed and not outcome.blocking

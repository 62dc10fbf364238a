"""Business alerts and automation as definitions: the alert views are assets with complete lineage,
the history sync runs between the views and alerts.json, the jobs select what they should, the
schedule reads its configuration, and notification messages are bounded — without a database."""

import re
from pathlib import Path

import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetKey,
    DagsterInstance,
    build_sensor_context,
)

from retailmart_dagster.assets.alerts import (
    ALERT_SYNC_KEY,
    SYNC_SQL,
    sync_dependencies,
    sync_statements,
)
from retailmart_dagster.assets.sql_assets import load_sql_objects
from retailmart_dagster.assets.sql_parse import SQL_DIR
from retailmart_dagster.automation.jobs import ALERTS_JOB, DOMAINS, domain_job_name
from retailmart_dagster.automation.schedules import build_daily_schedule, daily_settings
from retailmart_dagster.automation.sensors import (
    business_alert_message,
    check_failure_message,
)
from retailmart_dagster.config import CONFIG_ENV, ConfigError, config_path, config_values
from retailmart_dagster.definitions import FULL_REFRESH_JOB, build_definitions
from retailmart_dagster.resources.notifier import NotifierResource

ALERT_DIR = SQL_DIR / "alerts"
ALERT_VIEWS = sorted(p.stem for p in ALERT_DIR.glob("vw_alert_*.sql"))
EXPORT = SQL_DIR / "exports" / "fn_export_alerts.sql"
TYPE_LITERAL = re.compile(r"'([a-z_]+)'::text AS alert_type")


@pytest.fixture(scope="module")
def defs():  # noqa: ANN201
    return build_definitions(database_url="postgresql://u@127.0.0.1:1/none")


@pytest.fixture(scope="module")
def specs(defs) -> dict:  # noqa: ANN001
    return {s.key: s for s in defs.resolve_all_asset_specs()}


def test_six_alert_views_are_assets(specs: dict) -> None:
    assert len(ALERT_VIEWS) == 6
    types = set()
    for name in [*ALERT_VIEWS, "vw_alerts"]:
        spec = specs[AssetKey(["analytics", name])]
        assert spec.group_name == "alerts"
        assert spec.metadata["sql_path"] == f"retailmart_dagster/sql/alerts/{name}.sql"
        sql = (ALERT_DIR / f"{name}.sql").read_text()
        for field in ("-- Question:", "-- Owner:", "-- Refresh:"):
            assert field in sql, f"{name}: header needs {field}"
        assert not re.search(r"\b(now\(\)|current_date|current_timestamp)", sql.lower()), name
        if name != "vw_alerts":
            [alert_type] = TYPE_LITERAL.findall(sql)
            types.add(alert_type)
            # The data gate: alerts are built only on data that passed the ERROR checks.
            assert AssetKey(["analytics", "data_quality_gate"]) in {d.asset_key for d in spec.deps}
    # The export lists exactly these types (its byType block and its ordering).
    assert set(re.findall(r"\('([a-z_]+)', \d+\)", EXPORT.read_text())) == types


def test_vw_alerts_stacks_every_alert_view() -> None:
    objects = {o.name: o for o in load_sql_objects()}
    refs = {name for schema, name in objects["vw_alerts"].references if schema == "analytics"}
    assert refs == set(ALERT_VIEWS)


def test_alerts_reuse_domain_objects() -> None:
    objects = {o.name: o for o in load_sql_objects()}

    def reads(name: str) -> set[str]:
        return {f"{s}.{n}" for s, n in objects[name].references}

    assert "analytics.mv_top_products" in reads("vw_alert_critical_inventory")
    assert "analytics.mv_churn_risk" in reads("vw_alert_high_value_churn")
    assert "analytics.mv_daily_sales_summary" in reads("vw_alert_revenue_anomaly")
    assert "analytics.mv_pending_shipments" in reads("vw_alert_shipment_delay")
    assert "analytics.mv_return_analysis" in reads("vw_alert_return_rate")
    # Churn windows are the Customers domain's keys, not copies.
    keys = config_values()
    assert not any(k.startswith("alerts.") and "churn" in k for k in keys)


def test_history_sync_lineage(specs: dict, defs) -> None:  # noqa: ANN001
    deps = set(sync_dependencies(load_sql_objects()))
    assert {
        AssetKey(["analytics", "vw_alerts"]),
        AssetKey(["analytics", "alert_history"]),
        AssetKey(["analytics", "fn_reference_date"]),
    } <= deps
    sync = specs[ALERT_SYNC_KEY]
    assert sync.group_name == "alerts" and {d.asset_key for d in sync.deps} == deps
    # alerts.json is written after the sync, from the function, and is in the manifest.
    export_fn = specs[AssetKey(["analytics", "fn_export_alerts"])]
    assert ALERT_SYNC_KEY in {d.asset_key for d in export_fn.deps}
    export = specs[AssetKey(["dashboard", "alerts"])]
    assert AssetKey(["analytics", "fn_export_alerts"]) in {d.asset_key for d in export.deps}
    assert AssetKey(["dashboard", "alerts"]) in {
        d.asset_key for d in specs[AssetKey(["dashboard", "manifest"])].deps
    }
    # The quality gate's extra dependencies were kept when the alert dependency was added.
    assert AssetKey(["analytics", "data_quality_gate"]) in {d.asset_key for d in export_fn.deps}
    statements = sync_statements()
    assert len(statements) == 2 and "pg_advisory_xact_lock" in statements[0]
    assert SYNC_SQL.parent.name == "sql" and SYNC_SQL.parent.parent.name == "automation"


def test_alert_history_setup_is_idempotent() -> None:
    sql = (SQL_DIR / "setup" / "alert_history.sql").read_text()
    assert "CREATE TABLE IF NOT EXISTS analytics.alert_history" in sql
    assert "WHERE state = 'open'" in sql  # one open row per alert
    # The parser refuses DROP / TRUNCATE and CREATE without IF NOT EXISTS in setup files.
    alert_history = {o.name: o for o in load_sql_objects()}["alert_history"]
    assert alert_history.kind == "table" and alert_history.group == "setup"


def test_refresh_jobs_select_domain_exports_and_upstream(defs) -> None:  # noqa: ANN001
    for domain in DOMAINS:
        job = defs.resolve_job_def(domain_job_name(domain))
        keys = job.asset_layer.executable_asset_keys
        groups = {defs.resolve_assets_def(k).specs_by_key[k].group_name for k in keys}
        exports = {k for k in keys if k.path[0] == "dashboard" and k.path[-1] != "manifest"}
        assert exports and all(k.path[1] == domain for k in exports), domain
        assert domain in groups and "setup" in groups and "quality" in groups
        assert AssetKey(["analytics", "data_quality_gate"]) in keys
        assert AssetKey(["dashboard", "manifest"]) in keys
        assert "alerts" not in groups and "retailmart_source" not in groups
    alerts = defs.resolve_job_def(ALERTS_JOB).asset_layer.executable_asset_keys
    assert {ALERT_SYNC_KEY, AssetKey(["dashboard", "alerts"])} <= alerts
    assert AssetKey(["analytics", "mv_top_products"]) in alerts
    assert not any(k.path[:2] == ["dashboard", "sales"] for k in alerts)
    full = defs.resolve_job_def(FULL_REFRESH_JOB).asset_layer.executable_asset_keys
    assert alerts <= full


def test_schedule_settings_come_from_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = config_values()
    assert daily_settings() == (
        values["automation.daily_refresh_cron"],
        values["automation.timezone"],
    )
    text = config_path().read_text()
    bad_zone = tmp_path / "zone.toml"
    bad_zone.write_text(text.replace('"Asia/Kolkata"', '"Mars/Olympus_Mons"'))
    monkeypatch.setenv(CONFIG_ENV, str(bad_zone))
    with pytest.raises(ConfigError, match="automation.timezone"):
        daily_settings()
    bad_cron = tmp_path / "cron.toml"
    bad_cron.write_text(text.replace('"0 6 * * *"', '"every morning"'))
    monkeypatch.setenv(CONFIG_ENV, str(bad_cron))
    with pytest.raises(ConfigError, match="automation.daily_refresh_cron"):
        build_daily_schedule(FULL_REFRESH_JOB)


def test_messages_are_bounded() -> None:
    limit = config_values()["notifications.max_items_listed"]
    evaluations = [
        AssetCheckEvaluation(
            asset_key=AssetKey(["retailmart", "sales", "orders"]),
            check_name=f"check_{i:02d}",
            passed=False,
            severity=AssetCheckSeverity.ERROR if i == 7 else AssetCheckSeverity.WARN,
            description=f"check_{i:02d} failed: {i} rows\nsecond line",
        )
        for i in range(limit + 5)
    ]
    note = check_failure_message("run-1", "full_refresh_job", evaluations)
    assert note.title == f"{limit + 5} data-quality checks failed (1 ERROR, {limit + 4} WARN)"
    assert note.severity == "error" and note.kind == "check_failure"
    lines = note.text.splitlines()
    assert lines[0] == "Run run-1 of full_refresh_job:"
    assert lines[1].startswith("- [ERROR] check_07 on retailmart/sales/orders")
    assert lines[-1] == "… and 5 more failed checks" and len(lines) == limit + 2
    assert len(note.details["checks"]) == limit + 5

    alerts = [
        {
            "alert_id": i,
            "alert_type": "shipment_delay" if i % 2 else "high_value_churn",
            "severity": "critical" if i % 3 == 0 else "warning",
            "title": f"Alert {i}",
            "detail": "detail",
        }
        for i in range(1, limit + 3)
    ]
    note = business_alert_message(alerts)
    critical = sum(1 for a in alerts if a["severity"] == "critical")
    assert note.title == (
        f"{len(alerts)} new business alerts ({critical} critical, {len(alerts) - critical} warning)"
    )
    assert note.severity == "critical" and note.text.splitlines()[0].startswith("- [critical]")
    assert note.text.splitlines()[-1] == "… and 2 more new alerts (see alerts.json)"


def test_check_failure_sensor_explains_a_run_sharded_instance(tmp_path: Path, defs) -> None:  # noqa: ANN001
    sensor = defs.resolve_sensor_def("asset_check_failure_sensor")
    with (
        DagsterInstance.local_temp(str(tmp_path)) as instance,
        build_sensor_context(
            instance=instance,
            resources={"notifier": NotifierResource(log_path=str(tmp_path / "n.log"))},
        ) as context,
    ):
        data = sensor.evaluate_tick(context)
    assert "per-run SQLite shards" in data.skip_message and data.cursor is None

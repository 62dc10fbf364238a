"""The whole asset graph through a real Dagster run on generated data: every asset materializes
with its metadata, exports are written and deterministic, re-running is safe and keeps history."""

import hashlib
import json
import re
from pathlib import Path

import psycopg
import pytest
from dagster import AssetKey

from retailmart_dagster.assets.sql_parse import SQL_DIR, discover_sql_objects
from tests.conftest import KPI_END_DATE, materialize_all

pytestmark = pytest.mark.integration

RELATION_KINDS = {"table", "view", "materialized_view"}


def _materializations(result) -> dict[AssetKey, dict]:  # noqa: ANN001
    out = {}
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            mat = event.event_specific_data.materialization
            out[mat.asset_key] = mat.metadata
    return out


def test_every_asset_materialized_with_metadata(kpi_run) -> None:  # noqa: ANN001
    mats = _materializations(kpi_run)
    for obj in discover_sql_objects(SQL_DIR):
        meta = mats[AssetKey(["analytics", obj.name])]
        assert meta["action"].value in {
            "create",
            "apply",
            "recreate",
            "swap",
            "refresh_concurrently",
            "incremental_load",
            "unchanged",
        }
        assert "duration_ms" in meta
        # The SQL text is definition metadata (the same for every materialization), not repeated
        # in each run's events.
        assert "sql" not in meta
        if obj.kind in RELATION_KINDS:
            assert meta["dagster/row_count"].value >= 0
            assert meta["dagster/column_schema"].schema.columns, obj.name


def test_reference_date_is_the_latest_order_date(kpi_conn: psycopg.Connection) -> None:
    assert kpi_conn.execute("SELECT analytics.fn_reference_date()").fetchone() == (KPI_END_DATE,)


def test_kpi_metadata_documents_every_object(kpi_conn: psycopg.Connection) -> None:
    rows = {
        r[0]: r[1:]
        for r in kpi_conn.execute(
            "SELECT object_name, description, source_tables, last_refreshed_at, last_row_count,"
            " object_kind FROM analytics.kpi_metadata"
        )
    }
    for obj in discover_sql_objects(SQL_DIR):
        assert obj.name in rows, f"{obj.name} missing in analytics.kpi_metadata"
        description, sources, refreshed, row_count, kind = rows[obj.name]
        assert description, f"{obj.name} has no description"
        assert refreshed is not None, f"{obj.name} never refreshed"
        if kind in RELATION_KINDS:
            assert row_count is not None
    # Lineage reaches through other analytics objects to the source tables.
    assert "sales.orders" in rows["vw_sales_recent_trend"][1]
    kpis = kpi_conn.execute(
        "SELECT count(*) FROM analytics.kpi_metadata k, jsonb_array_elements(k.kpis)"
        " WHERE k.domain = 'sales'"
    ).fetchone()[0]
    assert kpis >= 10


def test_config_loaded_from_the_versioned_file(kpi_conn: psycopg.Connection) -> None:
    from retailmart_dagster.config import config_values

    for key, value in config_values().items():
        row = kpi_conn.execute(
            "SELECT value FROM analytics.config WHERE key = %s", (key,)
        ).fetchone()
        assert row is not None and row[0] == value, key
    with pytest.raises(psycopg.errors.RaiseException, match="no key"):
        kpi_conn.execute("SELECT analytics.fn_config_int('sales.no_such_key')")


def test_exports_written_with_manifest(kpi_run, kpi_dashboard_dir: Path) -> None:  # noqa: ANN001
    manifest = json.loads((kpi_dashboard_dir / "manifest.json").read_text())
    assert manifest["referenceDate"] == KPI_END_DATE.isoformat()
    exports = sorted((SQL_DIR / "exports").glob("fn_export_sales_*.sql"))
    assert exports
    for path in exports:
        name = path.stem[len("fn_export_sales_") :]
        target = kpi_dashboard_dir / "sales" / f"{name}.json"
        data = target.read_bytes()
        payload = json.loads(data)
        assert isinstance(payload, dict)
        entry = manifest["files"][f"sales/{name}.json"]
        assert entry["bytes"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()


def _snapshot(conn: psycopg.Connection) -> dict[str, str]:
    out = {}
    for obj in discover_sql_objects(SQL_DIR):
        if obj.kind in {"view", "materialized_view"}:
            row = conn.execute(
                f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {obj.qualified_name} t"
            ).fetchone()
            out[obj.name] = row[0]
    return out


def test_rerun_is_idempotent_and_keeps_history(
    kpi_db_url: str, kpi_dashboard_dir: Path, tmp_path: Path
) -> None:
    with psycopg.connect(kpi_db_url, autocommit=True) as conn:
        before = _snapshot(conn)
        log_before = conn.execute("SELECT count(*) FROM analytics.execution_log").fetchone()[0]
    files_before = {
        p.relative_to(kpi_dashboard_dir): p.read_bytes()
        for p in kpi_dashboard_dir.rglob("*.json")
        if p.name != "manifest.json"
    }
    second_dir = tmp_path / "data"
    result = materialize_all(kpi_db_url, second_dir)
    assert result.success
    with psycopg.connect(kpi_db_url, autocommit=True) as conn:
        assert _snapshot(conn) == before
        log_after = conn.execute("SELECT count(*) FROM analytics.execution_log").fetchone()[0]
        methods = {
            r[0]
            for r in conn.execute(
                "SELECT method FROM analytics.refresh_history WHERE run_id = %s", (result.run_id,)
            )
        }
    assert log_after >= log_before + len(discover_sql_objects(SQL_DIR))
    # Re-run on the same data: MVs are rebuilt beside the old version and swapped in (readers are
    # never blocked), fact tables reload only their last days.
    assert methods == {"swap", "incremental_load"}
    for rel, data in files_before.items():
        again = (second_dir / rel).read_bytes()
        if b'"generatedAt"' in data:  # byte-identical apart from the timestamp
            stamp = re.compile(rb'"generatedAt":"[^"]*"')
            data, again = stamp.sub(b"", data), stamp.sub(b"", again)
        assert again == data, f"{rel} differs between two runs"


def test_setup_objects_share_one_step_in_dependency_order_and_subset(
    new_database, tmp_path: Path
) -> None:  # noqa: ANN001
    """The setup objects are built by one step (analytics__setup), each with its own
    materialization, in dependency order; selecting some of them builds only those."""
    from retailmart_dagster.assets.builder import topological_order
    from retailmart_dagster.assets.sql_assets import SETUP_STEP, load_sql_objects
    from retailmart_dagster.definitions import FULL_REFRESH_JOB, build_definitions
    from retailmart_dagster.generate import generate

    url = new_database("setup")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.01, seed=3, end_date=KPI_END_DATE)
    defs = build_definitions(database_url=url, dashboard_dir=str(tmp_path))
    job = defs.resolve_job_def(FULL_REFRESH_JOB)
    wanted = [AssetKey(["analytics", "schema_analytics"]), AssetKey(["analytics", "config"])]
    result = job.execute_in_process(asset_selection=wanted, raise_on_error=False)
    assert result.success
    steps = {e.step_key for e in result.all_events if e.is_step_success}
    assert steps == {SETUP_STEP}
    assert list(_materializations(result)) == wanted
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM analytics.config").fetchone()[0] > 0
        # not selected, not built
        assert conn.execute("SELECT to_regclass('analytics.alert_history')").fetchone()[0] is None

    setup = [o for o in load_sql_objects() if o.group == "setup"]
    keys = [AssetKey(["analytics", o.name]) for o in setup]
    result = job.execute_in_process(asset_selection=keys, raise_on_error=False)
    assert result.success
    built = list(_materializations(result))
    assert built == [AssetKey(["analytics", o.name]) for o in topological_order(setup)]
    assert {e.step_key for e in result.all_events if e.is_step_success} == {SETUP_STEP}

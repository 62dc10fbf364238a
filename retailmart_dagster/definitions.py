"""The one ``Definitions`` object of RetailMart on Dagster.

Loaded lazily (``@definitions``): building it parses the SQL files but never touches the database.
"""

from __future__ import annotations

import os

from dagster import (
    AssetSelection,
    Definitions,
    EnvVar,
    define_asset_job,
    definitions,
)

from retailmart_dagster.assets.alerts import build_alert_sync_asset, with_alert_deps
from retailmart_dagster.assets.exports import build_manifest
from retailmart_dagster.assets.fact_vacuum import build_fact_vacuum_asset
from retailmart_dagster.assets.sql_assets import build_sql_assets, load_sql_objects, source_specs
from retailmart_dagster.automation import build_automation
from retailmart_dagster.checks.assets import (
    QualityClockResource,
    build_quality,
    with_freshness_policies,
)
from retailmart_dagster.config import ConfigError, config_value
from retailmart_dagster.executor import retailmart_executor
from retailmart_dagster.resources.dashboard import DashboardResource
from retailmart_dagster.resources.notifier import NotifierResource, notifier_from_env
from retailmart_dagster.resources.postgres import DATABASE_URL_ENV, PostgresResource

FULL_REFRESH_JOB = "full_refresh_job"


def _session_settings() -> dict[str, int]:
    """The run's connection settings from the configuration file ([runtime])."""
    workers = int(config_value("runtime.parallel_workers_per_step"))
    if workers < -1:
        raise ConfigError(
            f"runtime.parallel_workers_per_step = {workers}: expected -1 (the server's setting)"
            " or a number of workers >= 0"
        )
    return {
        "statement_timeout_ms": int(config_value("runtime.statement_timeout_ms")),
        "parallel_workers_per_step": workers,
    }


def postgres_resource() -> PostgresResource:
    """RETAILMART_DATABASE_URL through EnvVar (never shown in the UI); else the embedded server."""
    if os.environ.get(DATABASE_URL_ENV):
        return PostgresResource(database_url=EnvVar(DATABASE_URL_ENV), **_session_settings())
    return PostgresResource(**_session_settings())


def build_definitions(
    database_url: str | None = None,
    dashboard_dir: str | None = None,
    quality_clock: str | None = None,
    notifier: NotifierResource | None = None,
) -> Definitions:
    """All definitions; tests and scripts may pin the database URL, the dashboard folder and the
    clock of the one wall-clock data-quality check (ISO date; default $RETAILMART_QUALITY_CLOCK, else
    now) and the notifier (default: configured by the environment, see resources/notifier.py)."""
    objects = load_sql_objects()
    quality = build_quality(objects)
    postgres = (
        PostgresResource(database_url=database_url, **_session_settings())
        if database_url
        else postgres_resource()
    )
    dashboard = DashboardResource(data_dir=dashboard_dir) if dashboard_dir else DashboardResource()
    automation = build_automation(FULL_REFRESH_JOB)
    full_refresh = define_asset_job(
        FULL_REFRESH_JOB,
        selection=AssetSelection.all() - AssetSelection.groups("retailmart_source"),
        description="Setup, every KPI object, checks and the dashboard JSON: the main job.",
    )
    return Definitions(
        assets=[
            *with_freshness_policies(source_specs()),
            *build_sql_assets(
                objects, extra_deps=with_alert_deps(quality.extra_deps), retire_removed=True
            ),
            build_manifest(objects),
            *quality.assets,
            build_alert_sync_asset(objects),
            build_fact_vacuum_asset(objects),
        ],
        asset_checks=quality.asset_checks,
        jobs=[full_refresh, *quality.jobs, *automation.jobs],
        schedules=automation.schedules,
        sensors=automation.sensors,
        resources={
            "postgres": postgres,
            "dashboard": dashboard,
            "quality_clock": QualityClockResource(clock=quality_clock)
            if quality_clock
            else QualityClockResource(),
            "notifier": notifier or notifier_from_env(),
        },
        executor=retailmart_executor,
    )


@definitions
def defs() -> Definitions:
    return build_definitions()

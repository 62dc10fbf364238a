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
    in_process_executor,
)

from retailmart_dagster.assets.exports import build_export_assets
from retailmart_dagster.assets.sql_assets import build_sql_assets, load_sql_objects, source_specs
from retailmart_dagster.config import config_value
from retailmart_dagster.resources.dashboard import DashboardResource
from retailmart_dagster.resources.postgres import DATABASE_URL_ENV, PostgresResource

FULL_REFRESH_JOB = "full_refresh_job"


def postgres_resource() -> PostgresResource:
    """RETAILMART_DATABASE_URL through EnvVar (never shown in the UI); else the embedded server."""
    timeout = int(config_value("runtime.statement_timeout_ms"))
    if os.environ.get(DATABASE_URL_ENV):
        return PostgresResource(database_url=EnvVar(DATABASE_URL_ENV), statement_timeout_ms=timeout)
    return PostgresResource(statement_timeout_ms=timeout)


def build_definitions(
    database_url: str | None = None, dashboard_dir: str | None = None
) -> Definitions:
    """All definitions; tests and scripts may pin the database URL and the dashboard folder."""
    objects = load_sql_objects()
    postgres = (
        PostgresResource(
            database_url=database_url,
            statement_timeout_ms=int(config_value("runtime.statement_timeout_ms")),
        )
        if database_url
        else postgres_resource()
    )
    dashboard = DashboardResource(data_dir=dashboard_dir) if dashboard_dir else DashboardResource()
    full_refresh = define_asset_job(
        FULL_REFRESH_JOB,
        selection=AssetSelection.all() - AssetSelection.groups("retailmart_source"),
        description="Setup, every KPI object, checks and the dashboard JSON: the main job.",
    )
    return Definitions(
        assets=[*source_specs(), *build_sql_assets(objects), *build_export_assets(objects)],
        jobs=[full_refresh],
        resources={"postgres": postgres, "dashboard": dashboard},
        executor=in_process_executor,
    )


@definitions
def defs() -> Definitions:
    return build_definitions()

"""Automation: partial-refresh jobs, the daily schedule and the sensors (see each module).

``build_automation()`` returns what the Definitions add; nothing here touches a database at import.
"""

from dataclasses import dataclass

from dagster import ScheduleDefinition, SensorDefinition
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from retailmart_dagster.automation.jobs import refresh_jobs
from retailmart_dagster.automation.schedules import build_daily_schedule
from retailmart_dagster.automation.sensors import (
    build_business_alert_sensor,
    build_check_failure_sensor,
    build_new_data_sensor,
    build_run_failure_sensor,
)


@dataclass(frozen=True)
class Automation:
    jobs: list[UnresolvedAssetJobDefinition]
    schedules: list[ScheduleDefinition]
    sensors: list[SensorDefinition]


def build_automation(full_refresh_job: str) -> Automation:
    """Jobs, schedules and sensors; the daily schedule and the new-data sensor run the full refresh."""
    return Automation(
        jobs=refresh_jobs(),
        schedules=[build_daily_schedule(full_refresh_job)],
        sensors=[
            build_new_data_sensor(full_refresh_job),
            build_check_failure_sensor(),
            build_business_alert_sensor(),
            build_run_failure_sensor(),
        ],
    )

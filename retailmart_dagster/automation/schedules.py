"""The daily schedule: the whole graph and the dashboard JSON, at the configured time and zone.

Cron and time zone are configuration (``automation.daily_refresh_cron``, ``automation.timezone`` in
analytics.toml); the schedule is RUNNING by default, so it fires as soon as the daemon runs.
"""

import zoneinfo

from dagster import (
    DagsterInvalidDefinitionError,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    schedule,
)

from retailmart_dagster.config import ConfigError, config_value

DAILY_SCHEDULE = "daily_refresh_schedule"


def daily_settings() -> tuple[str, str]:
    """(cron, time zone) of the daily refresh; an unknown time zone is an error naming the key."""
    cron = str(config_value("automation.daily_refresh_cron"))
    timezone = str(config_value("automation.timezone"))
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"analytics.toml: automation.timezone = {timezone!r} is not an IANA time zone "
            "(e.g. Asia/Kolkata)"
        ) from exc
    return cron, timezone


def _daily(context: ScheduleEvaluationContext) -> RunRequest:
    """One run per scheduled day (run_key = the day: a tick evaluated twice runs once)."""
    scheduled = context.scheduled_execution_time
    day = scheduled.date().isoformat() if scheduled else "manual"
    return RunRequest(
        run_key=f"daily-{day}",
        tags={"retailmart/trigger": DAILY_SCHEDULE, "retailmart/scheduled_date": day},
    )


def build_daily_schedule(job_name: str) -> ScheduleDefinition:
    cron, timezone = daily_settings()
    try:
        return schedule(
            name=DAILY_SCHEDULE,
            job_name=job_name,
            cron_schedule=cron,
            execution_timezone=timezone,
            default_status=DefaultScheduleStatus.RUNNING,
            description=f"Daily full refresh ({cron}, {timezone}): setup, data-quality gate, every "
            "KPI object, the business alerts and the dashboard JSON.",
        )(_daily)
    except DagsterInvalidDefinitionError as exc:
        raise ConfigError(
            f"analytics.toml: automation.daily_refresh_cron = {cron!r} is not a valid cron "
            f"string ({exc})"
        ) from exc

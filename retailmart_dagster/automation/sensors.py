"""Sensors: new source data, failed data-quality checks, newly opened business alerts, failed runs.

- ``new_source_data_sensor`` runs a cheap watermark query on the source (latest order date, row
  counts of the sales facts, latest inventory count; ``automation/sql/source_watermark.sql``) and
  requests a full refresh once per change (``run_key`` = the change), skipping with a reason otherwise.
  Its first tick records the watermark (the daily schedule covers what was there before).
- ``asset_check_failure_sensor``: Dagster open source sends nothing for failed checks (run-failure
  sensors only see blocking ERROR checks that fail a run), so this sensor reads the
  ASSET_CHECK_EVALUATION events of the instance after its cursor (an event storage id) and notifies
  each failed evaluation (WARN and ERROR) once, one message per run. Its first tick starts from now:
  history is not replayed.
- ``business_alert_sensor`` notifies the alerts that ``analytics.alert_history`` opened since its cursor
  (an alert_id); alerts that were already open on its first tick are not announced.
- ``run_failure_notification_sensor`` notifies every failed run of this code location.

Notifications go through ``NotifierResource``, which never raises: an undeliverable message is logged
and the sensor moves its cursor on, so the next one is delivered normally.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from dagster import (
    AssetCheckEvaluation,
    DagsterEventType,
    DefaultSensorStatus,
    EventRecordsFilter,
    RunFailureSensorContext,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from retailmart_dagster.config import config_value
from retailmart_dagster.resources.notifier import (
    Notification,
    NotifierResource,
    redact_urls,
    summarize,
)
from retailmart_dagster.resources.postgres import (
    DatabaseUnreachableError,
    PostgresResource,
    connect,
)

SQL_DIR = Path(__file__).resolve().parent / "sql"
NEW_DATA_SENSOR = "new_source_data_sensor"
CHECK_FAILURE_SENSOR = "asset_check_failure_sensor"
BUSINESS_ALERT_SENSOR = "business_alert_sensor"
RUN_FAILURE_SENSOR = "run_failure_notification_sensor"
NEW_ALERTS_PER_TICK = 5000
STEP_ERROR_LINES = 12  # lines of a failed step's error quoted in a run-failure message
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


def _sql(name: str) -> str:
    return (SQL_DIR / name).read_text(encoding="utf-8")


def notification_interval() -> int:
    return int(config_value("automation.notification_interval_seconds"))


def max_items_listed() -> int:
    return int(config_value("notifications.max_items_listed"))


def _int_cursor(cursor: str | None) -> int | None:
    """A storage id / alert id cursor; None when unset or unreadable (the sensor starts afresh)."""
    try:
        return int(cursor) if cursor else None
    except ValueError:
        return None


def _db_problem(exc: Exception, postgres: PostgresResource) -> str:
    """A short reason for a skipped tick, without secrets."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    try:
        url = postgres.url()
        text = text.replace(url, postgres.masked_url())
    except Exception:  # noqa: BLE001 - the URL itself may be what failed
        pass
    return redact_urls(text)


# ------------------------------------------------------------------------- new source data
@dataclass(frozen=True)
class Watermark:
    values: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        canonical = json.dumps(self.values, sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def describe(self) -> str:
        v = self.values
        return (
            f"latest order {v.get('latest_order_date')}, {v.get('orders')} orders, "
            f"{v.get('order_items')} order lines, {v.get('payments')} payments, "
            f"{v.get('shipments')} shipments, {v.get('returns')} returns"
        )


def read_watermark(postgres: PostgresResource) -> Watermark:
    """The source watermark (one cheap query, read only)."""
    with connect(postgres.url(), autocommit=True) as conn:
        cur = conn.execute(_sql("source_watermark.sql"))
        row = cur.fetchone()
        names = [d.name for d in cur.description or ()]
    values = {
        n: (v.isoformat() if isinstance(v, dt.date) else v)
        for n, v in zip(names, row or (), strict=False)
    }
    return Watermark(values)


def new_data_evaluation(
    context: SensorEvaluationContext, postgres: PostgresResource
) -> SensorResult | SkipReason:
    try:
        mark = read_watermark(postgres)
    except (DatabaseUnreachableError, psycopg.Error) as exc:
        return SkipReason(f"Source database not readable: {_db_problem(exc, postgres)}")
    try:
        previous = json.loads(context.cursor) if context.cursor else None
    except ValueError:
        previous = None  # an unreadable cursor: start afresh
    if previous is not None and not isinstance(previous, dict):
        previous = None
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    cursor = json.dumps({"fingerprint": mark.fingerprint, "watermark": mark.values, "seen_at": now})
    if previous is None:
        context.update_cursor(cursor)
        return SkipReason(
            f"First tick: source watermark recorded ({mark.describe()}); a refresh is requested "
            "when it changes."
        )
    if previous.get("fingerprint") == mark.fingerprint:
        return SkipReason(
            f"No new source data since {previous.get('seen_at')} ({mark.describe()})."
        )
    change = hashlib.sha256(
        f"{previous.get('fingerprint')}->{mark.fingerprint}".encode()
    ).hexdigest()[:16]
    request = RunRequest(
        run_key=f"source-change-{change}",
        tags={
            "retailmart/trigger": NEW_DATA_SENSOR,
            "retailmart/watermark": mark.fingerprint,
            "retailmart/latest_order_date": str(mark.values.get("latest_order_date")),
        },
    )
    context.log.info(f"New source data: {mark.describe()} (was {previous.get('watermark')})")
    return SensorResult(run_requests=[request], cursor=cursor)


def build_new_data_sensor(job_name: str) -> SensorDefinition:
    @sensor(
        name=NEW_DATA_SENSOR,
        job_name=job_name,
        minimum_interval_seconds=int(config_value("automation.new_data_interval_seconds")),
        default_status=DefaultSensorStatus.RUNNING,
        description="Requests a full refresh when the source data changes (latest order date or "
        "row counts of the sales facts, latest inventory count), once per change.",
    )
    def _new_data(context: SensorEvaluationContext, postgres: PostgresResource):  # noqa: ANN202
        return new_data_evaluation(context, postgres)

    return _new_data


# ---------------------------------------------------------------------- failed check evaluations
def _check_records(context: SensorEvaluationContext, after: int | None, limit: int) -> list[Any]:
    storage = context.instance.event_log_storage
    records_filter = EventRecordsFilter(
        event_type=DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after
    )
    return list(storage.get_event_records(records_filter, limit=limit, ascending=after is not None))


def _evaluation(record: Any) -> AssetCheckEvaluation | None:
    event = record.event_log_entry.dagster_event
    data = event.event_specific_data if event else None
    return data if isinstance(data, AssetCheckEvaluation) else None


def check_failure_message(
    run_id: str, job_name: str | None, failures: Sequence[Any]
) -> Notification:
    """One message for the failed evaluations of one run (ERROR first, then by check)."""
    items = sorted(
        failures,
        key=lambda e: (
            str(e.severity.value) != "ERROR",
            e.asset_key.to_user_string(),
            e.check_name,
        ),
    )
    errors = sum(1 for e in items if e.severity.value == "ERROR")
    warns = len(items) - errors
    lines = [
        f"- [{e.severity.value}] {e.check_name} on {e.asset_key.to_user_string()}: "
        f"{(e.description or 'failed').strip().splitlines()[0]}"
        for e in items
    ]
    title = (
        f"{len(items)} data-quality check{'s' if len(items) != 1 else ''} failed "
        f"({errors} ERROR, {warns} WARN)"
    )
    text = (
        f"Run {run_id}"
        + (f" of {job_name}" if job_name else "")
        + ":\n"
        + summarize(lines, max_items_listed(), "more failed checks")
    )
    return Notification(
        title=title,
        text=text,
        severity="error" if errors else "warning",
        kind="check_failure",
        details={
            "run_id": run_id,
            "job": job_name,
            "checks": [
                {
                    "check": e.check_name,
                    "asset": e.asset_key.to_user_string(),
                    "severity": e.severity.value,
                }
                for e in items
            ],
        },
    )


def check_failure_evaluation(
    context: SensorEvaluationContext, notifier: NotifierResource
) -> SkipReason:
    limit = int(config_value("automation.check_events_per_tick"))
    if context.instance.event_log_storage.is_run_sharded:
        return SkipReason(
            "The instance keeps its event log in per-run SQLite shards, where check evaluations "
            "cannot be read across runs by storage id. Use the PostgreSQL storage that `retailmart` "
            "writes to $DAGSTER_HOME/dagster.yaml (or a consolidated event log storage)."
        )
    after = _int_cursor(context.cursor)
    if after is None:
        latest = _check_records(context, None, 1)
        start = latest[0].storage_id if latest else 0
        context.update_cursor(str(start))
        return SkipReason(
            f"First tick: starting after event {start}; earlier check evaluations are not replayed."
        )
    records = _check_records(context, after, limit)
    if not records:
        return SkipReason(f"No new check evaluations after event {after}.")
    failed: dict[str, list[Any]] = {}
    jobs: dict[str, str | None] = {}
    for record in records:
        evaluation = _evaluation(record)
        if evaluation is None or evaluation.passed:
            continue
        run_id = record.event_log_entry.run_id
        failed.setdefault(run_id, []).append(evaluation)
        jobs[run_id] = record.event_log_entry.job_name
    undelivered = 0
    for run_id, evaluations in failed.items():
        result = notifier.notify(
            check_failure_message(run_id, jobs[run_id], evaluations), context.log
        )
        undelivered += 0 if result.delivered else 1
    context.update_cursor(str(records[-1].storage_id))
    count = sum(len(v) for v in failed.values())
    return SkipReason(
        f"Read {len(records)} check evaluations; notified {count} failed in {len(failed)} run(s)"
        + (f"; {undelivered} message(s) undeliverable (logged)." if undelivered else ".")
    )


def build_check_failure_sensor() -> SensorDefinition:
    @sensor(
        name=CHECK_FAILURE_SENSOR,
        minimum_interval_seconds=notification_interval(),
        default_status=DefaultSensorStatus.RUNNING,
        description="Notifies each failed data-quality check evaluation (WARN and ERROR) once, read "
        "from the instance's check-evaluation events after a cursor; starts from now.",
    )
    def _check_failures(context: SensorEvaluationContext, notifier: NotifierResource):  # noqa: ANN202
        return check_failure_evaluation(context, notifier)

    return _check_failures


# ---------------------------------------------------------------------- new business alerts
def _latest_alert_id(conn: psycopg.Connection) -> int:
    row = conn.execute(_sql("latest_alert_id.sql")).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _new_alerts(conn: psycopg.Connection, after_id: int) -> list[dict[str, Any]]:
    cur = conn.execute(_sql("new_alerts.sql"), {"after_id": after_id, "limit": NEW_ALERTS_PER_TICK})
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def business_alert_message(alerts: Sequence[dict[str, Any]]) -> Notification:
    """One message for newly opened alerts: counts per severity, the most severe listed."""
    ordered = sorted(
        alerts, key=lambda a: (SEVERITY_RANK.get(a["severity"], 9), a["alert_type"], a["alert_id"])
    )
    counts = {s: sum(1 for a in alerts if a["severity"] == s) for s in SEVERITY_RANK}
    lines = [f"- [{a['severity']}] {a['title']}: {a['detail'] or ''}".rstrip(": ") for a in ordered]
    title = (
        f"{len(alerts)} new business alert{'s' if len(alerts) != 1 else ''} ("
        + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        + ")"
    )
    severity = next((s for s in SEVERITY_RANK if counts[s]), "info")
    return Notification(
        title=title,
        text=summarize(lines, max_items_listed(), "more new alerts (see alerts.json)"),
        severity=severity,
        kind="business_alert",
        details={
            "alert_ids": [a["alert_id"] for a in ordered],
            "by_type": {
                t: sum(1 for a in alerts if a["alert_type"] == t)
                for t in sorted({a["alert_type"] for a in alerts})
            },
        },
    )


def business_alert_evaluation(
    context: SensorEvaluationContext, postgres: PostgresResource, notifier: NotifierResource
) -> SkipReason:
    try:
        with connect(postgres.url(), autocommit=True) as conn:
            after = _int_cursor(context.cursor)
            if after is None:
                start = _latest_alert_id(conn)
                context.update_cursor(str(start))
                return SkipReason(
                    f"First tick: starting after alert {start}; alerts already open are not "
                    "announced."
                )
            alerts = _new_alerts(conn, after)
            latest = _latest_alert_id(conn)
    except psycopg.errors.UndefinedTable:
        return SkipReason("analytics.alert_history does not exist yet (no full refresh so far).")
    except (DatabaseUnreachableError, psycopg.Error) as exc:
        return SkipReason(f"Database not readable: {_db_problem(exc, postgres)}")
    if not alerts:
        # Alerts opened and already resolved since the last tick are not news: move past them.
        if latest > after:
            context.update_cursor(str(latest))
        return SkipReason(f"No new business alerts after alert {after}.")
    result = notifier.notify(business_alert_message(alerts), context.log)
    last = alerts[-1]["alert_id"]
    context.update_cursor(str(last if len(alerts) == NEW_ALERTS_PER_TICK else max(last, latest)))
    return SkipReason(
        f"Notified {len(alerts)} new business alert(s)"
        + ("" if result.delivered else f"; undeliverable by {result.failed_channels} (logged)")
        + "."
    )


def build_business_alert_sensor() -> SensorDefinition:
    @sensor(
        name=BUSINESS_ALERT_SENSOR,
        minimum_interval_seconds=notification_interval(),
        default_status=DefaultSensorStatus.RUNNING,
        description="Notifies business alerts newly opened in analytics.alert_history (not the "
        "ones already open), one message per tick.",
    )
    def _business_alerts(  # noqa: ANN202
        context: SensorEvaluationContext, postgres: PostgresResource, notifier: NotifierResource
    ):
        return business_alert_evaluation(context, postgres, notifier)

    return _business_alerts


# ------------------------------------------------------------------------------ failed runs
def run_failure_message(context: RunFailureSensorContext) -> Notification:
    run = context.dagster_run
    steps = []
    for event in context.get_step_failure_events():
        error = event.step_failure_data.error if event.step_failure_data else None
        lines = [
            x for x in (error.message if error else "failed").strip().splitlines() if x.strip()
        ]
        head, rest = (lines[0], lines[1:STEP_ERROR_LINES]) if lines else ("failed", [])
        steps.append(
            "\n".join([f"- {event.step_key}: {head}", *(f"    {x.strip()}" for x in rest)])
        )
    reason = (context.failure_event.message or "").strip()
    text = f"Run {run.run_id} of {run.job_name} failed."
    if reason:
        text += f"\n{reason}"
    if steps:
        text += "\nFailed steps:\n" + summarize(steps, max_items_listed(), "more failed steps")
    return Notification(
        title=f"Run of {run.job_name} failed",
        text=text,
        severity="error",
        kind="run_failure",
        details={"run_id": run.run_id, "job": run.job_name, "tags": dict(run.tags)},
    )


def build_run_failure_sensor() -> SensorDefinition:
    @run_failure_sensor(
        name=RUN_FAILURE_SENSOR,
        minimum_interval_seconds=notification_interval(),
        default_status=DefaultSensorStatus.RUNNING,
        description="Notifies every failed run of this code location (job, failed steps, error).",
    )
    def _run_failure(context: RunFailureSensorContext, notifier: NotifierResource) -> None:
        notifier.notify(run_failure_message(context), context.log)

    return _run_failure

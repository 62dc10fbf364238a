"""Schedules and sensors, evaluated with ``build_schedule_context`` / ``build_sensor_context`` against a
real Dagster instance on which real runs happened, on a fresh database with generated sample data.

Notifications go to a log file in the test's folder and to a webhook served by the test on 127.0.0.1.
"""

import datetime as dt
import json
import threading
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    build_schedule_context,
    build_sensor_context,
)

from retailmart_dagster.assets.alerts import ALERT_SYNC_KEY
from retailmart_dagster.automation.jobs import ALERTS_JOB, DOMAINS, domain_job_name
from retailmart_dagster.automation.schedules import DAILY_SCHEDULE
from retailmart_dagster.automation.sensors import (
    BUSINESS_ALERT_SENSOR,
    CHECK_FAILURE_SENSOR,
    NEW_DATA_SENSOR,
    RUN_FAILURE_SENSOR,
)
from retailmart_dagster.checks.assets import DATA_QUALITY_JOB
from retailmart_dagster.config import config_values
from retailmart_dagster.definitions import FULL_REFRESH_JOB, build_definitions
from retailmart_dagster.resources.notifier import NotifierResource, read_log
from retailmart_dagster.resources.postgres import PostgresResource

pytestmark = pytest.mark.integration

END_DATE = dt.date(2025, 10, 1)
QUALITY_CLOCK = "2026-01-01"
CFG = config_values()


class Webhook:
    """A local webhook: records the JSON it receives; answers 503 while ``down`` is set."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.down = False
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if owner.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                owner.texts.append(json.loads(body)["text"])
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0/B0/token-xyz"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Env:
    url: str
    defs: object
    instance: DagsterInstance
    log: Path
    webhook: Webhook

    def notifier(self) -> NotifierResource:
        return NotifierResource(
            log_path=str(self.log),
            webhook_url=self.webhook.url,
            max_attempts=2,
            backoff_seconds=0.01,
        )

    def resources(self) -> dict:
        return {"postgres": PostgresResource(database_url=self.url), "notifier": self.notifier()}

    def tick(self, name: str, cursor: str | None):  # noqa: ANN201 - SensorExecutionData
        sensor = self.defs.resolve_sensor_def(name)
        with build_sensor_context(
            instance=self.instance, cursor=cursor, resources=self.resources()
        ) as context:
            return sensor.evaluate_tick(context)

    def run(self, job_name: str, *keys: AssetKey):  # noqa: ANN201 - ExecuteInProcessResult
        job = self.defs.resolve_job_def(job_name)
        return job.execute_in_process(
            instance=self.instance, raise_on_error=False, asset_selection=list(keys) or None
        )

    def sync_alerts(self) -> None:
        result = self.run(ALERTS_JOB, ALERT_SYNC_KEY)
        assert result.success

    def sql(self, query: str, params: tuple = ()) -> None:
        with psycopg.connect(self.url) as conn:
            conn.execute(query, params)

    def entries(self, kind: str) -> list[dict]:
        return [e for e in read_log(self.log) if e["kind"] == kind]


@pytest.fixture
def env(new_database: Callable[[str], str], tmp_path: Path) -> Iterator[Env]:
    from retailmart_dagster.generate import generate

    url = new_database("automation")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.01, seed=5, end_date=END_DATE)
    webhook = Webhook()
    log = tmp_path / "notifications.log"
    defs = build_definitions(
        database_url=url,
        dashboard_dir=str(tmp_path / "data"),
        notifier=NotifierResource(log_path=str(log)),
        quality_clock=QUALITY_CLOCK,  # months after the data's last day: the lag check fails (WARN)
    )
    environment = Env(url, defs, DagsterInstance.ephemeral(), log, webhook)
    result = environment.run(ALERTS_JOB)  # setup, quality checks, alert views, history
    assert result.success
    yield environment
    webhook.close()


# ------------------------------------------------------------------------------- daily schedule
def test_daily_schedule_requests_a_full_refresh() -> None:
    defs = build_definitions(database_url="postgresql://u@127.0.0.1:1/none")
    schedule = defs.resolve_schedule_def(DAILY_SCHEDULE)
    assert schedule.cron_schedule == CFG["automation.daily_refresh_cron"]
    assert schedule.execution_timezone == CFG["automation.timezone"]
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    assert schedule.job_name == FULL_REFRESH_JOB
    zone = zoneinfo.ZoneInfo(CFG["automation.timezone"])
    when = dt.datetime(2025, 10, 2, 6, 0, tzinfo=zone)
    data = schedule.evaluate_tick(build_schedule_context(scheduled_execution_time=when))
    [request] = data.run_requests
    assert request.run_key == "daily-2025-10-02"
    assert request.tags["retailmart/trigger"] == DAILY_SCHEDULE
    assert request.tags["retailmart/scheduled_date"] == "2025-10-02"
    # The job the schedule runs refreshes the whole graph and every JSON file.
    job = defs.resolve_job_def(FULL_REFRESH_JOB)
    keys = job.asset_layer.executable_asset_keys
    assert AssetKey(["dashboard", "alerts"]) in keys and AssetKey(["dashboard", "manifest"]) in keys
    assert ALERT_SYNC_KEY in keys


def test_sensors_and_jobs_are_registered() -> None:
    defs = build_definitions(database_url="postgresql://u@127.0.0.1:1/none")
    for name in (NEW_DATA_SENSOR, CHECK_FAILURE_SENSOR, BUSINESS_ALERT_SENSOR, RUN_FAILURE_SENSOR):
        sensor = defs.resolve_sensor_def(name)
        assert sensor.default_status == DefaultSensorStatus.RUNNING
        assert sensor.minimum_interval_seconds and sensor.minimum_interval_seconds >= 30
    assert defs.resolve_sensor_def(NEW_DATA_SENSOR).job_name == FULL_REFRESH_JOB
    for domain in DOMAINS:
        job = defs.resolve_job_def(domain_job_name(domain))
        keys = job.asset_layer.executable_asset_keys
        assert AssetKey(["dashboard", "manifest"]) in keys
        assert AssetKey(["analytics", "config"]) in keys
        assert any(k.path[:2] == ["dashboard", domain] for k in keys)
        assert not any(k.path[0] == "retailmart" for k in keys)
    assert defs.resolve_job_def(DATA_QUALITY_JOB) is not None


# ------------------------------------------------------------------------------ new source data
def test_new_data_sensor_requests_one_refresh_per_change(env: Env) -> None:
    first = env.tick(NEW_DATA_SENSOR, None)
    assert not first.run_requests and "First tick" in first.skip_message
    cursor = first.cursor
    assert cursor and json.loads(cursor)["watermark"]["latest_order_date"] == END_DATE.isoformat()

    unchanged = env.tick(NEW_DATA_SENSOR, cursor)
    assert not unchanged.run_requests and "No new source data" in unchanged.skip_message

    env.sql(
        "INSERT INTO sales.orders (order_id, cust_id, store_id, order_date, order_status, total_amount)"
        " SELECT max(order_id) + 1, 1, 1, %s, 'Pending', 100 FROM sales.orders",
        (END_DATE + dt.timedelta(days=1),),
    )
    changed = env.tick(NEW_DATA_SENSOR, cursor)
    [request] = changed.run_requests
    assert request.run_key and request.run_key.startswith("source-change-")
    assert request.job_name in (None, FULL_REFRESH_JOB)
    assert (
        request.tags["retailmart/latest_order_date"]
        == (END_DATE + dt.timedelta(days=1)).isoformat()
    )
    # Evaluated again from the same cursor (e.g. the tick is retried): the same run_key, so Dagster
    # launches the refresh once.
    again = env.tick(NEW_DATA_SENSOR, cursor)
    assert [r.run_key for r in again.run_requests] == [request.run_key]
    after = env.tick(NEW_DATA_SENSOR, changed.cursor)
    assert not after.run_requests and "No new source data" in after.skip_message

    env.sql("DELETE FROM sales.orders WHERE order_date > %s", (END_DATE,))  # back to the old data
    reverted = env.tick(NEW_DATA_SENSOR, changed.cursor)
    [back] = reverted.run_requests
    assert back.run_key != request.run_key

    # A stock count (no new rows, a later last_updated) is new data too.
    env.sql(
        "UPDATE products.inventory SET last_updated = %s"
        " WHERE (store_id, prod_id) = (SELECT store_id, prod_id FROM products.inventory LIMIT 1)",
        (END_DATE + dt.timedelta(days=5),),
    )
    stock = env.tick(NEW_DATA_SENSOR, reverted.cursor)
    assert len(stock.run_requests) == 1


def test_new_data_sensor_skips_when_the_database_is_down(env: Env) -> None:
    sensor = env.defs.resolve_sensor_def(NEW_DATA_SENSOR)
    with build_sensor_context(
        instance=env.instance,
        cursor=None,
        resources={"postgres": PostgresResource(database_url="postgresql://u:pw@127.0.0.1:1/db")},
    ) as context:
        data = sensor.evaluate_tick(context)
    assert not data.run_requests and "not readable" in data.skip_message
    assert ":pw@" not in data.skip_message


# ------------------------------------------------------------------------ failed check evaluations
def test_check_failure_sensor_notifies_each_failed_evaluation_once(env: Env) -> None:
    # The alerts job of the fixture evaluated every check already: not replayed on the first tick.
    first = env.tick(CHECK_FAILURE_SENSOR, None)
    assert "First tick" in first.skip_message
    assert env.entries("check_failure") == [] and env.webhook.texts == []

    # A blocking (ERROR) failure: a payment that differs from its order's total.
    env.sql("UPDATE sales.payments SET amount = amount + 100 WHERE payment_id = 1")
    failed_run = env.run(DATA_QUALITY_JOB)
    assert not failed_run.success

    second = env.tick(CHECK_FAILURE_SENSOR, first.cursor)
    [entry] = env.entries("check_failure")
    checks = {(c["check"], c["severity"]) for c in entry["details"]["checks"]}
    assert ("consistency_payment_amount_mismatch", "ERROR") in checks
    assert ("timeliness_latest_order_lag", "WARN") in checks  # the clock is months later
    assert entry["details"]["run_id"] == failed_run.run_id
    assert entry["severity"] == "error" and entry["channels"] == {"webhook": "delivered"}
    assert (
        len(env.webhook.texts) == 1
        and "consistency_payment_amount_mismatch" in env.webhook.texts[0]
    )
    assert "1 ERROR" in entry["title"]

    third = env.tick(CHECK_FAILURE_SENSOR, second.cursor)
    assert "No new check evaluations" in third.skip_message
    assert len(env.entries("check_failure")) == 1 and len(env.webhook.texts) == 1

    # Webhook down: the next run's failures are logged as undeliverable; the cursor moves on and the
    # run after that is delivered normally (and the undeliverable one is not sent twice).
    env.sql("UPDATE sales.payments SET amount = amount - 100 WHERE payment_id = 1")
    env.webhook.down = True
    down_run = env.run(DATA_QUALITY_JOB)
    fourth = env.tick(CHECK_FAILURE_SENSOR, third.cursor)
    assert "undeliverable" in fourth.skip_message
    assert int(fourth.cursor) > int(third.cursor)
    env.webhook.down = False
    up_run = env.run(DATA_QUALITY_JOB)
    env.tick(CHECK_FAILURE_SENSOR, fourth.cursor)
    entries = env.entries("check_failure")
    assert [e["details"]["run_id"] for e in entries] == [
        failed_run.run_id,
        down_run.run_id,
        up_run.run_id,
    ]
    assert entries[1]["channels"]["webhook"].startswith("undeliverable after 2 attempt(s)")
    assert entries[2]["channels"] == {"webhook": "delivered"}
    assert len(env.webhook.texts) == 2 and up_run.run_id in env.webhook.texts[1]
    assert "token-xyz" not in env.log.read_text()


# ------------------------------------------------------------------------------ business alerts
def test_business_alert_sensor_announces_only_new_alerts(env: Env) -> None:
    with psycopg.connect(env.url) as conn:
        open_before = conn.execute(
            "SELECT count(*) FROM analytics.alert_history WHERE state = 'open'"
        ).fetchone()[0]
        targets = conn.execute(
            "SELECT i.store_id, i.prod_id, i.stock_qty FROM products.inventory AS i"
            " JOIN stores.stores AS s ON s.store_id = i.store_id"
            " JOIN analytics.mv_top_products AS t ON t.prod_id = i.prod_id"
            " WHERE t.revenue_rank <= 3 AND i.stock_qty >= %s ORDER BY t.revenue_rank, i.store_id"
            " LIMIT 4",
            (CFG["alerts.critical_stock_level"],),
        ).fetchall()
    assert open_before > 0 and len(targets) == 4

    first = env.tick(BUSINESS_ALERT_SENSOR, None)
    assert "First tick" in first.skip_message and env.entries("business_alert") == []

    def break_stock(target: tuple) -> str:
        env.sql(
            "UPDATE products.inventory SET stock_qty = 0 WHERE store_id = %s AND prod_id = %s",
            target[:2],
        )
        env.sync_alerts()
        return f"store:{target[0]}/product:{target[1]}"

    key = break_stock(targets[0])
    second = env.tick(BUSINESS_ALERT_SENSOR, first.cursor)
    [entry] = env.entries("business_alert")
    assert entry["title"] == "1 new business alert (1 critical)"
    assert entry["details"]["by_type"] == {"critical_inventory": 1}
    assert len(env.webhook.texts) == 1 and "Out of stock" in env.webhook.texts[0]
    with psycopg.connect(env.url) as conn:
        alert_id = conn.execute(
            "SELECT alert_id FROM analytics.alert_history WHERE alert_key = %s", (key,)
        ).fetchone()[0]
    assert entry["details"]["alert_ids"] == [alert_id] and second.cursor == str(alert_id)

    # The next refresh: the same alert is still open, not new.
    env.sync_alerts()
    third = env.tick(BUSINESS_ALERT_SENSOR, second.cursor)
    assert "No new business alerts" in third.skip_message
    assert len(env.entries("business_alert")) == 1

    # Opened and resolved again before the next tick: not news, but the cursor moves past it.
    break_stock(targets[1])
    env.sql(
        "UPDATE products.inventory SET stock_qty = %s WHERE store_id = %s AND prod_id = %s",
        (targets[1][2], *targets[1][:2]),
    )
    env.sync_alerts()
    fourth = env.tick(BUSINESS_ALERT_SENSOR, third.cursor)
    assert "No new business alerts" in fourth.skip_message
    assert int(fourth.cursor) > int(third.cursor)

    # Webhook down: logged as undeliverable, cursor moved; the next alert is delivered.
    env.webhook.down = True
    down_key = break_stock(targets[2])
    fifth = env.tick(BUSINESS_ALERT_SENSOR, fourth.cursor)
    assert "undeliverable" in fifth.skip_message and int(fifth.cursor) > int(fourth.cursor)
    env.webhook.down = False
    up_key = break_stock(targets[3])
    env.tick(BUSINESS_ALERT_SENSOR, fifth.cursor)
    entries = env.entries("business_alert")
    assert len(entries) == 3
    assert entries[1]["channels"]["webhook"].startswith("undeliverable")
    with psycopg.connect(env.url) as conn:
        down_id = conn.execute(
            "SELECT alert_id FROM analytics.alert_history WHERE alert_key = %s AND state = 'open'",
            (down_key,),
        ).fetchone()[0]
    assert entries[1]["details"]["alert_ids"] == [down_id]
    assert entries[2]["channels"] == {"webhook": "delivered"}
    assert len(env.webhook.texts) == 2
    with psycopg.connect(env.url) as conn:
        up_id = conn.execute(
            "SELECT alert_id FROM analytics.alert_history WHERE alert_key = %s AND state = 'open'",
            (up_key,),
        ).fetchone()[0]
    assert entries[2]["details"]["alert_ids"] == [up_id]


def test_business_alert_sensor_before_the_first_refresh(
    new_database: Callable[[str], str], tmp_path: Path
) -> None:
    url = new_database("empty")
    defs = build_definitions(database_url=url, notifier=NotifierResource(log_path="/dev/null"))
    sensor = defs.resolve_sensor_def(BUSINESS_ALERT_SENSOR)
    with build_sensor_context(
        instance=DagsterInstance.ephemeral(),
        cursor=None,
        resources={
            "postgres": PostgresResource(database_url=url),
            "notifier": NotifierResource(log_path=str(tmp_path / "n.log")),
        },
    ) as context:
        data = sensor.evaluate_tick(context)
    assert "does not exist yet" in data.skip_message and data.cursor is None


# ---------------------------------------------------------------------------------- failed runs
def test_run_failure_sensor_notifies_a_failed_run(env: Env) -> None:
    first = env.tick(RUN_FAILURE_SENSOR, None)
    assert first.cursor  # starts from now: earlier runs are not reported
    env.sql("UPDATE sales.order_items SET quantity = -1 WHERE order_item_id = 1")  # ERROR check
    failed = env.run(ALERTS_JOB)  # the data-quality gate stops the KPIs: the run fails
    assert not failed.success
    assert env.instance.get_run_by_id(failed.run_id).status == DagsterRunStatus.FAILURE
    second = env.tick(RUN_FAILURE_SENSOR, first.cursor)
    assert second.cursor != first.cursor
    [entry] = env.entries("run_failure")
    assert entry["title"] == f"Run of {ALERTS_JOB} failed"
    assert entry["details"]["run_id"] == failed.run_id
    assert "analytics__data_quality_gate" in entry["text"]
    assert "accuracy_order_item_quantity_not_positive" in entry["text"]
    assert len(env.webhook.texts) == 1 and failed.run_id in env.webhook.texts[0]
    third = env.tick(RUN_FAILURE_SENSOR, second.cursor)
    assert third.cursor and len(env.entries("run_failure")) == 1

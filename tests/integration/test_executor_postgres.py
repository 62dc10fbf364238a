"""The executor with the real PostgresResource (retailmart_dagster/executor.py): steps running at
once each get their own connection, and an interrupted run (a terminate from the UI, Ctrl-C)
cancels the statements its running steps wait for instead of waiting for them to end."""

import os
import signal
import threading
import time

import psycopg
import pytest
from dagster import (
    AssetSelection,
    DagsterInstance,
    Definitions,
    asset,
    define_asset_job,
)
from dagster._core.errors import DagsterExecutionInterruptedError

from retailmart_dagster.executor import retailmart_executor, run_job
from retailmart_dagster.resources.postgres import PostgresResource

pytestmark = pytest.mark.integration

SLEEP = "SELECT pg_sleep(120)"


def _job(url: str, assets: list):  # noqa: ANN202
    defs = Definitions(
        assets=assets,
        jobs=[define_asset_job("all", selection=AssetSelection.all())],
        resources={"postgres": PostgresResource(database_url=url)},
        executor=retailmart_executor,
    )
    return defs.resolve_job_def("all")


def test_steps_at_once_use_their_own_connections(new_database) -> None:  # noqa: ANN001
    url = new_database("exec_conns")
    pids: dict[str, int] = {}
    both = threading.Barrier(2, timeout=20)

    def make(name: str):  # noqa: ANN202
        @asset(name=name)
        def _a(postgres: PostgresResource) -> None:
            with postgres.connection() as conn:
                pids[name] = conn.info.backend_pid
                both.wait()  # both hold their connection at the same time
                conn.execute("SELECT pg_sleep(0.1)")

        return _a

    result = run_job(_job(url, [make("one"), make("two")]), max_concurrent=2)
    assert result.success
    assert pids["one"] != pids["two"]


def test_an_interrupted_run_cancels_the_running_statements(new_database) -> None:  # noqa: ANN001
    url = new_database("exec_cancel")

    @asset(name="slow")
    def slow(postgres: PostgresResource) -> None:
        with postgres.connection() as conn:
            conn.execute(SLEEP)

    @asset(name="also_slow")
    def also_slow(postgres: PostgresResource) -> None:
        with postgres.connection() as conn:
            conn.execute(SLEEP)

    def interrupt_when_both_sleep() -> None:
        with psycopg.connect(url, autocommit=True) as watcher:
            for _ in range(400):
                sleeping = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE query = %s AND state = 'active'",
                    (SLEEP,),
                ).fetchone()[0]
                if sleeping == 2:
                    os.kill(os.getpid(), signal.SIGINT)  # what a terminate sends the run worker
                    return
                time.sleep(0.05)

    watcher = threading.Thread(target=interrupt_when_both_sleep)
    watcher.start()
    with DagsterInstance.ephemeral() as instance:
        try:
            result = run_job(_job(url, [slow, also_slow]), instance=instance, raise_on_error=False)
            events = result.all_events
        except DagsterExecutionInterruptedError:
            events = []
        run = instance.get_runs()[0]
        logs = [e.dagster_event for e in instance.all_logs(run.run_id) if e.dagster_event]
    watcher.join()
    assert not run.is_success
    failures = {
        e.step_key: e.event_specific_data.error.to_string()
        for e in [*events, *logs]
        if e.is_step_failure
    }
    assert set(failures) == {"slow", "also_slow"}, failures
    for message in failures.values():
        assert "canceling statement due to user request" in message, message
    with psycopg.connect(url, autocommit=True) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query = %s AND state = 'active'", (SLEEP,)
        ).fetchone()[0]
    assert left == 0

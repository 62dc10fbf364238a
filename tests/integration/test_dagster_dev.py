"""`dagster dev -w workspace.yaml` starts (webserver, daemon, code server) with a PostgreSQL-backed
instance, its GraphQL API shows the repository (assets, jobs, the schedule and the sensors, running by
default), a run launched through the API is dequeued by the daemon and succeeds, and the whole process
group stops cleanly."""

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from retailmart_dagster.automation.jobs import ALERTS_JOB
from retailmart_dagster.automation.schedules import DAILY_SCHEDULE
from retailmart_dagster.automation.sensors import (
    BUSINESS_ALERT_SENSOR,
    CHECK_FAILURE_SENSOR,
    NEW_DATA_SENSOR,
    RUN_FAILURE_SENSOR,
)
from retailmart_dagster.runtime import storage_password_env, write_dagster_home

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
LOCATION = "retailmart"
REPOSITORY = "__repository__"
START_TIMEOUT = 180
RUN_TIMEOUT = 300

REPOSITORY_QUERY = """
{
  repositoriesOrError {
    __typename
    ... on RepositoryConnection {
      nodes {
        name
        location { name }
        jobs { name }
        schedules { name cronSchedule executionTimezone scheduleState { status } }
        sensors { name sensorState { status } }
        assetNodes { assetKey { path } groupName }
      }
    }
    ... on PythonError { message }
  }
}
"""

LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on PipelineNotFoundError { message }
  }
}
"""

RUN_STATUS = """
query Status($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload["errors"]
    return payload["data"]


def _wait_for_repository(port: int, proc: subprocess.Popen, log: Path) -> dict:
    deadline = time.monotonic() + START_TIMEOUT
    last: object = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"dagster dev exited early:\n{log.read_text()[-4000:]}"
        try:
            data = _graphql(port, REPOSITORY_QUERY)
            repos = data["repositoriesOrError"]
            if repos["__typename"] == "RepositoryConnection" and repos["nodes"]:
                return repos["nodes"][0]
            last = repos
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            last = exc
        time.sleep(1)
    raise AssertionError(
        f"GraphQL never showed the repository ({last}):\n{log.read_text()[-4000:]}"
    )


def _stop(proc: subprocess.Popen) -> None:
    """SIGINT to the process group (what Ctrl+C sends), then wait; SIGKILL only as a last resort."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    # Wait for the rest of the group (webserver, daemon, code server) to be gone.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError("processes of dagster dev were still running 60 s after it stopped")


def test_dagster_dev_serves_graphql_and_runs_a_job(
    new_database: Callable[[str], str], tmp_path: Path
) -> None:
    from retailmart_dagster.generate import generate

    url = new_database("dev")
    storage_url = new_database("dev_dagster")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.01, seed=3, end_date=dt.date(2025, 10, 1))
    home = write_dagster_home(tmp_path / "dagster_home", storage_url)
    data_dir = tmp_path / "data"
    notify_log = tmp_path / "notifications.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RETAILMART_", "DAGSTER_")) or k == "RETAILMART_PG_BINDIR"
    }
    env.update(
        {
            "DAGSTER_HOME": str(home),
            "RETAILMART_HOME": str(tmp_path / "retailmart_home"),
            "RETAILMART_DATABASE_URL": url,
            "RETAILMART_DASHBOARD_DIR": str(data_dir),
            "RETAILMART_NOTIFY_LOG": str(notify_log),
            **storage_password_env(storage_url),
        }
    )
    port = _free_port()
    log = tmp_path / "dagster_dev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "dagster"),
                "dev",
                "-w",
                "workspace.yaml",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        repo = _wait_for_repository(port, proc, log)
        assert repo["name"] == REPOSITORY and repo["location"]["name"] == LOCATION
        jobs = {j["name"] for j in repo["jobs"]}
        assert {"full_refresh_job", "data_quality_job", ALERTS_JOB} <= jobs
        assert {f"{d}_refresh_job" for d in ("sales", "customers", "operations")} <= jobs
        [schedule] = [s for s in repo["schedules"] if s["name"] == DAILY_SCHEDULE]
        assert schedule["scheduleState"]["status"] == "RUNNING"
        assert schedule["executionTimezone"] == "Asia/Kolkata"
        sensors = {s["name"]: s["sensorState"]["status"] for s in repo["sensors"]}
        for name in (
            NEW_DATA_SENSOR,
            CHECK_FAILURE_SENSOR,
            BUSINESS_ALERT_SENSOR,
            RUN_FAILURE_SENSOR,
        ):
            assert sensors.get(name) == "RUNNING", sensors
        assets = {"/".join(a["assetKey"]["path"]): a["groupName"] for a in repo["assetNodes"]}
        assert assets["analytics/vw_alerts"] == "alerts"
        assert assets["analytics/alert_history_sync"] == "alerts"
        assert "dashboard/alerts" in assets

        launched = _graphql(
            port,
            LAUNCH,
            {
                "params": {
                    "selector": {
                        "repositoryLocationName": LOCATION,
                        "repositoryName": REPOSITORY,
                        "jobName": ALERTS_JOB,
                    },
                    "runConfigData": {},
                }
            },
        )["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        deadline = time.monotonic() + RUN_TIMEOUT
        status = None
        while time.monotonic() < deadline:
            status = _graphql(port, RUN_STATUS, {"runId": run_id})["runOrError"]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                break
            time.sleep(1)
        assert status == "SUCCESS", f"run {run_id} ended {status}:\n{log.read_text()[-4000:]}"
        payload = json.loads((data_dir / "alerts.json").read_text())
        assert payload["referenceDate"] == "2025-10-01" and payload["counts"]["total"] > 0
        with psycopg.connect(storage_url) as conn:
            stored = conn.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,)).fetchone()
        assert stored == ("SUCCESS",)
    finally:
        _stop(proc)
    assert proc.returncode is not None
    text = log.read_text(errors="replace")
    password = url.split(":")[2].split("@")[0]
    assert password not in text

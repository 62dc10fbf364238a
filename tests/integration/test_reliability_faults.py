"""Database faults on a dedicated embedded server (its own RETAILMART_HOME, never the shared test
server): the server stopped in the middle of a run, a transient outage retried, recovery after the
server is back, and the statement timeout of KPI queries."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from retailmart_dagster.assets.builder import SqlBuilder
from retailmart_dagster.assets.sql_assets import SETUP_STEP
from retailmart_dagster.config import config_value
from retailmart_dagster.definitions import build_definitions
from retailmart_dagster.resources.embedded import EmbeddedPostgres
from retailmart_dagster.resources.postgres import DatabaseUnreachableError, PostgresResource
from tests.conftest import KPI_END_DATE, materialize_all

pytestmark = pytest.mark.integration

STOP_AT = (
    "mv_monthly_sales_dashboard"  # an object in the middle of the graph (after setup and the gate)
)


@pytest.fixture(scope="module")
def fault_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """A server of this module alone, with small sample data in database ``src`` (a template)."""
    from retailmart_dagster.generate import generate

    server = EmbeddedPostgres(tmp_path_factory.mktemp("fault_home"))
    server.start()
    try:
        with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
            admin.execute("CREATE DATABASE src")
        with psycopg.connect(server.url("src")) as conn:
            generate(conn, scale=0.01, seed=11, end_date=KPI_END_DATE)
        yield server
    finally:
        server.stop()


def _copy_of_source(server: EmbeddedPostgres, name: str) -> str:
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name} TEMPLATE src")
    return server.url(name)


def _step_failures(result) -> list[str]:  # noqa: ANN001
    return [
        f"{e.step_key}: {e.event_specific_data.error.to_string()}"
        for e in result.all_events
        if e.is_step_failure
    ]


# Files that hold the time of the run itself (alert history: opened/last seen at; quality history).
RUN_TIME_FILES = {"alerts.json", "quality.json", "manifest.json"}


def _exports(folder: Path) -> dict[str, object]:
    """Every KPI JSON file under folder (not those that record when the run happened)."""
    return {
        str(path.relative_to(folder)): json.loads(path.read_text())
        for path in sorted(folder.rglob("*.json"))
        if str(path.relative_to(folder)) not in RUN_TIME_FILES
    }


def _fail_when_building(
    monkeypatch: pytest.MonkeyPatch,
    fault: Callable[[psycopg.Connection], None],
    at: str = STOP_AT,
) -> list[str]:
    """Call ``fault`` just before the object ``at`` is built the first time (then build as usual)."""
    original = SqlBuilder.build
    calls: list[str] = []

    def build(self, conn, obj, run_id=None):  # noqa: ANN001, ANN202
        calls.append(obj.name)
        if obj.name == at and calls.count(at) == 1:
            fault(conn)
        return original(self, conn, obj, run_id=run_id)

    monkeypatch.setattr(SqlBuilder, "build", build)
    return calls


def test_server_stopped_mid_run_fails_clearly_then_next_run_recovers(
    fault_server: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = _copy_of_source(fault_server, "midrun")
    password = url.split(":")[2].split("@")[0]
    calls = _fail_when_building(monkeypatch, lambda conn: fault_server.stop())
    result = materialize_all(url, tmp_path / "down")
    monkeypatch.undo()
    assert not result.success
    assert calls.count(STOP_AT) == 1, calls  # the retries fail while connecting
    step = f"analytics__{STOP_AT}"
    kinds = [e.event_type_value for e in result.all_events if e.step_key == step]
    # The first attempt and two retries (RetryRequested), then the failure.
    assert kinds.count("STEP_UP_FOR_RETRY") == 2 and kinds.count("STEP_RESTARTED") == 2, kinds
    assert kinds.count("STEP_FAILURE") == 1, kinds
    failures = _step_failures(result)
    assert any(f.startswith(f"analytics__{STOP_AT}") for f in failures), failures
    message = "\n".join(failures)
    assert "unreachable" in message or "Lost the connection" in message, message
    assert password not in message
    # The one line the command line prints for it names the cause, not "Exceeded max_retries".
    from retailmart_dagster.cli import failure_lines

    line = next(x for x in failure_lines(result) if x.startswith(step))
    assert "unreachable" in line and password not in line, line

    # Server back: the next run succeeds and gives the same results as a run that never failed.
    fault_server.start()
    url = fault_server.url("midrun")  # (the port may have changed)
    recovered = materialize_all(url, tmp_path / "recovered")
    assert recovered.success, _step_failures(recovered)
    clean_url = _copy_of_source(fault_server, "clean")
    clean = materialize_all(clean_url, tmp_path / "clean")
    assert clean.success, _step_failures(clean)
    recovered_files = _exports(tmp_path / "recovered")
    assert len(recovered_files) >= 35
    assert recovered_files == _exports(tmp_path / "clean")
    with psycopg.connect(url) as conn:
        built = conn.execute(
            "SELECT count(*) FROM analytics.execution_log WHERE object_name = %s"
            " AND status = 'success'",
            (STOP_AT,),
        ).fetchone()
    assert built == (1,)  # built once, by the run after the outage


@pytest.mark.parametrize(
    ("at", "step"),
    [(STOP_AT, f"analytics__{STOP_AT}"), ("config", SETUP_STEP)],
    ids=["kpi_object", "setup_object"],
)
def test_transient_connection_loss_is_retried_and_the_run_succeeds(
    fault_server: EmbeddedPostgres,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    at: str,
    step: str,
) -> None:
    """The server kills the run's connection in the middle of a build (as a restart or a network
    cut would): the step is retried on a new connection and the run succeeds. A setup object's
    step is the one that builds every setup object: its retry builds them all again."""
    url = _copy_of_source(fault_server, f"transient_{at}")

    def kill_backend(conn: psycopg.Connection) -> None:
        pid = conn.info.backend_pid
        with psycopg.connect(fault_server.url("postgres"), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    calls = _fail_when_building(monkeypatch, kill_backend, at)
    result = materialize_all(url, tmp_path / "dash")
    monkeypatch.undo()
    assert result.success, _step_failures(result)
    assert calls.count(at) == 2, calls  # failed once, then built on retry
    kinds = [e.event_type_value for e in result.all_events if e.step_key == step]
    assert kinds.count("STEP_UP_FOR_RETRY") == 1 and kinds.count("STEP_SUCCESS") == 1, kinds
    with psycopg.connect(url) as conn:
        n = conn.execute(f"SELECT count(*) FROM analytics.{at}").fetchone()[0]  # noqa: S608
        failed = conn.execute(
            "SELECT count(*) FROM analytics.execution_log WHERE status = 'failed'"
        ).fetchone()
    assert n > 0
    assert failed == (0,)  # the lost attempt could not be logged; nothing half-done remains


def test_connect_to_a_stopped_server_says_unreachable_with_masked_url(
    fault_server: EmbeddedPostgres,
) -> None:
    from retailmart_dagster.resources.postgres import connect

    url = fault_server.url("retailmart")
    password = url.split(":")[2].split("@")[0]
    fault_server.stop()
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseUnreachableError) as info:
            connect(url, retries=3)
        elapsed = time.monotonic() - started
    finally:
        fault_server.start()
    message = str(info.value)
    assert "unreachable after 3 attempts" in message
    assert password not in message and "***" in message
    assert "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert elapsed >= 1.4  # backoff 0.5 s then 1 s between the three attempts


def test_runaway_query_is_cancelled_by_the_statement_timeout(
    fault_server: EmbeddedPostgres,
) -> None:
    resource = PostgresResource(
        database_url=fault_server.url("retailmart"), statement_timeout_ms=300
    )
    started = time.monotonic()
    with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
        with resource.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_sleep(30)")
    assert time.monotonic() - started < 10
    # The connection is usable again and nothing is left running on the server.
    with resource.connection() as conn, conn.transaction():
        assert conn.execute("SHOW statement_timeout").fetchone() == ("300ms",)
    with psycopg.connect(fault_server.url("postgres"), autocommit=True) as admin:
        running = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'"
            " AND state = 'active'"
        ).fetchone()
    assert running == (0,)
    resource.teardown_after_execution(None)


def test_run_connections_take_the_configured_parallel_workers(
    fault_server: EmbeddedPostgres,
) -> None:
    """runtime.parallel_workers_per_step sets max_parallel_workers_per_gather (a query's workers)
    and max_parallel_maintenance_workers (an index build's) on every connection of a run (the
    quality evaluation's extra connections copy its session settings); -1 leaves the server's own
    settings."""
    url = fault_server.url("retailmart")
    shown_sql = (
        "SELECT current_setting('max_parallel_workers_per_gather'),"
        " current_setting('max_parallel_maintenance_workers')"
    )
    with psycopg.connect(url) as plain:
        server_values = plain.execute(shown_sql).fetchone()
    # The embedded server's query setting (resources/embedded.py) and PostgreSQL's default.
    assert server_values == ("2", "2")
    for configured, expected in ((0, ("0", "0")), (1, ("1", "1")), (-1, server_values)):
        resource = PostgresResource(database_url=url, parallel_workers_per_step=configured)
        try:
            with resource.connection() as conn, conn.transaction():
                shown = conn.execute(shown_sql).fetchone()
            assert shown == expected, configured
        finally:
            resource.teardown_after_execution(None)
    # The configuration file's value reaches the resource of the definitions.
    defs_resource = build_definitions(database_url=url).resources["postgres"]
    assert defs_resource.parallel_workers_per_step == int(
        config_value("runtime.parallel_workers_per_step")
    )


def test_embedded_server_stopped_is_restarted_by_the_next_attempt(
    fault_server: EmbeddedPostgres,
) -> None:
    """Without RETAILMART_DATABASE_URL the resource owns the embedded server: after it stopped, the
    attempt that finds it down fails clearly and the next one (Dagster's retry) starts it again."""
    resource = PostgresResource(home=str(fault_server.home))
    with resource.connection() as conn, conn.transaction():
        assert conn.execute("SELECT 1").fetchone() == (1,)
    fault_server.stop()
    try:
        with pytest.raises(DatabaseUnreachableError, match="Lost the connection|unreachable"):
            with resource.connection() as conn, conn.transaction():
                conn.execute("SELECT 1")
        with pytest.raises(DatabaseUnreachableError, match="unreachable"):
            with resource.connection() as conn, conn.transaction():
                conn.execute("SELECT 1")
        with resource.connection() as conn, conn.transaction():
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert fault_server.is_running()
    finally:
        resource.teardown_after_execution(None)
        fault_server.start()

"""Soak (bounded): 20 consecutive full refreshes through Dagster with one new day of orders appended
before each: every refresh succeeds, the audit tables grow by exactly what was run, and the server's
connections and memory stay flat. A dedicated embedded server, so that its processes are ours alone."""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from retailmart_dagster.assets.sql_assets import load_sql_objects
from retailmart_dagster.resources.embedded import EmbeddedPostgres
from tests.conftest import REPO, materialize_all

pytestmark = pytest.mark.integration

REFRESHES = 20
START = dt.date(2025, 9, 1)


def _append_day():  # noqa: ANN202 - the benchmark's function (one consistent new day of orders)
    spec = importlib.util.spec_from_file_location(
        "retailmart_append_day", REPO / "benchmarks" / "append_day.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.append_day


@pytest.fixture(scope="module")
def soak_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("soak_home"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _server_rss_kb(server: EmbeddedPostgres) -> int:
    """Resident memory of the postmaster and all its children (kB)."""
    state = server._load_state()  # noqa: SLF001 - test needs the data folder
    postmaster = int((Path(state.data_dir) / "postmaster.pid").read_text().split()[0])
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(entry) == postmaster or int(fields.get("PPid", "0").strip()) == postmaster:
            total += int(fields.get("VmRSS", "0 kB").split()[0] or 0)
    return total


def _client_connections(admin: psycopg.Connection) -> list[tuple]:
    """Client connections to the server other than ours, once closing ones are gone (a backend
    whose client has just closed may still be listed for a moment)."""
    query = (
        "SELECT datname, application_name, state FROM pg_stat_activity"
        " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + 5
    rows = admin.execute(query).fetchall()
    while rows and time.monotonic() < deadline:
        time.sleep(0.1)
        rows = admin.execute(query).fetchall()
    return rows


def test_twenty_refreshes_with_new_data_in_between(
    soak_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    from retailmart_dagster.generate import generate

    append_day = _append_day()
    url = soak_server.url("retailmart")
    with psycopg.connect(url) as conn:
        generate(conn, scale=0.01, seed=5, end_date=START)
    sql_objects = len(load_sql_objects())
    connections: list[list[tuple]] = []
    memory: list[int] = []
    with psycopg.connect(soak_server.url("postgres"), autocommit=True) as admin:
        for i in range(REFRESHES):
            with psycopg.connect(url) as conn:
                day = append_day(conn, seed=100 + i).day if i else START
                orders_before = conn.execute("SELECT count(*) FROM sales.orders").fetchone()[0]
                log_before = (
                    conn.execute("SELECT count(*) FROM analytics.execution_log").fetchone()[0]
                    if i
                    else 0
                )
            result = materialize_all(url, tmp_path / "data", quality_clock=day.isoformat())
            assert result.success, f"refresh {i + 1} failed"
            with psycopg.connect(url) as conn:
                run_rows = conn.execute(
                    "SELECT count(*), count(*) FILTER (WHERE status = 'success')"
                    " FROM analytics.execution_log WHERE run_id = %s",
                    (result.run_id,),
                ).fetchone()
                log_after = conn.execute("SELECT count(*) FROM analytics.execution_log").fetchone()
                ref_day = conn.execute("SELECT analytics.fn_reference_date()").fetchone()[0]
                monthly_orders = conn.execute(
                    "SELECT sum(orders) FROM analytics.mv_monthly_sales_dashboard"
                ).fetchone()[0]
                sales_orders = conn.execute(
                    "SELECT count(*) FROM sales.orders WHERE order_status <> ALL("
                    "analytics.fn_config_text_array('sales.excluded_order_statuses'))"
                ).fetchone()[0]
            # The audit log grew by one success row per SQL object of this run, nothing else (on the
            # first run the schema is built before the log exists, so it is not in it).
            expected = sql_objects if i else sql_objects - 1
            assert run_rows == (expected, expected), (i, run_rows)
            assert log_after[0] == log_before + expected
            # The new day is in the KPIs.
            assert ref_day == day
            assert orders_before > 0 and monthly_orders == sales_orders
            connections.append(_client_connections(admin))
            memory.append(_server_rss_kb(soak_server))
    # No connection left behind by any run; the server's memory does not keep growing.
    assert all(not c for c in connections), connections
    warm = max(memory[1:5])
    # The median of the last five samples: one short-lived backend (autovacuum, a parallel worker)
    # alive at the moment of sampling is a spike, not growth.
    late = sorted(memory[-5:])[2]
    assert late <= warm * 1.25 + 16_384, memory

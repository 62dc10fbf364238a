"""A server whose transaction counter has passed 2^31: the fingerprints of the quality evaluation and of
the facts (each row's xmin as a stable number) still work, and do not change when the counter does.

PostgreSQL's transaction ids are 32-bit and wrap around; age(xid) is the 32-bit difference
"now - xid" read as a signed integer. Once the counter has passed 2^31, age('3') is negative, and the
old integer form of the version print, age(xmin) - age('3'), overflowed for every row written before
the counter passed 2^31 ("integer out of range"): the main job failed in its first step, for half of
the time on any server that has run 2^31 transactions. The test moves the counter of a server of its
own (pg_resetwal, as the PostgreSQL documentation describes) to just below 2^31, writes the sample
data, lets the counter pass 2^31, and runs the main job twice (a full build and, after a new day of
orders, a daily refresh)."""

import datetime as dt
import os
import shutil
from pathlib import Path

import psycopg
import pytest

from benchmarks.append_day import append_day
from retailmart_dagster.checks.segments import table_state
from retailmart_dagster.generate import generate
from retailmart_dagster.resources.embedded import EmbeddedPostgres
from tests.conftest import KPI_END_DATE, materialize_all

pytestmark = pytest.mark.integration

START_XID = 2**31 - 20_000
XIDS_PER_COMMIT_LOG_SEGMENT = 32 * 32768  # 32 pages of 8 kB, 4 transactions per byte
COMMIT_LOG_SEGMENT_BYTES = 32 * 8192


def _move_transaction_counter(server: EmbeddedPostgres, next_xid: int) -> None:
    """With the server stopped: set its next transaction id (pg_resetwal -x; the commit log segment
    of that id must exist, zeroed) and freeze every database in single-user mode, so that none is
    older than the wraparound limit allows."""
    data = Path(server.status()["data_dir"])
    server.run_binary("pg_resetwal", ["-x", str(next_xid), "-D", "{data}"])
    segment = data / "pg_xact" / f"{next_xid // XIDS_PER_COMMIT_LOG_SEGMENT:04X}"
    segment.write_bytes(b"\0" * COMMIT_LOG_SEGMENT_BYTES)
    if os.geteuid() == 0:  # the server runs as an unprivileged user, who owns its data folder
        owner = data.stat()
        os.chown(segment, owner.st_uid, owner.st_gid)
    for database in ("template0", "template1", "postgres", "retailmart", "dagster"):
        server.run_binary("postgres", ["--single", "-D", "{data}", database], "VACUUM FREEZE;\n")


def _pass_transactions(conn: psycopg.Connection, until: int) -> int:
    """Commit transactions until the next transaction id is at least until; returns it."""
    conn.execute(
        f"""
        DO $$
        BEGIN
            WHILE pg_snapshot_xmax(pg_current_snapshot())::text::bigint < {until} LOOP
                PERFORM pg_current_xact_id();
                COMMIT;
            END LOOP;
        END
        $$
        """
    )
    return int(
        conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint").fetchone()[0]
    )


@pytest.fixture
def server_near_xid_2_31() -> EmbeddedPostgres:
    home = Path(__file__).resolve().parents[2] / ".retailmart-test" / f"xid-{os.getpid()}"
    shutil.rmtree(home, ignore_errors=True)
    server = EmbeddedPostgres(home)
    try:
        server.start()
        server.stop()
        _move_transaction_counter(server, START_XID)
        server.start()
        yield server
    finally:
        server.stop()
        data_dir = server.status().get("data_dir")
        shutil.rmtree(home, ignore_errors=True)
        if data_dir:  # its runtime folder (elsewhere when the server user cannot reach home)
            shutil.rmtree(Path(data_dir).parent, ignore_errors=True)


def test_main_job_after_the_transaction_counter_passed_2_31(
    server_near_xid_2_31: EmbeddedPostgres, tmp_path: Path
) -> None:
    url = server_near_xid_2_31.url("retailmart")
    with psycopg.connect(url, autocommit=True) as conn:
        assert START_XID <= _pass_transactions(conn, START_XID) < 2**31
        generate(conn, scale=0.01, seed=11, end_date=KPI_END_DATE)
        assert conn.execute("SELECT age('3'::xid) > 0").fetchone()[0]
        customers_before = table_state(conn, ("customers", "customers"))
        orders_before = table_state(conn, ("sales", "orders"), "order_id", 1)
        # Past 2^31 (+ 3, the id age() is measured against): age('3') is now negative.
        _pass_transactions(conn, 2**31 + 1_000)
        assert conn.execute("SELECT age('3'::xid) < 0").fetchone()[0]
        # The same rows have the same prints (versions and content), whatever the counter.
        assert table_state(conn, ("customers", "customers")) == customers_before
        assert table_state(conn, ("sales", "orders"), "order_id", 1) == orders_before

    full = materialize_all(url, tmp_path / "full")
    assert full.success, [e.step_key for e in full.all_events if e.is_step_failure]

    with psycopg.connect(url) as conn:
        day = append_day(conn, seed=3).day
    assert day == KPI_END_DATE + dt.timedelta(days=1)
    daily = materialize_all(url, tmp_path / "daily", quality_clock=day.isoformat())
    assert daily.success, [e.step_key for e in daily.all_events if e.is_step_failure]
    with psycopg.connect(url) as conn:
        loaded = conn.execute(
            "SELECT count(*) FILTER (WHERE order_date = %s), count(*) FROM analytics.fact_orders",
            (day,),
        ).fetchone()
        orders = conn.execute("SELECT count(*) FROM sales.orders").fetchone()[0]
    assert loaded[0] > 0 and loaded[1] == orders

"""Shared fixtures: a real PostgreSQL server started by the test suite itself (the embedded default),
sample data from the real generator, and the whole asset graph materialized by a real Dagster run.

The server's home is ``.retailmart-test/`` in the repository (``$RETAILMART_TEST_HOME`` overrides);
the server is stopped when the session ends, so no process is left behind.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from retailmart_dagster.resources.embedded import EmbeddedPostgres

REPO = Path(__file__).resolve().parent.parent
KPI_SCALE = 0.05
KPI_SEED = 7
KPI_END_DATE = dt.date(2025, 10, 1)


def _url_for(admin_url: str, dbname: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{dbname}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedPostgres]:
    home = Path(os.environ.get("RETAILMART_TEST_HOME") or REPO / ".retailmart-test")
    server = EmbeddedPostgres(home)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_admin_url(pg_server: EmbeddedPostgres) -> str:
    """URL of the admin database of the test server (CREATE DATABASE allowed)."""
    return pg_server.url("postgres")


def create_database(admin_url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return _url_for(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    name = url.rpartition("/")[2]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def new_database(pg_admin_url: str) -> Iterator[Callable[[str], str]]:
    """Factory: a fresh, empty database URL (dropped after the test)."""
    created: list[str] = []

    def make(prefix: str = "t") -> str:
        url = create_database(pg_admin_url, prefix)
        created.append(url)
        return url

    yield make
    for url in created:
        drop_database(pg_admin_url, url)


def materialize_all(
    database_url: str,
    dashboard_dir: Path,
    instance=None,  # noqa: ANN001
    quality_clock: str | None = KPI_END_DATE.isoformat(),
):  # noqa: ANN201
    """Run the main job through Dagster (its own executor, in this process) and return its result.

    The one wall-clock data-quality check (latest order vs. the run's clock) is pinned to the sample
    data's last day, as if the run happened that day; pass quality_clock=None for the real clock."""
    from dagster import DagsterInstance

    from retailmart_dagster.definitions import FULL_REFRESH_JOB, build_definitions
    from retailmart_dagster.executor import run_job

    defs = build_definitions(
        database_url=database_url, dashboard_dir=str(dashboard_dir), quality_clock=quality_clock
    )
    job = defs.resolve_job_def(FULL_REFRESH_JOB)
    instance = instance or DagsterInstance.ephemeral()
    return run_job(job, instance=instance, raise_on_error=False)


@pytest.fixture(scope="session")
def kpi_source_url(pg_admin_url: str) -> Iterator[str]:
    """A database with generated sample data (scale 0.05, seed 7, last order day 2025-10-01)."""
    from retailmart_dagster.generate import generate

    url = create_database(pg_admin_url, "kpi")
    with psycopg.connect(url) as conn:
        generate(conn, scale=KPI_SCALE, seed=KPI_SEED, end_date=KPI_END_DATE)
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture(scope="session")
def kpi_dashboard_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dashboard_data")


@pytest.fixture(scope="session")
def kpi_run(kpi_source_url: str, kpi_dashboard_dir: Path):  # noqa: ANN201
    """The Dagster result of materializing every asset on the KPI database."""
    result = materialize_all(kpi_source_url, kpi_dashboard_dir)
    if not result.success:
        failures = [
            f"{e.step_key}: {e.event_specific_data.error.message.strip()[:500]}"
            for e in result.all_events
            if e.is_step_failure
        ]
        pytest.fail("full materialization failed:\n" + "\n".join(failures))
    return result


@pytest.fixture(scope="session")
def kpi_db_url(kpi_source_url: str, kpi_run) -> str:  # noqa: ANN001
    """URL of a database where every analytics object has been built."""
    return kpi_source_url


@pytest.fixture
def kpi_conn(kpi_db_url: str) -> Iterator[psycopg.Connection]:
    """Autocommit connection to the fully materialized KPI database."""
    with psycopg.connect(kpi_db_url, autocommit=True) as conn:
        yield conn

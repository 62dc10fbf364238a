"""What a run says when something goes wrong: the UI headline of a step whose database stayed
unreachable names that cause (not Dagster's "Exceeded max_retries"), and a build that waited for
another run's build of the same object says how long it waited."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from dagster import materialize

from retailmart_dagster.assets import sql_assets
from retailmart_dagster.assets.builder import SqlBuilder
from retailmart_dagster.assets.sql_parse import SQL_DIR, parse_sql_file
from retailmart_dagster.resources.postgres import PostgresResource

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-Headline-pw"


def test_after_the_last_retry_the_failure_names_the_unreachable_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sql_assets, "UNREACHABLE_RETRY_WAIT_S", 0)
    schema = parse_sql_file(SQL_DIR / "setup" / "schema_analytics.sql")
    assets = sql_assets.build_sql_assets([schema])
    dead = f"postgresql://retailmart:{SECRET}@127.0.0.1:1/retailmart"
    result = materialize(
        assets, resources={"postgres": PostgresResource(database_url=dead)}, raise_on_error=False
    )
    assert not result.success
    kinds = [e.event_type_value for e in result.all_events if e.step_key]
    assert kinds.count("STEP_UP_FOR_RETRY") == sql_assets.UNREACHABLE_RETRIES, kinds
    failure = next(e for e in result.all_events if e.is_step_failure)
    error = failure.event_specific_data.error
    # The headline the UI shows is the top error's message: the cause, password masked.
    assert error.cls_name == "Failure", error.cls_name
    assert "unreachable" in error.message and "Exceeded max_retries" not in error.message
    assert "retailmart:***@127.0.0.1:1" in error.message and SECRET not in error.to_string()


def test_a_build_that_waited_for_the_lock_records_the_wait(new_database) -> None:  # noqa: ANN001
    url = new_database("lockwait")
    schema = parse_sql_file(SQL_DIR / "setup" / "schema_analytics.sql")
    builder = SqlBuilder([schema])
    with psycopg.connect(url) as conn:
        assert builder.build(conn, schema).lock_wait_s is None  # no one else: no wait reported
    with (
        psycopg.connect(url, autocommit=True) as other,
        psycopg.connect(url) as conn,
    ):
        other.execute("SELECT pg_advisory_lock(hashtext('retailmart:schema_analytics'))")
        release = threading.Timer(0.5, lambda: other.execute("SELECT pg_advisory_unlock_all()"))
        started = time.perf_counter()
        release.start()
        try:
            result = builder.build(conn, schema)
        finally:
            release.join()
    assert result.lock_wait_s is not None
    assert 0.4 <= result.lock_wait_s <= time.perf_counter() - started, result.lock_wait_s

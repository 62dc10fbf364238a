"""The pooled Dagster storage pings only connections that sat idle, replaces dead ones before use,
and remembers positive schema look-ups (retailmart_dagster/storage.py)."""

from pathlib import Path

import psycopg
import pytest
from dagster import DagsterInstance, job, op
from sqlalchemy import event as sa_event

import retailmart_dagster.storage as storage_module
from retailmart_dagster.runtime import storage_password_env, write_dagster_home

pytestmark = pytest.mark.integration


@op
def _one() -> int:
    return 1


@op
def _two(value: int) -> int:
    return value + 1


@job
def _steps() -> None:
    _two(_one())


@pytest.fixture
def instance(new_database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201
    storage_url = new_database("ping_storage")
    home = write_dagster_home(tmp_path / "dagster_home", storage_url)
    for name, value in storage_password_env(storage_url).items():
        monkeypatch.setenv(name, value)
    inst = DagsterInstance.from_config(str(home))
    inst.storage_url = storage_url  # for the test's own admin queries
    try:
        yield inst
    finally:
        inst.dispose()


def _kill_storage_backends(pg_admin_url: str, storage_url: str) -> int:
    dbname = storage_url.rpartition("/")[2]
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        ).fetchone()[0]


def test_dead_pooled_connections_are_replaced_after_idle(
    instance, pg_admin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    assert _steps.execute_in_process(instance=instance).success  # the pools now hold connections
    assert _kill_storage_backends(pg_admin_url, instance.storage_url) > 0
    # Every pooled connection has now been idle longer than the threshold: each is pinged, found
    # dead and replaced before Dagster uses it, so the run does not notice.
    monkeypatch.setattr(storage_module, "PING_AFTER_IDLE_S", 0.0)
    result = _steps.execute_in_process(instance=instance)
    assert result.success
    stored = instance.get_run_by_id(result.run_id)
    assert stored is not None and stored.is_success


def test_only_connections_idle_past_the_threshold_are_pinged(
    instance, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    pings: list[int] = []
    real_ping = storage_module._ping

    def counting_ping(dbapi_connection) -> None:  # noqa: ANN001
        pings.append(1)
        real_ping(dbapi_connection)

    monkeypatch.setattr(storage_module, "_ping", counting_ping)
    checkouts: list[int] = []
    sa_event.listen(instance.event_log_storage._engine, "checkout", lambda *_a: checkouts.append(1))
    assert _steps.execute_in_process(instance=instance).success
    assert _steps.execute_in_process(instance=instance).success
    # Dagster checks out a connection for nearly every stored event; a run reuses them within
    # milliseconds, far below the threshold (seconds), so none is pinged.
    assert storage_module.PING_AFTER_IDLE_S >= 1.0
    assert len(checkouts) >= 20
    assert pings == []
    # With a zero threshold every reused connection is pinged (what pool_pre_ping always did).
    monkeypatch.setattr(storage_module, "PING_AFTER_IDLE_S", 0.0)
    checkouts.clear()
    assert _steps.execute_in_process(instance=instance).success
    assert len(pings) >= len(checkouts) // 2 > 0


def test_positive_schema_lookups_are_remembered(instance) -> None:  # noqa: ANN001
    storage = instance.event_log_storage
    executed: list[str] = []
    sa_event.listen(
        storage._engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_a: executed.append(statement),
    )
    assert storage.has_table("event_logs")
    assert storage.has_asset_key_index_cols()
    first = len(executed)
    assert first > 0
    for _ in range(5):
        assert storage.has_table("event_logs")
        assert storage.has_asset_key_index_cols()
    assert len(executed) == first
    # A table that does not exist is asked again each time (a migration may create it).
    assert not storage.has_table("no_such_table_here")
    asked = len(executed)
    assert not storage.has_table("no_such_table_here")
    assert len(executed) > asked

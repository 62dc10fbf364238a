"""Dagster's instance storage as `retailmart` writes it: PostgreSQL through pooled connections
(retailmart_dagster/storage.py), so a run does not open a new connection for every stored event."""

from pathlib import Path

import pytest
import sqlalchemy.pool as db_pool
from dagster import DagsterInstance, job, op
from sqlalchemy import event as sa_event

from retailmart_dagster.runtime import STORAGE_CLASSES, storage_password_env, write_dagster_home
from retailmart_dagster.storage import (
    PooledPostgresEventLogStorage,
    PooledPostgresRunStorage,
    PooledPostgresScheduleStorage,
)

pytestmark = pytest.mark.integration


@op
def _step_one() -> int:
    return 1


@op
def _step_two(value: int) -> int:
    return value + 1


@job
def _two_steps() -> None:
    _step_two(_step_one())


def test_instance_uses_pooled_storage_and_runs_a_job(
    new_database,  # noqa: ANN001
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage_url = new_database("pooled_storage")
    home = write_dagster_home(tmp_path / "dagster_home", storage_url)
    for name, value in storage_password_env(storage_url).items():
        monkeypatch.setenv(name, value)  # dagster.yaml reads the password from the environment
    instance = DagsterInstance.from_config(str(home))
    try:
        assert isinstance(instance.run_storage, PooledPostgresRunStorage)
        assert isinstance(instance.event_log_storage, PooledPostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PooledPostgresScheduleStorage)
        for storage in (
            instance.run_storage,
            instance.event_log_storage,
            instance.schedule_storage,
        ):
            assert isinstance(storage._engine.pool, db_pool.QueuePool)
        # The instance reference handed to run workers and code servers names the same classes.
        ref = instance.get_ref()
        assert ref.run_storage_data.class_name == STORAGE_CLASSES["run_storage"]
        assert ref.event_storage_data.class_name == STORAGE_CLASSES["event_log_storage"]
        assert ref.schedule_storage_data.class_name == STORAGE_CLASSES["schedule_storage"]
        assert ref.run_storage_data.module_name == "retailmart_dagster.storage"

        result = _two_steps.execute_in_process(instance=instance)  # warm-up: opens the pools
        assert result.success
        connects: list[str] = []
        for name in ("run_storage", "event_log_storage", "schedule_storage"):
            engine = getattr(instance, name)._engine
            sa_event.listen(engine, "connect", lambda *_a, n=name: connects.append(n))
        result = _two_steps.execute_in_process(instance=instance)
        assert result.success
        opened = len(connects)
        events = len(instance.all_logs(result.run_id))
        # Dozens of events were stored through a handful of connections (NullPool: one each).
        assert events >= 10
        assert opened < events / 2, (opened, events)
        stored = instance.get_run_by_id(result.run_id)
        assert stored is not None and stored.is_success
    finally:
        instance.dispose()
    # Disposing the instance closes the idle pooled connections.
    for storage in (instance.run_storage, instance.event_log_storage, instance.schedule_storage):
        assert storage._engine.pool.checkedin() == 0

"""Dagster's instance storage as `retailmart` writes it: PostgreSQL through pooled connections
(retailmart_dagster/storage.py), so a run does not open a new connection for every stored event."""

import os
from pathlib import Path

import pytest
import sqlalchemy.pool as db_pool
from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    asset,
    asset_check,
    job,
    materialize,
    op,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster_postgres.event_log import PostgresEventLogStorage
from sqlalchemy import event as sa_event

from retailmart_dagster.runtime import STORAGE_CLASSES, storage_password_env, write_dagster_home
from retailmart_dagster.storage import (
    EVENT_BATCH_SIZE,
    EVENT_BATCH_SIZE_ENV,
    PooledPostgresEventLogStorage,
    PooledPostgresRunStorage,
    PooledPostgresScheduleStorage,
    _stored_record,
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
        statements: list[str] = []
        sa_event.listen(
            instance.event_log_storage._engine,
            "before_cursor_execute",
            lambda _c, _cur, statement, *_a: statements.append(statement),
        )
        result = _two_steps.execute_in_process(instance=instance)
        assert result.success
        # Every event stored, none followed by dagster-postgres's NOTIFY (nothing LISTENs).
        assert (
            sum(s.lstrip().upper().startswith("INSERT INTO EVENT_LOGS") for s in statements) >= 10
        )
        assert not [s for s in statements if "NOTIFY" in s.upper()]
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


@asset
def _planned_a() -> int:
    return 1


@asset
def _planned_b(_planned_a: int) -> int:
    return _planned_a + 1


@asset_check(asset=_planned_b)
def _planned_b_positive(_planned_b: int) -> AssetCheckResult:
    return AssetCheckResult(passed=_planned_b > 0)


def test_a_runs_planned_events_are_stored_as_one_batch_with_the_same_records(
    new_database,  # noqa: ANN001
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run's planned events (one per asset and per asset check) reach the pooled event log as one
    batch (importing retailmart_dagster.storage sets DAGSTER_EVENT_BATCH_SIZE), stored with one
    INSERT: the records are those stored event by event (DAGSTER_EVENT_BATCH_SIZE=0): the planned
    events in the run's log and by asset key, each asset's index row naming the run, and each
    check's execution, planned then evaluated."""
    storage_url = new_database("planned_batch")
    home = write_dagster_home(tmp_path / "dagster_home", storage_url)
    for name, value in storage_password_env(storage_url).items():
        monkeypatch.setenv(name, value)
    assert os.environ[EVENT_BATCH_SIZE_ENV] == str(EVENT_BATCH_SIZE)
    batches: list[list[str]] = []
    original = PooledPostgresEventLogStorage.store_event_batch

    def spy(self, events):  # noqa: ANN001, ANN202
        batches.append([e.dagster_event_type.value for e in events])
        return original(self, events)

    monkeypatch.setattr(PooledPostgresEventLogStorage, "store_event_batch", spy)
    assets = [_planned_a, _planned_b, _planned_b_positive]
    check_key = AssetCheckKey(AssetKey("_planned_b"), "_planned_b_positive")
    instance = DagsterInstance.from_config(str(home))
    try:

        def records(run_id: str) -> tuple:
            planned = sorted(
                (e.dagster_event.event_type_value, e.dagster_event.step_key)
                for e in instance.all_logs(run_id)
                if e.dagster_event is not None
                and e.dagster_event.event_type
                in (
                    DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
                    DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
                )
            )
            # Found by asset key (the event log's asset_key column), with the asset's index row
            # naming the run (its last_run_id, written by the planned event, then the
            # materialization).
            for key in (AssetKey("_planned_a"), AssetKey("_planned_b")):
                latest = instance.get_latest_planned_materialization_info(key)
                assert latest is not None and latest.run_id == run_id
            for record in instance.get_asset_records(
                [AssetKey("_planned_a"), AssetKey("_planned_b")]
            ):
                assert record.asset_entry.last_run_id == run_id
            (execution,) = instance.event_log_storage.get_asset_check_execution_history(
                check_key, limit=1
            )
            assert execution.run_id == run_id
            return planned, execution.status

        one_by_one_batches = len(batches)
        monkeypatch.setenv(EVENT_BATCH_SIZE_ENV, "0")
        one_by_one = materialize(assets, instance=instance)
        assert one_by_one.success
        assert len(batches) == one_by_one_batches  # stored event by event
        expected = records(one_by_one.run_id)
        monkeypatch.setenv(EVENT_BATCH_SIZE_ENV, str(EVENT_BATCH_SIZE))
        batched = materialize(assets, instance=instance)
        assert batched.success
        assert len(batches) == one_by_one_batches + 1
        assert sorted(batches[-1]) == [
            "ASSET_CHECK_EVALUATION_PLANNED",
            "ASSET_MATERIALIZATION_PLANNED",
            "ASSET_MATERIALIZATION_PLANNED",
        ]
        assert records(batched.run_id) == expected
        assert len(expected[0]) == 3
        assert expected[1] == AssetCheckExecutionRecordStatus.SUCCEEDED
    finally:
        instance.dispose()


def test_latest_materialization_records_are_dagsters_own_deserialized_once(
    new_database,  # noqa: ANN001
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pooled event log reads each asset's latest materialization as Dagster's own method does
    (the same records, a wiped asset's dropped), and deserializes each stored record once: Dagster
    reads the latest materialization of every parent at the start of every step."""
    storage_url = new_database("latest_records")
    home = write_dagster_home(tmp_path / "dagster_home", storage_url)
    for name, value in storage_password_env(storage_url).items():
        monkeypatch.setenv(name, value)
    keys = [AssetKey("_planned_a"), AssetKey("_planned_b")]
    instance = DagsterInstance.from_config(str(home))
    try:
        assert materialize([_planned_a, _planned_b], instance=instance).success
        second = materialize([_planned_a, _planned_b], instance=instance)
        assert second.success
        storage = instance.event_log_storage
        rows = storage._fetch_asset_rows(asset_keys=keys)
        ours = storage._get_latest_materialization_records(rows)
        dagsters = PostgresEventLogStorage._get_latest_materialization_records(storage, rows)
        assert ours == dagsters
        assert sorted(ours) == keys
        assert {record.run_id for record in ours.values()} == {second.run_id}
        # The step of _planned_b read _planned_a's latest materialization (its data version is
        # _planned_b's input data version).
        latest_a = instance.get_latest_materialization_event(AssetKey("_planned_a"))
        latest_b = instance.get_latest_materialization_event(AssetKey("_planned_b"))
        assert latest_a is not None and latest_b is not None
        assert (
            latest_b.tags["dagster/input_data_version/_planned_a"]
            == (latest_a.tags["dagster/data_version"])
        )

        _stored_record.cache_clear()
        for _ in range(3):
            records = instance.get_asset_records(keys)
            assert [r.asset_entry.last_materialization_record for r in records] == [
                ours[r.asset_entry.asset_key] for r in records
            ]
        info = _stored_record.cache_info()
        assert (info.misses, info.hits) == (2, 4)

        # A wiped asset's stored record predates the wipe: not its latest materialization.
        instance.wipe_assets([AssetKey("_planned_a")])
        rows = storage._fetch_asset_rows(asset_keys=keys)
        after_wipe = storage._get_latest_materialization_records(rows)
        assert after_wipe == PostgresEventLogStorage._get_latest_materialization_records(
            storage, rows
        )
        assert after_wipe.get(AssetKey("_planned_a")) is None
        assert after_wipe[AssetKey("_planned_b")] == ours[AssetKey("_planned_b")]
    finally:
        instance.dispose()

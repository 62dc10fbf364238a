"""Dagster's instance storage on PostgreSQL with pooled connections.

dagster-postgres opens its SQLAlchemy engines with ``NullPool``: every stored event (about ten per
materialized asset) connects to PostgreSQL anew (TCP handshake, SCRAM authentication, backend start),
which costs tens of milliseconds per asset. These subclasses keep the same tables, migrations and
behaviour and only swap the engine for a small ``QueuePool`` (recycled hourly, discarded in a forked
child). ``runtime.dagster_yaml`` configures them:

    run_storage:
      module: retailmart_dagster.storage
      class: PooledPostgresRunStorage
      config: {postgres_db: {...}}

(and the same for ``event_log_storage`` / ``schedule_storage``). A process holds at most
``POOL_SIZE`` idle connections per storage; the webserver's own tuning (``optimize_for_webserver``)
is left as dagster-postgres does it.

Three more per-event costs are removed (measured on a 153-step run: 5,822 storage statements, of
which 2,376 were pings and 697 schema look-ups; the third on a daily refresh of the main job: 991
events):

* SQLAlchemy's ``pool_pre_ping`` pings on EVERY checkout, about 15 times per step. A connection is
  pinged here only when it sat idle in the pool for more than ``PING_AFTER_IDLE_S``; a dead one is
  replaced before use (the pool retries with a new connection), so a restarted server or a killed
  backend is still survived, while connections reused within a run are not pinged.
* The event log asks PostgreSQL, for every stored materialization, whether tables and asset-key
  columns exist (schema migrations). A positive answer is cached: tables and columns are not dropped
  under a running process; a negative answer is asked again (a migration may add them).
* dagster-postgres sends ``NOTIFY run_events`` after every stored event, only for readers of older
  Dagster versions (its own watcher polls; nothing LISTENs):
  ``PooledPostgresEventLogStorage.store_event`` stores the same rows without it.

And one per-step cost: at the start of every step Dagster reads the latest materialization of each
of the step's parent assets (their data versions, for the step's provenance), a stored JSON
document of 1-8 KB each, deserialized on every read: about 940 reads of 185 records in a daily
refresh of the main job. ``PooledPostgresEventLogStorage`` deserializes each stored record once per
process (an LRU cache keyed by the stored text, which includes the record's storage id); the
Python CPU of a daily refresh at scale 10 went from 2.66-2.84 to 2.39-2.55 s (three interleaved
pairs).

And one per-run cost: when a run is created, Dagster reports a "planned" event for every asset and
asset check it will run (ASSET_MATERIALIZATION_PLANNED, ASSET_CHECK_EVALUATION_PLANNED: 181 for the
main job, whose checks the data-quality evaluation reports) as one batch, which dagster-postgres
stores event by event (an INSERT and a NOTIFY each, then the asset's index row in a transaction of
its own). :meth:`PooledPostgresEventLogStorage.store_event_batch` stores such a batch with one
INSERT of all the events and one transaction for the assets' index rows (the checks' planned
executions are written as before). Dagster hands the batch over only when
``DAGSTER_EVENT_BATCH_SIZE`` is set: importing this module sets it (unless it is set already) in
every process that uses these storages, the one that creates a run included. For the main job (a
daily refresh at scale 10) the planned events took 0.29-0.31 s of the run's creation stored one by
one, 0.11-0.12 s as a batch; the run's first step started 0.41-0.46 s after the run was asked for
instead of 0.59-0.64 s.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

import sqlalchemy.pool as db_pool
from dagster import AssetKey
from dagster._core.assets import AssetDetails
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS, DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.base import EventLogRecord
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._serdes import ConfigurableClassData, deserialize_value
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
)
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

POOL_SIZE = 2
MAX_OVERFLOW = 8
POOL_RECYCLE_S = 3600
PING_AFTER_IDLE_S = 2.0
# Deserialized latest-materialization records remembered per process (see _stored_record): a run
# reads the records of the assets it materializes and of their parents (185 in a daily refresh).
RECORD_CACHE_SIZE = 512
_CHECKED_IN_AT = "retailmart_checked_in_at"

_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()

# Dagster passes batched events (a run's planned events) to store_event_batch only when this is set;
# one batch holds up to this many events.
EVENT_BATCH_SIZE_ENV = "DAGSTER_EVENT_BATCH_SIZE"
EVENT_BATCH_SIZE = 1000
os.environ.setdefault(EVENT_BATCH_SIZE_ENV, str(EVENT_BATCH_SIZE))
_PLANNED_EVENTS = frozenset(
    {
        DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
        DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
    }
)


def _forget_engines_in_child() -> None:
    # A forked child must not use (or close) its parent's sockets: drop the pooled connections
    # without closing them; the child opens its own on first use.
    for engine in list(_ENGINES):
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_engines_in_child)


def pooled_engine(postgres_url: str, token_provider: Any = None) -> Engine:
    """An AUTOCOMMIT engine (as dagster-postgres uses) with a small QueuePool."""
    engine = create_pg_engine(
        postgres_url,
        token_provider,
        isolation_level="AUTOCOMMIT",
        poolclass=db_pool.QueuePool,
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        pool_recycle=POOL_RECYCLE_S,
    )
    sa_event.listen(engine, "checkin", _remember_checkin)
    sa_event.listen(engine, "checkout", _ping_if_idle)
    _ENGINES.add(engine)
    return engine


def _remember_checkin(dbapi_connection: Any, record: Any) -> None:
    record.info[_CHECKED_IN_AT] = time.monotonic()


def _ping(dbapi_connection: Any) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Ping a connection that sat idle longer than PING_AFTER_IDLE_S; a dead one is replaced."""
    checked_in = record.info.get(_CHECKED_IN_AT)
    if checked_in is None or time.monotonic() - checked_in <= PING_AFTER_IDLE_S:
        return  # new (just connected) or reused within moments: no round trip
    try:
        _ping(dbapi_connection)
    except Exception as exc:  # noqa: BLE001 - any failure means: do not use this connection
        # The pool invalidates this connection and checks out (or opens) another one.
        raise sa_exc.DisconnectionError(f"stale pooled connection: {exc}") from exc


def _use_pool(storage: Any) -> None:
    previous = storage._engine
    storage._engine = pooled_engine(storage.postgres_url, storage._token_provider)
    previous.dispose()


def _kwargs(inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]) -> dict:
    return {
        "inst_data": inst_data,
        "postgres_url": pg_url_from_config(config_value),
        "should_autocreate_tables": config_value.get("should_autocreate_tables", True),
        "token_provider": get_token_provider_from_config(config_value),
    }


class _Pooled:
    """Mixin for the dagster-postgres storages: pooled connections instead of one per event."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _use_pool(self)

    def dispose(self) -> None:
        super().dispose()  # type: ignore[misc]
        self._engine.dispose()  # close the idle pooled connections

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> Any:
        return cls(**_kwargs(inst_data, config_value))


class PooledPostgresRunStorage(_Pooled, PostgresRunStorage):
    """``PostgresRunStorage`` whose connections are pooled."""


@lru_cache(maxsize=RECORD_CACHE_SIZE)
def _stored_record(text: str) -> Any:
    """A stored latest-materialization document deserialized, remembered by its exact text: the
    same text is the same record (its storage id is part of it), and records are immutable
    (NamedTuples), so the object is shared. Deserializing one took 0.1-0.25 ms of Python."""
    return deserialize_value(text, NamedTuple)  # type: ignore[arg-type]


class PooledPostgresEventLogStorage(_Pooled, PostgresEventLogStorage):
    """``PostgresEventLogStorage`` whose connections are pooled and whose schema look-ups are
    remembered once positive."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._tables_present: set[str] = set()
        self._asset_key_columns_present: set[str] = set()
        super().__init__(*args, **kwargs)

    def has_table(self, table_name: str) -> bool:
        if table_name in self._tables_present:
            return True
        found = super().has_table(table_name)
        if found:
            self._tables_present.add(table_name)
        return found

    def _has_asset_key_col_on_connection(self, conn: Any, column_name: str) -> bool:
        if column_name in self._asset_key_columns_present:
            return True
        found = super()._has_asset_key_col_on_connection(conn, column_name)
        if found:
            self._asset_key_columns_present.add(column_name)
        return found

    def _get_latest_materialization_records(
        self, raw_asset_rows: Any
    ) -> Mapping[AssetKey, EventLogRecord | None]:
        """Each asset row's latest materialization, as Dagster reads it (``get_asset_records``), with
        the stored record's deserialization remembered (:func:`_stored_record`): at the start of
        every step Dagster reads the latest materialization of each of the step's parents, about 940
        reads of 185 records in a daily refresh, each a 1-8 KB JSON document. A row whose record is
        missing, of an older format or older than the asset's last wipe goes to Dagster's own
        method (which then reads the event log)."""
        results: dict[AssetKey, EventLogRecord | None] = {}
        others = []
        for row in raw_asset_rows:
            asset_key = AssetKey.from_db_string(row["asset_key"])
            if not asset_key:
                continue
            text = row["last_materialization"]
            record = _stored_record(text) if text else None
            details = AssetDetails.from_db_string(row["asset_details"])
            wiped_at = details.last_wipe_timestamp if details else None
            if isinstance(record, EventLogRecord) and (
                wiped_at is None or record.event_log_entry.timestamp > wiped_at
            ):
                results[asset_key] = record
            else:
                others.append(row)
        if others:
            results.update(super()._get_latest_materialization_records(others))
        return results

    def store_event(self, event: EventLogEntry) -> None:
        """What dagster-postgres stores for an event (the row, then an asset event's index rows
        and tags, then an asset check's execution), without its ``NOTIFY run_events`` after each
        event: dagster-postgres keeps it only for readers of older versions (its own watcher polls,
        nothing in this Dagster LISTENs), and it cost a round trip per event, about 990 per daily
        refresh."""
        with self._connect() as conn:
            row = conn.execute(
                self.prepare_insert_event(event).returning(SqlEventLogStorageTable.c.id)
            ).fetchone()
        self._index_events([event], [int(row[0])])

    def _index_events(self, events: list[EventLogEntry], ids: list[int]) -> None:
        """After the events' rows (ids in the same order): the asset events' tags and index rows
        in one transaction, then each asset check event's execution, as dagster-postgres does."""
        assets = [
            (event, event_id)
            for event, event_id in zip(events, ids, strict=True)
            if event.is_dagster_event
            and event.dagster_event_type in ASSET_EVENTS
            and event.get_dagster_event().asset_key
        ]
        if assets:
            with self.index_transaction() as conn:
                self._store_asset_event_tags(conn, [e for e, _ in assets], [i for _, i in assets])
                for event, event_id in assets:
                    self._store_asset_event(conn, event, event_id)
        for event, event_id in zip(events, ids, strict=True):
            if event.is_dagster_event and event.dagster_event_type in ASSET_CHECK_EVENTS:
                self.store_asset_check_event(event, event_id)

    def store_event_batch(self, events: Any) -> None:
        """A batch of planned events in one INSERT (ids returned in the rows' order) and one
        transaction for the assets' index rows, then each check's planned execution: what
        :meth:`store_event` does for each. Any other batch as dagster-postgres stores it."""
        batch: list[EventLogEntry] = list(events)
        if not batch or any(
            not e.is_dagster_event or e.dagster_event_type not in _PLANNED_EVENTS for e in batch
        ):
            super().store_event_batch(batch)
            return
        with self._connect() as conn:
            rows = conn.execute(
                self.prepare_insert_event_batch(batch).returning(SqlEventLogStorageTable.c.id)
            ).fetchall()
        ids = [int(row[0]) for row in rows]
        if len(ids) != len(batch):
            raise RuntimeError(f"stored {len(ids)} of {len(batch)} planned events")
        self._index_events(batch, ids)


class PooledPostgresScheduleStorage(_Pooled, PostgresScheduleStorage):
    """``PostgresScheduleStorage`` whose connections are pooled."""


STORAGE_CLASSES = {
    "run_storage": PooledPostgresRunStorage,
    "event_log_storage": PooledPostgresEventLogStorage,
    "schedule_storage": PooledPostgresScheduleStorage,
}

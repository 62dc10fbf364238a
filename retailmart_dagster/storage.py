"""Dagster's instance storage on PostgreSQL with pooled connections.

dagster-postgres opens its SQLAlchemy engines with ``NullPool``: every stored event (about ten per
materialized asset) connects to PostgreSQL anew (TCP handshake, SCRAM authentication, backend start),
which costs tens of milliseconds per asset. These subclasses keep the same tables, migrations and
behaviour and only swap the engine for a small ``QueuePool`` (connections checked with a ping before
use, recycled hourly, discarded in a forked child). ``runtime.dagster_yaml`` configures them:

    run_storage:
      module: retailmart_dagster.storage
      class: PooledPostgresRunStorage
      config: {postgres_db: {...}}

(and the same for ``event_log_storage`` / ``schedule_storage``). A process holds at most
``POOL_SIZE`` idle connections per storage; the webserver's own tuning (``optimize_for_webserver``)
is left as dagster-postgres does it.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping
from typing import Any

import sqlalchemy.pool as db_pool
from dagster._serdes import ConfigurableClassData
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
)
from sqlalchemy.engine import Engine

POOL_SIZE = 2
MAX_OVERFLOW = 8
POOL_RECYCLE_S = 3600

_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


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
        pool_pre_ping=True,
    )
    _ENGINES.add(engine)
    return engine


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


class PooledPostgresEventLogStorage(_Pooled, PostgresEventLogStorage):
    """``PostgresEventLogStorage`` whose connections are pooled."""


class PooledPostgresScheduleStorage(_Pooled, PostgresScheduleStorage):
    """``PostgresScheduleStorage`` whose connections are pooled."""


STORAGE_CLASSES = {
    "run_storage": PooledPostgresRunStorage,
    "event_log_storage": PooledPostgresEventLogStorage,
    "schedule_storage": PooledPostgresScheduleStorage,
}

"""The project's database resource (psycopg 3).

``database_url`` comes from ``RETAILMART_DATABASE_URL`` (through ``EnvVar`` in the definitions, so the
UI never shows it). When it is unset, the resource starts or reuses the embedded server at run time —
never at import time.

Least privilege (``sql/setup/roles.sql``): once setup has handed the analytics schema to the pipeline
role (``security.pipeline_role``), every connection the resource opens switches to that role
(``SET ROLE``) when its login user is a member, so every object is built and owned by the pipeline
role, whatever login (a superuser, or a login that is only a member of that role) runs the pipeline.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from dagster import ConfigurableResource
from psycopg import sql
from pydantic import Field, PrivateAttr

from retailmart_dagster.config import config_value
from retailmart_dagster.resources.embedded import EmbeddedPostgres

DATABASE_URL_ENV = "RETAILMART_DATABASE_URL"


class DatabaseUnreachableError(RuntimeError):
    """The database server cannot be reached."""


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, for messages and metadata."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


_URL_PASSWORD_RE = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*):[^@\s]*@", re.I)
_CONNINFO_PASSWORD_RE = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.I)


def mask_urls(text: str) -> str:
    """``text`` with the password of every URL (``scheme://user:secret@``) and every conninfo
    ``password=...`` replaced by ***: for messages built from errors that may quote a URL."""
    text = _URL_PASSWORD_RE.sub(r"\1:***@", text)
    return _CONNINFO_PASSWORD_RE.sub(r"\1***", text)


def resolve_database_url(database_url: str | None, home: str | None = None) -> str:
    """The URL to use: the given one, or the embedded server's (started if needed)."""
    if database_url:
        return database_url
    server = EmbeddedPostgres(home)
    server.start()
    return server.url("retailmart")


def connect(url: str, *, retries: int = 3, autocommit: bool = False) -> psycopg.Connection:
    """Open a connection, retrying transient failures with backoff; a clear error when unreachable."""
    delay = 0.5
    for attempt in range(1, retries + 1):
        try:
            return psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
        except psycopg.OperationalError as exc:
            if attempt == retries:
                raise DatabaseUnreachableError(
                    f"Database {mask_url(url)} is unreachable after {retries} attempts: "
                    f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"
                ) from None
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


# SQLSTATEs that mean the connection is gone (class 08) or the server is shutting down (57P0x).
_CONNECTION_LOSS_STATES = ("08", "57P01", "57P02", "57P03")


def is_connection_loss(exc: psycopg.Error, conn: psycopg.Connection | None = None) -> bool:
    """Whether an error means the server cannot be reached (as opposed to a failed statement:
    psycopg's OperationalError also covers QueryCanceled, e.g. a statement timeout)."""
    if conn is not None and (conn.broken or conn.closed):
        return True
    state = exc.sqlstate
    if state is None:
        return isinstance(exc, psycopg.OperationalError)
    return state.startswith(_CONNECTION_LOSS_STATES)


def use_pipeline_role(conn: psycopg.Connection, role: str | None = None) -> str | None:
    """``SET ROLE`` to the pipeline role when setup has made it the owner of the analytics schema,
    the session user is a member of it and is not already it; returns the role set, or None.

    Before setup has run (a new database) the session keeps its own rights: creating the schema and
    the roles needs them; roles.sql switches the session itself at its end."""
    role = role or str(config_value("security.pipeline_role"))
    row = conn.execute(
        """
        SELECT 1
          FROM pg_catalog.pg_roles AS r
          JOIN pg_catalog.pg_namespace AS n ON n.nspowner = r.oid AND n.nspname = 'analytics'
         WHERE r.rolname = %s AND r.rolname <> current_user
           AND pg_has_role(session_user, r.oid, 'MEMBER')
        """,
        (role,),
    ).fetchone()
    if row is None:
        return None
    try:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    except psycopg.errors.InsufficientPrivilege:
        # A member without the SET option (PostgreSQL 16): build with the login's own rights.
        conn.rollback()
        return None
    return role


class PostgresResource(ConfigurableResource):
    """Connections to the RetailMart database (source schemas and the analytics schema)."""

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL; unset = the embedded server under `home`.",
    )
    home: str | None = Field(
        default=None,
        description="Folder of the embedded server's state (default $RETAILMART_HOME or .retailmart).",
    )
    statement_timeout_ms: int = Field(
        default=600_000, description="Statement timeout of KPI queries (0 = none)."
    )
    parallel_workers_per_step: int = Field(
        default=-1,
        description=(
            "max_parallel_workers_per_gather and max_parallel_maintenance_workers of the run's"
            " connections (-1 = the server's)."
        ),
    )

    # Idle connections of the run, reused by its next steps (see connection()).
    _idle: list[psycopg.Connection] = PrivateAttr(default_factory=list)
    _lock: Any = PrivateAttr(default_factory=threading.RLock)
    # The connections steps are using now (see cancel_running()).
    _busy: set[psycopg.Connection] = PrivateAttr(default_factory=set)
    _url: str | None = PrivateAttr(default=None)
    # Set when connecting failed after every attempt: while the server is known to be down, the
    # next steps of the run try once (no backoff) so a run against a dead server fails fast; the
    # first successful connection clears it. Dagster's RetryRequested still retries each step.
    _down: bool = PrivateAttr(default=False)

    def url(self) -> str:
        with self._lock:  # steps running at the same time start the embedded server once
            if self._url is None:
                self._url = resolve_database_url(self.database_url, self.home)
            return self._url

    def masked_url(self) -> str:
        return mask_url(self.url())

    def _open(self) -> psycopg.Connection:
        try:
            conn = connect(self.url(), retries=1 if self._down else 3)
        except DatabaseUnreachableError:
            self._down = True
            if self.database_url is None:
                # The embedded server: the next attempt resolves it again, which restarts it if it
                # stopped (on its recorded port, or a new one if that port is taken).
                self._url = None
            raise
        self._down = False
        with conn.cursor() as cur:
            cur.execute(
                "SELECT set_config('statement_timeout', %s, false),"
                " set_config('application_name', 'retailmart_dagster', false)",
                (str(self.statement_timeout_ms),),
            )
            if self.parallel_workers_per_step >= 0:
                # See runtime.parallel_workers_per_step in config/analytics.toml: a query's workers
                # and an index build's (CREATE INDEX of a fact or of a view's next version).
                workers = str(self.parallel_workers_per_step)
                cur.execute(
                    "SELECT set_config('max_parallel_workers_per_gather', %s, false),"
                    " set_config('max_parallel_maintenance_workers', %s, false)",
                    (workers, workers),
                )
        conn.commit()
        use_pipeline_role(conn)
        conn.commit()
        return conn

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection of the run, reopened if broken: the steps of a run reuse its connections
        (one per step running at the same time, see retailmart_dagster/executor.py).

        Callers use ``with conn.transaction():`` for their work; the connection is left idle.
        """
        conn = None
        with self._lock:
            while self._idle and conn is None:
                candidate = self._idle.pop()
                if candidate.closed or candidate.broken:
                    with contextlib.suppress(Exception):
                        candidate.close()
                else:
                    conn = candidate
        if conn is None:
            conn = self._open()
        with self._lock:
            self._busy.add(conn)
        try:
            yield conn
        except psycopg.OperationalError as exc:
            if not is_connection_loss(exc, conn):
                # e.g. QueryCanceled (statement timeout): the server is fine, the query is not;
                # raised as is (retrying a runaway query would only run it again).
                raise
            # The server went away mid-statement: drop the connection, say so clearly.
            with contextlib.suppress(Exception):
                conn.close()
            raise DatabaseUnreachableError(
                f"Lost the connection to {self.masked_url()}: {str(exc).strip()}"
            ) from exc
        finally:
            with self._lock:
                self._busy.discard(conn)
            if not conn.closed and not conn.broken:
                if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    conn.rollback()
                with self._lock:
                    self._idle.append(conn)

    def cancel_running(self) -> int:
        """Cancel the statement each step is running now (the run was interrupted: a terminate
        from the UI, Ctrl-C); the executor calls it (retailmart_dagster/executor.py). Each such
        step then fails with QueryCanceled, its transaction rolled back. Returns how many."""
        with self._lock:
            busy = list(self._busy)
        for conn in busy:
            with contextlib.suppress(Exception):
                conn.cancel_safe(timeout=5)
        return len(busy)

    def teardown_after_execution(self, context) -> None:  # noqa: ANN001 - dagster signature
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()

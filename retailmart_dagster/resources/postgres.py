"""The project's database resource (psycopg 3).

``database_url`` comes from ``RETAILMART_DATABASE_URL`` (through ``EnvVar`` in the definitions, so the
UI never shows it). When it is unset, the resource starts or reuses the embedded server at run time —
never at import time.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

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

    _conn: psycopg.Connection | None = PrivateAttr(default=None)
    _url: str | None = PrivateAttr(default=None)

    def url(self) -> str:
        if self._url is None:
            self._url = resolve_database_url(self.database_url, self.home)
        return self._url

    def masked_url(self) -> str:
        return mask_url(self.url())

    def _open(self) -> psycopg.Connection:
        conn = connect(self.url())
        with conn.cursor() as cur:
            cur.execute(
                "SELECT set_config('statement_timeout', %s, false),"
                " set_config('application_name', 'retailmart_dagster', false)",
                (str(self.statement_timeout_ms),),
            )
        conn.commit()
        return conn

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection shared by the steps of one run (in-process executor), reopened if broken.

        Callers use ``with conn.transaction():`` for their work; the connection is left idle.
        """
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = self._open()
        conn = self._conn
        try:
            yield conn
        except psycopg.OperationalError as exc:
            # The server went away mid-statement: drop the connection, say so clearly.
            with contextlib.suppress(Exception):
                conn.close()
            self._conn = None
            raise DatabaseUnreachableError(
                f"Lost the connection to {self.masked_url()}: {str(exc).strip()}"
            ) from exc
        finally:
            if self._conn is not None and not self._conn.closed:
                if self._conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    self._conn.rollback()

    def teardown_after_execution(self, context) -> None:  # noqa: ANN001 - dagster signature
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

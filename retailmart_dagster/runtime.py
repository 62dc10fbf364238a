"""Where things run: the database URL and Dagster's own instance (DAGSTER_HOME on PostgreSQL).

``prepare_environment()`` is what every command line entry calls first: it resolves the RetailMart
database (``RETAILMART_DATABASE_URL`` or the embedded server) and makes sure ``DAGSTER_HOME`` points at
a folder with a ``dagster.yaml`` that stores runs, events and schedules in PostgreSQL (database
``dagster`` on the embedded server, or ``<db>_dagster`` next to a user-given database).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import sql

from retailmart_dagster.resources.embedded import EmbeddedPostgres, default_home
from retailmart_dagster.resources.postgres import DATABASE_URL_ENV, connect, mask_url

DAGSTER_HOME_ENV = "DAGSTER_HOME"
# dagster.yaml reads the storage password from this variable (the Dagster UI shows the instance
# config, so the file holds no secret); prepare_environment() exports it.
STORAGE_PASSWORD_ENV = "RETAILMART_DAGSTER_PG_PASSWORD"
# dagster.yaml entry → class of retailmart_dagster.storage (pooled dagster-postgres storages).
STORAGE_CLASSES = {
    "run_storage": "PooledPostgresRunStorage",
    "event_log_storage": "PooledPostgresEventLogStorage",
    "schedule_storage": "PooledPostgresScheduleStorage",
}


@dataclass(frozen=True)
class Environment:
    database_url: str
    dagster_storage_url: str
    dagster_home: Path
    embedded: bool

    @property
    def masked_url(self) -> str:
        return mask_url(self.database_url)


def _storage_url_for(database_url: str) -> str:
    """The Dagster storage database next to a user-given RetailMart database (created if missing)."""
    parts = urlsplit(database_url)
    dbname = unquote(parts.path.lstrip("/")) or "retailmart"
    storage_db = f"{dbname}_dagster"
    with connect(database_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (storage_db,)
        ).fetchone()
        if not exists:
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(storage_db)))
            except psycopg.Error as exc:
                raise RuntimeError(
                    f"Dagster stores its runs in database {storage_db!r} on the same server, "
                    f"which does not exist and cannot be created ({exc}). Create it, or set "
                    f"{DAGSTER_HOME_ENV} to a folder with your own dagster.yaml."
                ) from exc
    return parts._replace(path="/" + storage_db).geturl()


def dagster_yaml(storage_url: str) -> str:
    """dagster.yaml storing runs, events and schedules in PostgreSQL (psycopg2 dialect, SQLAlchemy 2.1)
    through the pooled storage classes of ``retailmart_dagster.storage`` (dagster-postgres' own
    classes open a new connection for every stored event)."""
    parts = urlsplit(storage_url)
    password = f"{{env: {STORAGE_PASSWORD_ENV}}}" if parts.password else '""'
    db = f"""    postgres_db:
      username: "{unquote(parts.username or "")}"
      password: {password}
      hostname: "{parts.hostname}"
      port: {parts.port or 5432}
      db_name: "{unquote(parts.path.lstrip("/"))}"
      # SQLAlchemy 2.1 needs the explicit driver; a bare postgresql:// fails every run on NOTIFY.
      scheme: "postgresql+psycopg2"
"""
    blocks = "".join(
        f"""{entry}:
  module: retailmart_dagster.storage
  class: {cls}
  config:
{db}"""
        for entry, cls in STORAGE_CLASSES.items()
    )
    return f"""# Written by retailmart_dagster: Dagster's runs, events and schedules in PostgreSQL
# (pooled connections: see retailmart_dagster/storage.py).
{blocks}run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 1
telemetry:
  enabled: false
"""


def storage_password_env(storage_url: str) -> dict[str, str]:
    """The environment that the dagster.yaml written for storage_url needs: {variable: password}
    (empty when the URL has no password)."""
    password = urlsplit(storage_url).password
    return {STORAGE_PASSWORD_ENV: unquote(password)} if password else {}


def write_dagster_home(home: Path, storage_url: str) -> Path:
    """Write home/dagster.yaml for storage_url. The password is not in the file: the process that
    uses the instance needs ``storage_password_env(storage_url)`` in its environment."""
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    content = dagster_yaml(storage_url)
    if not target.exists() or target.read_text() != content:
        fd = os.open(target.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(content)
        os.replace(target.with_suffix(".tmp"), target)
    return home


def prepare_environment(home: Path | None = None, set_env: bool = True) -> Environment:
    """Resolve the database and Dagster's instance; export DAGSTER_HOME and the storage password
    (``RETAILMART_DAGSTER_PG_PASSWORD``, read by dagster.yaml) if asked."""
    home = home or default_home()
    user_url = os.environ.get(DATABASE_URL_ENV)
    if user_url:
        database_url = user_url
        storage_url = _storage_url_for(user_url)
        embedded = False
    else:
        server = EmbeddedPostgres(home)
        server.start()
        database_url = server.url("retailmart")
        storage_url = server.url("dagster")
        embedded = True
    dagster_home = Path(os.environ.get(DAGSTER_HOME_ENV) or home / "dagster_home").resolve()
    if not (dagster_home / "dagster.yaml").exists() or (dagster_home.parent == home):
        write_dagster_home(dagster_home, storage_url)
    if set_env:
        os.environ[DAGSTER_HOME_ENV] = str(dagster_home)
        os.environ.update(storage_password_env(storage_url))
    return Environment(
        database_url=database_url,
        dagster_storage_url=storage_url,
        dagster_home=dagster_home,
        embedded=embedded,
    )

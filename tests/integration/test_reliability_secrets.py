"""Secrets never leak: the database password, the webhook token and the SMTP password are absent from
the definitions the UI shows (resource config), a run's event log (messages, metadata, errors), the
run config, the exported JSON, the audit tables, and the errors of a run whose database is down."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from dagster import DagsterInstance
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value

from retailmart_dagster.cli import failure_lines
from retailmart_dagster.runtime import (
    STORAGE_PASSWORD_ENV,
    dagster_yaml,
    storage_password_env,
    write_dagster_home,
)
from tests.conftest import materialize_all

pytestmark = pytest.mark.integration

DB_SECRET = "Db-s3cr3t-7731"
WEBHOOK_SECRET = "wh-T0K3N-5521"
SMTP_SECRET = "smtp-p4ss-9902"


def _password(url: str) -> str:
    password = url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert len(password) >= 8
    return password


def _event_log_text(result) -> str:  # noqa: ANN001
    """Everything Dagster stored about a run: every event (messages, metadata, errors with their
    causes) and the run itself (its run config and tags)."""
    return "\n".join(
        [serialize_value(e) for e in result.all_events]
        + [serialize_value(result.dagster_run), json.dumps(result.dagster_run.run_config)]
    )


def test_definitions_shown_in_the_ui_hold_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from retailmart_dagster.definitions import build_definitions

    monkeypatch.setenv("RETAILMART_DATABASE_URL", f"postgresql://u:{DB_SECRET}@127.0.0.1:1/x")
    monkeypatch.setenv("RETAILMART_WEBHOOK_URL", f"https://hooks.example/T0/B0/{WEBHOOK_SECRET}")
    monkeypatch.setenv("RETAILMART_SMTP_HOST", "smtp.example")
    monkeypatch.setenv("RETAILMART_SMTP_USER", "me")
    monkeypatch.setenv("RETAILMART_SMTP_PASSWORD", SMTP_SECRET)
    defs = build_definitions()
    snapshot = serialize_value(RepositorySnap.from_def(defs.get_repository_def()))
    for secret in (DB_SECRET, WEBHOOK_SECRET, SMTP_SECRET):
        assert secret not in snapshot
    # The UI shows where the value comes from instead.
    for name in ("RETAILMART_DATABASE_URL", "RETAILMART_WEBHOOK_URL", "RETAILMART_SMTP_PASSWORD"):
        assert name in snapshot


def test_a_full_run_leaks_no_password(
    kpi_run,  # noqa: ANN001
    kpi_db_url: str,
    kpi_dashboard_dir: Path,
    kpi_conn: psycopg.Connection,
) -> None:
    password = _password(kpi_db_url)
    assert password not in _event_log_text(kpi_run)
    for path in kpi_dashboard_dir.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
    leaked = kpi_conn.execute(
        "SELECT count(*) FROM analytics.execution_log WHERE strpos(error_message, %s) > 0",
        (password,),
    ).fetchone()
    assert leaked == (0,)


def test_a_run_against_a_dead_database_leaks_no_password(tmp_path: Path) -> None:
    url = f"postgresql://retailmart:{DB_SECRET}@127.0.0.1:1/retailmart"
    result = materialize_all(url, tmp_path / "data", instance=DagsterInstance.ephemeral())
    assert not result.success
    lines = failure_lines(result)
    assert lines and all("unreachable" in line for line in lines), lines[:3]
    text = _event_log_text(result)
    assert "retailmart:***@127.0.0.1:1" in text  # the URL is named, masked
    # The one place that holds the password is the resource's configuration (test-only: the
    # definitions read it through EnvVar, see test above); the event log must not.
    assert DB_SECRET not in text
    assert DB_SECRET not in "\n".join(lines)


def test_dagster_instance_config_holds_no_password(
    new_database,  # noqa: ANN001
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """dagster.yaml reads the storage password from the environment: the Dagster UI shows the
    instance config (Deployment > Configuration: instance.info_str()), which must hold no secret."""
    assert DB_SECRET not in dagster_yaml(f"postgresql://dagster:{DB_SECRET}@127.0.0.1:5432/dagster")
    storage_url = new_database("secret_storage")
    password = _password(storage_url)
    home = write_dagster_home(tmp_path / "dagster_home", storage_url)
    assert password not in (home / "dagster.yaml").read_text()
    assert storage_password_env(storage_url) == {STORAGE_PASSWORD_ENV: password}
    monkeypatch.setenv(STORAGE_PASSWORD_ENV, password)
    instance = DagsterInstance.from_config(str(home))
    try:
        assert instance.get_runs() == []  # the instance works: it found the password
        assert password not in instance.info_str()
    finally:
        instance.dispose()

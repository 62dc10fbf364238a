"""dagster.yaml holds no password (the Dagster UI shows the instance config); `retailmart dev` passes
the user's options through to `dagster dev`."""

from retailmart_dagster.cli import dagster_dev_command
from retailmart_dagster.runtime import STORAGE_PASSWORD_ENV, dagster_yaml, storage_password_env


def test_the_storage_password_is_read_from_the_environment() -> None:
    yaml = dagster_yaml("postgresql://dagster:p%40ss-W0rd@127.0.0.1:5432/dagster")
    assert "p@ss-W0rd" not in yaml and "p%40ss-W0rd" not in yaml
    assert yaml.count(f"password: {{env: {STORAGE_PASSWORD_ENV}}}") == 3  # runs, events, schedules
    env = storage_password_env("postgresql://dagster:p%40ss-W0rd@127.0.0.1:5432/dagster")
    assert env == {STORAGE_PASSWORD_ENV: "p@ss-W0rd"}  # decoded, as the server expects it


def test_a_url_without_password_needs_no_variable() -> None:
    assert 'password: ""' in dagster_yaml("postgresql://dagster@127.0.0.1:5432/dagster")
    assert storage_password_env("postgresql://dagster@127.0.0.1:5432/dagster") == {}


def test_retailmart_dev_passes_options_through() -> None:
    command = dagster_dev_command(["--", "-p", "3001", "--host", "0.0.0.0"])
    assert command[1:] == [
        "dev",
        "-m",
        "retailmart_dagster.definitions",
        "-p",
        "3001",
        "--host",
        "0.0.0.0",
    ]
    assert dagster_dev_command([])[1:] == ["dev", "-m", "retailmart_dagster.definitions"]

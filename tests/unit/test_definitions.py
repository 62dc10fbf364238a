"""The whole Definitions object loads, and lineage is complete — without touching a database."""

import subprocess
import sys
from pathlib import Path

from dagster import AssetKey

from retailmart_dagster.assets.sql_assets import load_sql_objects, resolve_dependencies
from retailmart_dagster.assets.sql_parse import SQL_DIR
from retailmart_dagster.definitions import FULL_REFRESH_JOB, build_definitions

REPO = Path(__file__).resolve().parents[2]


def test_every_sql_file_is_one_asset_with_code_version() -> None:
    defs = build_definitions(database_url="postgresql://u@127.0.0.1:1/none")
    specs = {s.key: s for s in defs.resolve_all_asset_specs()}
    files = sorted(SQL_DIR.glob("*/*.sql"))
    assert files
    for path in files:
        spec = specs[AssetKey(["analytics", path.stem])]
        assert spec.group_name == path.parent.name
        assert spec.code_version
        assert spec.description, f"{path}: needs a header comment saying what it answers"
        # The SQL text is the definition's metadata (shown in the UI), not each run's.
        assert path.read_text().strip() in spec.metadata["sql"].value


def test_lineage_is_complete() -> None:
    # resolve_dependencies raises on any reference that no asset or source declares.
    objects = load_sql_objects()
    deps = resolve_dependencies(objects)
    defs = build_definitions(database_url="postgresql://u@127.0.0.1:1/none")
    keys = {s.key for s in defs.resolve_all_asset_specs()}
    for name, dep_keys in deps.items():
        missing = dep_keys - keys
        assert not missing, f"{name} depends on undeclared {missing}"
    # KPI objects depend on the sources they read, seen through the SQL.
    assert AssetKey(["retailmart", "sales", "orders"]) in deps["fn_reference_date"]


def test_exports_and_full_job() -> None:
    defs = build_definitions(database_url="postgresql://u@127.0.0.1:1/none")
    keys = {s.key for s in defs.resolve_all_asset_specs()}
    exports = [p.stem for p in (SQL_DIR / "exports").glob("fn_export_*.sql")]
    for stem in exports:
        domain, _, name = stem[len("fn_export_") :].partition("_")
        key = AssetKey(["dashboard", domain, name] if name else ["dashboard", domain])
        assert key in keys
    assert AssetKey(["dashboard", "manifest"]) in keys
    assert defs.resolve_job_def(FULL_REFRESH_JOB) is not None


def test_dagster_definitions_validate() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "definitions",
            "validate",
            "-m",
            "retailmart_dagster.definitions",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_parallel_workers_per_step_is_read_and_checked(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """runtime.parallel_workers_per_step reaches the run's PostgreSQL resource; a value below -1
    is refused with the key named."""
    import pytest

    from retailmart_dagster.config import CONFIG_ENV, ConfigError, config_path

    text = config_path().read_text()
    defs = build_definitions(database_url="postgresql://u@127.0.0.1:1/db")
    assert defs.resources["postgres"].parallel_workers_per_step == 0
    for value, accepted in (("3", True), ("-1", True), ("-2", False)):
        changed = tmp_path / f"analytics_{value}.toml"
        changed.write_text(
            text.replace(
                "parallel_workers_per_step = { value = 0,",
                f"parallel_workers_per_step = {{ value = {value},",
            )
        )
        monkeypatch.setenv(CONFIG_ENV, str(changed))
        if accepted:
            resource = build_definitions(database_url="postgresql://u@127.0.0.1:1/db").resources[
                "postgres"
            ]
            assert resource.parallel_workers_per_step == int(value)
        else:
            with pytest.raises(ConfigError, match="runtime.parallel_workers_per_step = -2"):
                build_definitions(database_url="postgresql://u@127.0.0.1:1/db")

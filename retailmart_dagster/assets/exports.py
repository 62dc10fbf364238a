"""JSON export assets: each ``analytics.fn_export_<domain>_<name>()`` function becomes a file
``dashboard/data/<domain>/<name>.json``, written atomically; ``manifest.json`` lists them all.

The export function (its own SQL file under ``sql/exports/``) is the single definition of the JSON,
so any PostgreSQL client gets the same data as the dashboard. The file asset only calls it. The
function and its file are two assets built by one step (``sql_assets.build_export_step``): the
file is all that reads the function, and a step of its own cost each function about 16 ms of
Dagster's CPU against a few milliseconds of SQL.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Sequence

import psycopg
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
)
from psycopg import sql

from retailmart_dagster.assets.sql_parse import ANALYTICS_SCHEMA, FUNCTION, SqlObject
from retailmart_dagster.resources.dashboard import DashboardResource, write_atomic
from retailmart_dagster.resources.postgres import PostgresResource

EXPORT_PREFIX = "fn_export_"
EXPORT_GROUP = "dashboard"
MANIFEST_KEY = AssetKey(["dashboard", "manifest"])


def export_target(obj: SqlObject) -> tuple[str, str] | None:
    """Where an export function writes, as (folder, name): ``fn_export_<domain>_<name>`` →
    ``<domain>/<name>.json``; ``fn_export_<name>`` (one word, e.g. quality, alerts) → ``<name>.json``
    at the top of the data folder (folder ""). None for other objects."""
    if obj.kind != FUNCTION or not obj.name.startswith(EXPORT_PREFIX):
        return None
    domain, _, name = obj.name[len(EXPORT_PREFIX) :].partition("_")
    if not name:
        return "", domain
    return domain, name


def export_relative_path(folder: str, name: str) -> str:
    return f"{folder}/{name}.json" if folder else f"{name}.json"


def serialize(payload: object) -> bytes:
    """Stable bytes for a JSON payload: same data, same bytes."""
    return (json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def count_rows(payload: object) -> int:
    if isinstance(payload, dict) and isinstance(payload.get("rows"), list):
        return len(payload["rows"])
    if isinstance(payload, list):
        return len(payload)
    return 1


def export_key(folder: str, name: str) -> AssetKey:
    return AssetKey(["dashboard", folder, name] if folder else ["dashboard", name])


def export_file_spec(obj: SqlObject, function_key: AssetKey, folder: str, name: str) -> AssetSpec:
    """The asset of the JSON file that export function obj (asset function_key) writes; it reads
    the function only."""
    relative = export_relative_path(folder, name)
    return AssetSpec(
        key=export_key(folder, name),
        deps=[function_key],
        group_name=EXPORT_GROUP,
        kinds={"json", "postgres"},
        description=f"dashboard/data/{relative}: the JSON of analytics.{obj.name}().",
        code_version=obj.code_version,
        tags={"retailmart/domain": folder},
        metadata={"file": f"dashboard/data/{relative}", "function": f"analytics.{obj.name}"},
    )


def write_export_file(
    conn: psycopg.Connection, obj: SqlObject, dashboard: DashboardResource, folder: str, name: str
) -> MaterializeResult:
    """Call export function obj and write its JSON atomically (a failure leaves the previous file);
    the file asset's materialization."""
    with conn.transaction():
        row = conn.execute(
            sql.SQL("SELECT {}.{}()").format(
                sql.Identifier(ANALYTICS_SCHEMA), sql.Identifier(obj.name)
            )
        ).fetchone()
    payload = row[0] if row else None
    if isinstance(payload, str):
        payload = json.loads(payload)
    data = serialize(payload)
    path = dashboard.path(export_relative_path(folder, name))
    write_atomic(path, data)
    return MaterializeResult(
        asset_key=export_key(folder, name),
        metadata={
            "path": MetadataValue.path(str(path)),
            "dagster/row_count": MetadataValue.int(count_rows(payload)),
            "bytes": MetadataValue.int(len(data)),
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    )


def build_manifest_asset(export_files: dict[AssetKey, str]) -> AssetsDefinition:
    @asset(
        key=MANIFEST_KEY,
        deps=list(export_files),
        group_name=EXPORT_GROUP,
        kinds={"json"},
        description="dashboard/data/manifest.json: generated at, reference date, and per file its "
        "row count, size and content hash (the dashboard reloads what changed).",
    )
    def _manifest(
        context: AssetExecutionContext, postgres: PostgresResource, dashboard: DashboardResource
    ) -> MaterializeResult:
        with postgres.connection() as conn, conn.transaction():
            ref = conn.execute("SELECT analytics.fn_reference_date()").fetchone()
        files = {}
        for relative in export_files.values():
            path = dashboard.path(relative)
            if not path.exists():
                continue
            data = path.read_bytes()
            files[relative] = {
                "rows": count_rows(json.loads(data)),
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        manifest = {
            "generatedAt": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "referenceDate": ref[0].isoformat() if ref and ref[0] else None,
            "files": dict(sorted(files.items())),
        }
        data = json.dumps(manifest, indent=2).encode()
        write_atomic(dashboard.path("manifest.json"), data + b"\n")
        return MaterializeResult(
            metadata={
                "files": MetadataValue.int(len(files)),
                "total_bytes": MetadataValue.int(sum(f["bytes"] for f in files.values())),
            }
        )

    return _manifest


def build_manifest(objects: Sequence[SqlObject]) -> AssetsDefinition:
    """The manifest asset over the files of every export function among objects."""
    files = {
        export_key(*target): export_relative_path(*target)
        for target in map(export_target, objects)
        if target is not None
    }
    return build_manifest_asset(files)

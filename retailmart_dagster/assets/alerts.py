"""The business-alert history: one asset that records the alerts true now in ``analytics.alert_history``.

The six alerts are SQL views (``retailmart_dagster/sql/alerts/vw_alert_*.sql``, stacked in
``analytics.vw_alerts``), built like every other SQL object. This asset runs
``retailmart_dagster/automation/sql/sync_alert_history.sql`` after them: it opens a row for a new
alert, updates the open row of an alert that is still true (so it stays ONE open alert across
refreshes) and resolves the open rows of alerts that are no longer true. The SQL is not a database
object, so it lives outside ``sql/``; its dependencies are read from the SQL itself (pglast), like
every other asset's. ``alerts.json`` (``fn_export_alerts``) is exported after this asset.
"""

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pglast
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    RetryRequested,
    asset,
)

from retailmart_dagster.assets.sql_assets import analytics_key, source_key
from retailmart_dagster.assets.sql_parse import (
    ANALYTICS_SCHEMA,
    SqlFileError,
    SqlObject,
    parse_sql_file,
    source_tables,
)
from retailmart_dagster.resources.postgres import DatabaseUnreachableError, PostgresResource

AUTOMATION_SQL_DIR = Path(__file__).resolve().parent.parent / "automation" / "sql"
SYNC_SQL = AUTOMATION_SQL_DIR / "sync_alert_history.sql"
ALERT_GROUP = "alerts"
ALERT_SYNC_KEY = AssetKey([ANALYTICS_SCHEMA, "alert_history_sync"])
ALERT_EXPORT = "fn_export_alerts"
SYNC_COLUMNS = ("opened", "still_open", "resolved", "open_now", "critical", "warning", "info")


def sync_statements(path: Path = SYNC_SQL) -> list[str]:
    """The statements of the sync script, in order (the last one returns the counts)."""
    return [s for s in pglast.split(path.read_text(encoding="utf-8")) if s.strip()]


def sync_dependencies(objects: Sequence[SqlObject], path: Path = SYNC_SQL) -> list[AssetKey]:
    """What the sync reads and writes, from its SQL: analytics objects and source tables."""
    parsed = parse_sql_file(path, path.parent)
    created = {ref: o for o in objects for ref in o.creates}
    sources = set(source_tables())
    keys: set[AssetKey] = set()
    for ref in sorted(parsed.references):
        if ref in created:
            keys.add(analytics_key(created[ref].name))
        elif ref in sources:
            keys.add(source_key(ref))
        else:
            raise SqlFileError(
                f"{path}: references {ref[0]}.{ref[1]}, which no SQL file under "
                "retailmart_dagster/sql creates and which is not a source table"
            )
    return sorted(keys, key=lambda k: k.to_user_string())


def run_alert_sync(conn, run_id: str | None) -> dict[str, int]:  # noqa: ANN001 - psycopg conn
    """Run the sync in one transaction; the counts of opened / still open / resolved alerts."""
    statements = sync_statements()
    with conn.transaction():
        conn.execute("SELECT set_config('retailmart.run_id', %s, true)", (run_id or "",))
        for statement in statements[:-1]:
            conn.execute(statement)
        row = conn.execute(statements[-1]).fetchone()
    return {name: int(value) for name, value in zip(SYNC_COLUMNS, row, strict=True)}


def build_alert_sync_asset(objects: Sequence[SqlObject]) -> AssetsDefinition:
    deps = sync_dependencies(objects)

    @asset(
        key=ALERT_SYNC_KEY,
        deps=deps,
        group_name=ALERT_GROUP,
        kinds={"postgres", "python"},
        description=(
            "Records the business alerts that are true now (analytics.vw_alerts) in "
            "analytics.alert_history: a new alert opens a row, an alert that is still true keeps its "
            "open row (last seen, times seen), an alert that is no longer true is resolved. One "
            "transaction; SQL in retailmart_dagster/automation/sql/sync_alert_history.sql."
        ),
        tags={"retailmart/domain": ALERT_GROUP},
        metadata={"sql_path": "retailmart_dagster/automation/sql/sync_alert_history.sql"},
    )
    def _sync(context: AssetExecutionContext, postgres: PostgresResource) -> MaterializeResult:
        try:
            with postgres.connection() as conn:
                counts = run_alert_sync(conn, context.run.run_id)
        except DatabaseUnreachableError as exc:
            context.log.error(str(exc))
            raise RetryRequested(max_retries=2, seconds_to_wait=2) from exc
        context.log.info(
            f"Business alerts: {counts['open_now']} open ({counts['critical']} critical, "
            f"{counts['warning']} warning, {counts['info']} info); {counts['opened']} opened, "
            f"{counts['resolved']} resolved by this refresh."
        )
        metadata: dict = {name: MetadataValue.int(value) for name, value in counts.items()}
        metadata["dagster/row_count"] = MetadataValue.int(counts["open_now"])
        return MaterializeResult(metadata=metadata)

    return _sync


def alert_extra_deps() -> dict[str, set[AssetKey]]:
    """Extra dependencies of SQL objects (by name): the alerts export runs after the sync (its SQL
    reads the history table, which the sync fills)."""
    return {ALERT_EXPORT: {ALERT_SYNC_KEY}}


def with_alert_deps(extra_deps: Mapping[str, Iterable[AssetKey]]) -> dict[str, set[AssetKey]]:
    """extra_deps (e.g. the data-quality gate's) plus the alert export's dependency on the sync."""
    merged = {name: set(keys) for name, keys in extra_deps.items()}
    for name, keys in alert_extra_deps().items():
        merged.setdefault(name, set()).update(keys)
    return merged

"""Dagster wiring of the data-quality checks: check specs on the source tables, the evaluation and
gate assets that stop the KPIs from building on broken data, freshness policies, and the checks job.

Why a gate asset and not only ``blocking=True``: the source tables are external ``AssetSpec``s, never
materialized in a run. Dagster 1.13 does gate downstream steps on a blocking check of an external asset
when that check is part of the run, but ``dagster asset materialize --select '*'`` does not include
checks of external assets at all (they are not selected), so the KPIs would build on broken data and
the command would exit 0. Hence:

- ``analytics/data_quality_evaluation`` runs every check on one snapshot, records the results
  (``analytics.data_quality_results`` / ``data_quality_issues``), logs each result as the evaluation of
  its check on the source table (the UI shows them per check, dimension and table), and reports a
  change of the freshness-tracked source tables. It fails only when a check cannot run.
- ``analytics/data_quality_gate`` reads the latest result of every check and raises, naming them, when
  any ERROR check failed. Every KPI object (every SQL object outside ``setup`` and the quality report)
  depends on it, so nothing downstream builds and the run (and the CLI) fails.
- The quality report view and ``fn_export_quality`` depend on the evaluation, not on the gate: the
  report and ``quality.json`` are written even (especially) when the gate stops the KPIs.
- The same checks, as one subsettable ``@multi_asset_check`` (``data_quality_checks``), run alone in
  ``data_quality_job`` or from the UI, incrementally like the evaluation; their ERROR checks are
  ``blocking``.
"""

import datetime as dt
import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psycopg
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    AssetSelection,
    AssetSpec,
    ConfigurableResource,
    Failure,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    RetryRequested,
    asset,
    define_asset_job,
    multi_asset_check,
)
from pydantic import Field

from retailmart_dagster.assets.sql_assets import SETUP_GROUP, analytics_key, source_key
from retailmart_dagster.assets.sql_parse import ANALYTICS_SCHEMA, Ref, SqlFileError, SqlObject
from retailmart_dagster.checks.evaluate import (
    CheckOutcome,
    clock_value,
    gate_failures,
    gate_message,
    to_check_evaluation,
    to_check_result,
)
from retailmart_dagster.checks.registry import DIMENSIONS, QualityCheck, load_checks, severities
from retailmart_dagster.checks.segments import (
    ALL,
    IncrementalEvaluation,
    evaluate_incremental,
    fingerprint_text,
    table_print,
)
from retailmart_dagster.checks.store import latest_results, record_outcomes
from retailmart_dagster.config import ConfigError, config_value, config_values
from retailmart_dagster.resources.postgres import DatabaseUnreachableError, PostgresResource

QUALITY_GROUP = "quality"
EVALUATION_KEY = AssetKey([ANALYTICS_SCHEMA, "data_quality_evaluation"])
GATE_KEY = AssetKey([ANALYTICS_SCHEMA, "data_quality_gate"])
DATA_QUALITY_JOB = "data_quality_job"
QUALITY_EXPORT = "fn_export_quality"
RESULT_TABLES = (
    "data_quality_fingerprints",
    "data_quality_issues",
    "data_quality_results",
    "data_quality_segments",
)
QUALITY_CLOCK_ENV = "RETAILMART_QUALITY_CLOCK"
SOURCE_INDEXES = "source_indexes"


class QualityClockResource(ConfigurableResource):
    """The run's clock for the one wall-clock check (timeliness_latest_order_lag).

    Unset: the machine's clock when the checks run. Set (ISO date or timestamp; naive = UTC): evaluate
    "as of" that moment, e.g. to replay a past day or to test on sample data with a fixed end date.
    """

    clock: str | None = Field(
        default_factory=lambda: os.environ.get(QUALITY_CLOCK_ENV) or None,
        description=f"ISO date or timestamp to evaluate timeliness as of (${QUALITY_CLOCK_ENV}); "
        "unset = now.",
    )

    def now(self) -> dt.datetime:
        if not self.clock:
            return dt.datetime.now(dt.UTC)
        try:
            value = dt.datetime.fromisoformat(self.clock)
        except ValueError as exc:
            raise ConfigError(
                f"quality clock {self.clock!r} ({QUALITY_CLOCK_ENV}) is not an ISO date or timestamp"
            ) from exc
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def check_key(check: QualityCheck) -> AssetCheckKey:
    return AssetCheckKey(source_key(check.table), check.name)


def check_spec(check: QualityCheck, severity: str) -> AssetCheckSpec:
    others = sorted(source_key(r) for r in check.reads if r != check.table)
    return AssetCheckSpec(
        check.name,
        asset=source_key(check.table),
        description=f"[{check.dimension}, {severity}] {check.description}",
        additional_deps=others,
        blocking=severity == "ERROR",
        metadata={
            "dimension": check.dimension,
            "severity": severity,
            "sql_path": check.relative_path,
            "severity_key": check.severity_key,
        },
    )


# ------------------------------------------------------------------------------------ lineage
def evaluation_dependencies(
    checks: Sequence[QualityCheck], objects: Sequence[SqlObject]
) -> set[AssetKey]:
    """What the evaluation reads and writes: the source tables of every check, the setup objects
    the checks call (config readers, reference date), the result tables, and the source tables'
    indexes (``source_indexes``: without them a check such as accuracy_refund_over_paid reads every
    order line once per return; at scale 10 it ran for more than 9 minutes)."""
    created = {ref: o for o in objects for ref in o.creates}
    names = {o.name for o in objects}
    keys: set[AssetKey] = {source_key(r) for c in checks for r in c.reads}
    for check in checks:
        for ref in sorted(check.uses):
            obj = created.get(ref)
            if obj is None:
                raise SqlFileError(
                    f"{check.path}: uses {ref[0]}.{ref[1]}, which is not a source table and "
                    "which no SQL file under retailmart_dagster/sql creates"
                )
            if obj.group != SETUP_GROUP:
                raise SqlFileError(
                    f"{check.path}: uses {obj.qualified_name} ({obj.group}); checks run before the "
                    "KPIs and may only use setup objects"
                )
            keys.add(analytics_key(obj.name))
    for name in (*RESULT_TABLES, "fn_reference_date", SOURCE_INDEXES):
        if name in names:
            keys.add(analytics_key(name))
    return keys


def quality_dependencies(objects: Sequence[SqlObject]) -> dict[str, set[AssetKey]]:
    """Extra dependencies of the SQL objects: the quality report on the evaluation, every KPI
    object (outside setup) on the gate."""
    out: dict[str, set[AssetKey]] = {}
    for o in objects:
        if o.group == QUALITY_GROUP or o.name == QUALITY_EXPORT:
            out[o.name] = {EVALUATION_KEY}
        elif o.group != SETUP_GROUP:
            out[o.name] = {GATE_KEY}
    return out


# ------------------------------------------------------------------------- source freshness
def freshness_tables() -> list[Ref]:
    tables = []
    for name in config_value("quality.freshness_tables"):
        schema, _, table = str(name).partition(".")
        tables.append((schema, table))
    return tables


def with_freshness_policies(specs: Sequence[AssetSpec]) -> list[AssetSpec]:
    """Source specs, the freshness-tracked ones with a time-window FreshnessPolicy: the table must
    change at least every quality.source_max_lag_days days (changes are reported by the evaluation)."""
    tracked = {source_key(r) for r in freshness_tables()}
    known = {s.key for s in specs}
    unknown = sorted(k.to_user_string() for k in tracked - known)
    if unknown:
        raise ConfigError(
            f"analytics.toml: quality.freshness_tables names unknown tables {unknown}"
        )
    days = int(config_value("quality.source_max_lag_days"))
    policy = FreshnessPolicy.time_window(fail_window=timedelta(days=days))
    return [s.replace_attributes(freshness_policy=policy) if s.key in tracked else s for s in specs]


def source_fingerprint(conn: psycopg.Connection, ref: Ref) -> tuple[int, str]:
    """(row count, order-independent checksum of every row's content) of a source table.

    The checksum is the sum of ``hashint4(hash_record(ROW(<every column>)))`` (``segments.table_print``):
    PostgreSQL's own hash of a row, column by column with each type's hash function (the one hash
    joins use), mixed once more, so a change of any value changes it (barring a 32-bit collision).
    The extra mix matters: ``hash_record`` combines the column hashes linearly (h = 31 * h + column
    hash), so a plain sum over rows depends only on each column's values and misses two rows
    swapping a value. Hashing each row's text instead (``hashtext(t::text)``) formatted every value,
    numbers and dates included: the five freshness tables at scale 10 took 4.7-5.2 s of server CPU
    that way, 1.9-2.1 s now. A table with a column type that has no hash function falls back to the
    text form. The incremental evaluation computes the same fingerprints (in two parts for the
    split tables) and reports them; this function is the one-table form.
    """
    whole = table_print(conn, ref)[ALL]
    return whole[0], fingerprint_text(whole)


def report_source_changes(
    context: AssetExecutionContext, prints: Mapping[Any, tuple[int, str]]
) -> list[str]:
    """Report a materialization of each freshness-tracked source table whose content changed since
    the last one reported (the FreshnessPolicy measures the time since then). ``prints``: {table:
    (row count, fingerprint text)} of the evaluation."""
    changed = []
    for ref, (count, fingerprint) in prints.items():
        key = source_key(ref)
        event = context.instance.get_latest_materialization_event(key)
        materialization = event.asset_materialization if event else None
        previous = materialization.metadata.get("fingerprint") if materialization else None
        if previous is not None and getattr(previous, "value", previous) == fingerprint:
            continue
        context.instance.report_runless_asset_event(
            AssetMaterialization(
                asset_key=key,
                description=f"{ref[0]}.{ref[1]} changed (seen by the data-quality evaluation of run "
                f"{context.run.run_id}).",
                metadata={
                    "fingerprint": fingerprint,
                    "dagster/row_count": MetadataValue.int(count),
                    "seen_by_run": context.run.run_id,
                },
            )
        )
        changed.append(f"{ref[0]}.{ref[1]}")
    return changed


# ------------------------------------------------------------------------------------- assets
def _summary(outcomes: Sequence[CheckOutcome]) -> dict[str, Any]:
    failed = [o for o in outcomes if not o.passed]
    by_dimension = {
        d: {
            "checks": sum(1 for o in outcomes if o.check.dimension == d),
            "failed": sum(1 for o in failed if o.check.dimension == d),
        }
        for d in DIMENSIONS
    }
    return {
        "checks": MetadataValue.int(len(outcomes)),
        "passed": MetadataValue.int(len(outcomes) - len(failed)),
        "failed": MetadataValue.int(len(failed)),
        "blocking_failed": MetadataValue.int(sum(1 for o in failed if o.blocking)),
        "failed_checks": MetadataValue.json(
            [
                {
                    "check": o.check.name,
                    "severity": o.severity,
                    "table": o.check.table_name,
                    "affected": o.affected_count,
                }
                for o in failed
            ]
        ),
        "by_dimension": MetadataValue.json(by_dimension),
    }


def checks_code_version(checks: Sequence[QualityCheck], objects: Sequence[SqlObject]) -> str:
    """Digest of the setup code the checks call (config readers, reference date): a stored part of an
    evaluation is reused only under the same code."""
    used = {ref for c in checks for ref in c.uses}
    texts = sorted(o.sql for o in objects if set(o.creates) & used)
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()


def evaluate_and_record(
    conn: psycopg.Connection,
    checks: Sequence[QualityCheck],
    clock: dt.datetime,
    code_version: str,
    run_id: str | None,
) -> IncrementalEvaluation:
    """What the evaluation asset does in the database: evaluate every check incrementally (the
    freshness-tracked tables fingerprinted with them) and record the outcomes and the parts run
    (stored parts of checks that no longer exist are dropped)."""
    result = evaluate_incremental(
        conn, checks, clock, code_version, extra_tables=freshness_tables()
    )
    record_outcomes(
        conn, result.outcomes, run_id, result.parts, [c.name for c in checks], result.tables
    )
    return result


def _evaluation_metadata(result: IncrementalEvaluation) -> dict[str, Any]:
    fresh = result.fresh_parts
    return {
        "parts_run": MetadataValue.int(len(fresh)),
        "parts_reused": MetadataValue.int(len(result.parts) - len(fresh)),
        "checks_run": MetadataValue.json(sorted({f"{p.check_name}:{p.segment}" for p in fresh})),
        "split_boundary": MetadataValue.int(result.boundary)
        if result.boundary is not None
        else MetadataValue.text("none"),
        "split_boundary_moved": MetadataValue.bool(result.new_boundary),
        # checks whose older part was kept and advanced to the new boundary (only the rows in
        # between ran), instead of running on every older row again
        "split_parts_advanced": MetadataValue.int(len(result.advanced)),
    }


def build_evaluation_asset(
    checks: Sequence[QualityCheck], deps: set[AssetKey], code_version: str = ""
) -> AssetsDefinition:
    @asset(
        key=EVALUATION_KEY,
        deps=sorted(deps, key=lambda k: k.to_user_string()),
        group_name=QUALITY_GROUP,
        kinds={"postgres", "python"},
        description=(
            f"Runs the {len(checks)} data-quality checks (retailmart_dagster/checks/sql/<dimension>/) "
            "on one snapshot of the source, records every result in analytics.data_quality_results "
            "and the open/resolved findings in analytics.data_quality_issues, and reports each result "
            "as the evaluation of its check on the source table. Fails only when a check cannot run; "
            "analytics/data_quality_gate decides whether the KPIs may build."
        ),
        tags={"retailmart/domain": QUALITY_GROUP},
    )
    def _evaluation(
        context: AssetExecutionContext,
        postgres: PostgresResource,
        quality_clock: QualityClockResource,
    ) -> MaterializeResult:
        clock = quality_clock.now()
        try:
            with postgres.connection() as conn:
                result = evaluate_and_record(conn, checks, clock, code_version, context.run.run_id)
                outcomes = result.outcomes
            prints = {
                ref: (result.prints[ref][ALL][0], fingerprint_text(result.prints[ref][ALL]))
                for ref in freshness_tables()
            }
            changed = report_source_changes(context, prints)
        except DatabaseUnreachableError as exc:
            context.log.error(str(exc))
            raise RetryRequested(max_retries=2, seconds_to_wait=2) from exc
        for outcome in outcomes:
            context.log_event(to_check_evaluation(outcome, source_key(outcome.check.table)))
            if not outcome.passed:
                log = context.log.error if outcome.blocking else context.log.warning
                log(f"{outcome.check.name}: {outcome.affected_count} failing rows")
        metadata = _summary(outcomes)
        metadata["clock"] = clock_value(clock)
        metadata["source_changes"] = MetadataValue.json(changed)
        metadata.update(_evaluation_metadata(result))
        return MaterializeResult(metadata=metadata)

    return _evaluation


def build_gate_asset(checks: Sequence[QualityCheck]) -> AssetsDefinition:
    names = [c.name for c in checks]

    @asset(
        key=GATE_KEY,
        deps=[EVALUATION_KEY],
        group_name=QUALITY_GROUP,
        kinds={"postgres", "python"},
        description=(
            "The data-quality gate: fails, naming them, when any check of severity ERROR failed in "
            "its latest evaluation. Every KPI object depends on it, so none is built on broken data; "
            "WARN checks never block."
        ),
        tags={"retailmart/domain": QUALITY_GROUP},
    )
    def _gate(context: AssetExecutionContext, postgres: PostgresResource) -> MaterializeResult:
        try:
            with postgres.connection() as conn, conn.transaction():
                entries = latest_results(conn, names)
        except DatabaseUnreachableError as exc:
            context.log.error(str(exc))
            raise RetryRequested(max_retries=2, seconds_to_wait=2) from exc
        missing = sorted(set(names) - {e.check_name for e in entries})
        if missing:
            raise Failure(
                description=f"Data-quality gate: checks never evaluated: {missing}; materialize "
                f"{EVALUATION_KEY.to_user_string()} first."
            )
        failures = gate_failures(entries)
        if failures:
            raise Failure(
                description=gate_message(failures),
                metadata={"failed_checks": MetadataValue.json([f.check_name for f in failures])},
            )
        warnings = sorted(e.check_name for e in entries if not e.passed)
        return MaterializeResult(
            metadata={
                "checks": MetadataValue.int(len(entries)),
                "failed_warnings": MetadataValue.json(warnings),
            }
        )

    return _gate


CHECKS_OP = "data_quality_checks"


def build_asset_checks(
    checks: Sequence[QualityCheck], severity: Mapping[str, str], code_version: str = ""
) -> list[AssetChecksDefinition]:
    """Every check as an asset check of its source table, in ONE subsettable op: evaluated
    incrementally like the evaluation asset, so the source tables are fingerprinted once per run
    (five ops, one per dimension, fingerprinted the big order tables up to five times: 8.1 s at
    scale 10 with nothing changed, against about 2 s for one). Each check's dimension is in its
    name, description and metadata."""
    by_key = {check_key(c): c for c in checks}
    known = [c.name for c in checks]
    counts = ", ".join(
        f"{sum(1 for c in checks if c.dimension == d)} {d}"
        for d in DIMENSIONS
        if any(c.dimension == d for c in checks)
    )

    @multi_asset_check(
        name=CHECKS_OP,
        specs=[check_spec(c, severity[c.name]) for c in checks],
        can_subset=True,
        description=f"The data-quality checks of the source tables (checks/sql/<dimension>/: "
        f"{counts}), evaluated incrementally like the evaluation asset: the stored parts whose "
        "input did not change are reused.",
    )
    def _run(
        context: AssetCheckExecutionContext,
        postgres: PostgresResource,
        quality_clock: QualityClockResource,
    ) -> Iterator[AssetCheckResult]:
        selected = [c for k, c in by_key.items() if k in context.selected_asset_check_keys]
        with postgres.connection() as conn:
            result = evaluate_incremental(conn, selected, quality_clock.now(), code_version)
            record_outcomes(
                conn, result.outcomes, context.run.run_id, result.parts, known, result.tables
            )
        context.log.info(
            f"{len(result.fresh_parts)} of {len(result.parts)} parts run, the others reused"
        )
        for outcome in result.outcomes:
            yield to_check_result(outcome, source_key(outcome.check.table))

    return [_run]


@dataclass(frozen=True)
class QualityDefinitions:
    """Everything the data-quality layer adds to the Definitions."""

    checks: list[QualityCheck]
    assets: list[AssetsDefinition]
    asset_checks: list[AssetChecksDefinition]
    extra_deps: dict[str, set[AssetKey]]
    jobs: list[Any] = field(default_factory=list)


def build_quality(objects: Sequence[SqlObject]) -> QualityDefinitions:
    checks = load_checks()
    severity = severities(checks, config_values())
    code_version = checks_code_version(checks, objects)
    asset_checks = build_asset_checks(checks, severity, code_version)
    job = define_asset_job(
        DATA_QUALITY_JOB,
        selection=AssetSelection.checks(*asset_checks),
        description="Only the data-quality checks of the source tables (recorded in "
        "analytics.data_quality_results / data_quality_issues); fails when an ERROR check fails. "
        "Needs the setup of a full refresh.",
    )
    return QualityDefinitions(
        checks=checks,
        assets=[
            build_evaluation_asset(
                checks,
                evaluation_dependencies(checks, objects),
                code_version,
            ),
            build_gate_asset(checks),
        ],
        asset_checks=asset_checks,
        extra_deps=quality_dependencies(objects),
        jobs=[job],
    )

"""Run the checks' SQL and turn each row into an outcome, a Dagster check result and a gate verdict.

Plain functions (a psycopg connection in, dataclasses out), so they are tested without Dagster. All
checks of one evaluation read one snapshot of the database (a REPEATABLE READ, READ ONLY
transaction), so they agree with each other even while the source is being written. The checks are
independent read-only queries, so an evaluation runs them on a few connections at once: the extra
connections import the first one's snapshot (``pg_export_snapshot`` / ``SET TRANSACTION SNAPSHOT``),
so every check still reads exactly the same data. ``run_in_snapshot`` gives a caller the same
connections for several rounds of read-only jobs in one snapshot (the incremental evaluation of
``segments.py``: fingerprints first, then the checks whose input changed).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
from dagster import AssetCheckEvaluation, AssetCheckResult, AssetCheckSeverity, MetadataValue
from psycopg import sql

from retailmart_dagster.assets.sql_parse import Ref, SqlFileError
from retailmart_dagster.checks.registry import (
    OPTIONAL_COLUMNS,
    RESULT_COLUMNS,
    SEVERITIES,
    QualityCheck,
)

CLOCK_SETTING = "retailmart.quality_clock"
RATE_DIGITS = 6
# Connections one evaluation uses at most (the caller's plus siblings sharing its snapshot); the
# checks are read-only scans, one server process each, so more than the server's cores only queue.
CONNECTIONS_ENV = "RETAILMART_QUALITY_CONNECTIONS"
DEFAULT_CONNECTIONS = 2

T = TypeVar("T")


@dataclass(frozen=True)
class CheckOutcome:
    """What one check found."""

    check: QualityCheck
    severity: str
    affected_count: int
    total_rows: int
    threshold: float
    sample_keys: tuple[str, ...]
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return failing_rate(self.affected_count, self.total_rows)

    @property
    def passed(self) -> bool:
        return check_passes(self.affected_count, self.total_rows, self.threshold)

    @property
    def blocking(self) -> bool:
        return self.severity == "ERROR"

    @property
    def blocking_failure(self) -> bool:
        return self.blocking and not self.passed


def failing_rate(affected: int, total: int) -> float:
    """Failing records / population, 0 for an empty population (rounded to 6 digits)."""
    if total <= 0:
        return 0.0
    return round(affected / total, RATE_DIGITS)


def check_passes(affected: int, total: int, threshold: float) -> bool:
    """A check passes when nothing fails, or when the failing share is within the threshold."""
    if affected <= 0:
        return True
    if threshold <= 0 or total <= 0:
        return False
    return affected / total <= threshold


def _json_ready(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def outcome_from_row(check: QualityCheck, row: Mapping[str, Any]) -> CheckOutcome:
    """Validate one result row of a check's SQL (errors name the file) and build its outcome."""
    missing = [c for c in RESULT_COLUMNS if c not in row]
    if missing:
        raise SqlFileError(f"{check.path}: the query must return the column(s) {missing}")
    extra = sorted(set(row) - set(RESULT_COLUMNS) - set(OPTIONAL_COLUMNS))
    if extra:
        raise SqlFileError(f"{check.path}: unexpected column(s) {extra}")
    severity = row["severity"]
    if severity not in SEVERITIES:
        raise SqlFileError(
            f"{check.path}: severity {severity!r} (config {check.severity_key}) is not one of "
            f"{SEVERITIES}"
        )
    for column in ("affected_count", "total_rows", "threshold"):
        if row[column] is None:
            raise SqlFileError(f"{check.path}: {column} is NULL")
    details = row.get("details") or {}
    if isinstance(details, str):
        details = json.loads(details)
    return CheckOutcome(
        check=check,
        severity=str(severity),
        affected_count=int(row["affected_count"]),
        total_rows=int(row["total_rows"]),
        threshold=float(row["threshold"]),
        sample_keys=tuple(str(k) for k in (row["sample_keys"] or ())),
        details=_json_ready(dict(details)),
    )


def run_check(conn: psycopg.Connection, check: QualityCheck) -> CheckOutcome:
    """Execute one check's SQL on conn (inside the caller's transaction)."""
    try:
        cur = conn.execute(check.sql)
    except psycopg.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise SqlFileError(f"{check.path}: the check failed to run: {message}") from exc
    rows = cur.fetchall()
    if len(rows) != 1 or cur.description is None:
        raise SqlFileError(f"{check.path}: the query must return exactly one row, got {len(rows)}")
    names = [d.name for d in cur.description]
    return outcome_from_row(check, dict(zip(names, rows[0], strict=True)))


def clock_value(clock: dt.datetime) -> str:
    """The run's clock as an ISO timestamp in UTC (a naive clock is taken as UTC)."""
    if clock.tzinfo is None:
        clock = clock.replace(tzinfo=dt.UTC)
    return clock.astimezone(dt.UTC).isoformat()


# One unit of work of an evaluation: the tables it reads and what to run on a connection.
_Job = tuple[frozenset[Ref], Callable[[psycopg.Connection], Any]]


def evaluate_checks(
    conn: psycopg.Connection,
    checks: Sequence[QualityCheck],
    clock: dt.datetime,
    connections: int | None = None,
) -> list[CheckOutcome]:
    """Run every check on one snapshot; the run's clock is visible to the SQL as a setting.

    Outcomes come back in the order of ``checks``. With ``connections`` > 1 (default
    $RETAILMART_QUALITY_CONNECTIONS or 2) the checks are shared among conn and sibling connections
    that import conn's snapshot; if a sibling cannot be opened, conn runs the rest alone.
    """
    jobs: list[_Job] = [(c.reads, _check_job(c)) for c in checks]
    return list(_run_jobs(conn, jobs, clock, connections))


def _check_job(check: QualityCheck) -> Callable[[psycopg.Connection], CheckOutcome]:
    return lambda connection: run_check(connection, check)


# Runs a list of jobs on the evaluation's connections (in its snapshot); results in the jobs' order.
Runner = Callable[[Sequence[_Job]], list[Any]]


def _run_jobs(
    conn: psycopg.Connection, jobs: Sequence[_Job], clock: dt.datetime, connections: int | None
) -> list[Any]:
    wanted = 1 if len(jobs) <= 1 else connections
    return run_in_snapshot(conn, clock, lambda run: run(jobs), wanted)


def run_in_snapshot(
    conn: psycopg.Connection,
    clock: dt.datetime,
    body: Callable[[Runner], T],
    connections: int | None = None,
) -> T:
    """Call ``body(run)`` inside one REPEATABLE READ, READ ONLY snapshot on conn; ``run(jobs)`` runs
    jobs on conn and on sibling connections that import its snapshot (``connections`` in all, default
    $RETAILMART_QUALITY_CONNECTIONS or 2), so a body can run several rounds of jobs, each depending on
    the results of the one before, all reading the same data. The body also runs queries on conn
    itself (in the snapshot) between rounds."""
    wanted = connections if connections is not None else configured_connections()
    idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    if wanted > 1 and idle:
        try:
            return _body_shared(conn, clock, wanted, body)
        except _NoSnapshot:
            pass  # the server cannot export a snapshot (the attempt was rolled back): conn alone
    with conn.transaction():
        _begin_snapshot(conn, clock)
        return body(lambda jobs: [run(conn) for _, run in jobs])


class _NoSnapshot(Exception):
    """The server refused pg_export_snapshot()."""


def _begin_snapshot(conn: psycopg.Connection, clock: dt.datetime) -> None:
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    conn.execute("SELECT set_config(%s, %s, true)", (CLOCK_SETTING, clock_value(clock)))


def _body_shared(
    conn: psycopg.Connection, clock: dt.datetime, wanted: int, body: Callable[[Runner], T]
) -> T:
    with conn.transaction():
        _begin_snapshot(conn, clock)
        try:
            # Not in a savepoint: a snapshot cannot be exported from a subtransaction.
            row = conn.execute("SELECT pg_export_snapshot()").fetchone()
        except psycopg.Error as exc:
            raise _NoSnapshot(str(exc)) from exc
        snapshot = str(row[0]) if row else ""
        with _siblings(conn, wanted - 1, snapshot, clock) as siblings:
            return body(lambda jobs: _run_shared(conn, siblings, jobs))


def configured_connections() -> int:
    value = os.environ.get(CONNECTIONS_ENV, "").strip()
    if not value:
        return DEFAULT_CONNECTIONS
    try:
        return max(1, int(value))
    except ValueError as exc:
        raise ValueError(f"{CONNECTIONS_ENV}={value!r}: expected a whole number >= 1") from exc


def _open_sibling(
    conn: psycopg.Connection, snapshot: str, clock: dt.datetime
) -> psycopg.Connection:
    """A connection like conn (same server, login, role and session settings) inside a transaction
    that reads conn's exported snapshot."""
    settings = conn.execute(
        "SELECT name, current_setting(name) FROM pg_catalog.pg_settings"
        " WHERE source = 'session' AND name NOT LIKE 'transaction\\_%'"  # those of this transaction
    ).fetchall()
    role = conn.execute("SELECT current_user, session_user").fetchone()
    sibling = psycopg.connect(
        conn.info.dsn, password=conn.info.password or None, connect_timeout=10, autocommit=True
    )
    try:
        for name, value in settings:
            sibling.execute("SELECT set_config(%s, %s, false)", (name, value))
        if role and role[0] != role[1]:
            sibling.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role[0])))
        sibling.autocommit = False
        sibling.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        sibling.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        sibling.execute("SELECT set_config(%s, %s, true)", (CLOCK_SETTING, clock_value(clock)))
    except BaseException:
        sibling.close()
        raise
    return sibling


@contextlib.contextmanager
def _siblings(
    conn: psycopg.Connection, count: int, snapshot: str, clock: dt.datetime
) -> Iterator[list[psycopg.Connection]]:
    opened: list[psycopg.Connection] = []
    try:
        for _ in range(count):
            try:
                opened.append(_open_sibling(conn, snapshot, clock))
            except psycopg.Error:
                break  # e.g. no connection slot left: the others (and conn) do the work
        yield opened
    finally:
        for sibling in opened:
            with contextlib.suppress(psycopg.Error):
                sibling.rollback()
            sibling.close()


def _cost_order(conn: psycopg.Connection, jobs: Sequence[_Job]) -> list[int]:
    """Indexes of jobs, the likely slowest first (most rows read, by the planner's statistics),
    so that the connections finish together. (At scale 10 this schedule ends within 2 % of the
    longest-first schedule by the checks' measured times.)"""
    rows = conn.execute(
        "SELECT n.nspname, c.relname, greatest(c.reltuples, 0)"
        "  FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p')"
    ).fetchall()
    size = {(schema, table): float(tuples) for schema, table, tuples in rows}
    cost = [sum(size.get(ref, 0.0) for ref in reads) for reads, _ in jobs]
    return sorted(range(len(jobs)), key=lambda i: (-cost[i], i))


def _run_shared(
    conn: psycopg.Connection,
    siblings: Sequence[psycopg.Connection],
    jobs: Sequence[_Job],
) -> list[Any]:
    """Every connection takes the next job until none is left; the first error stops the rest."""
    queue = _cost_order(conn, jobs)
    lock = threading.Lock()
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def work(connection: psycopg.Connection) -> None:
        while True:
            with lock:
                if errors or not queue:
                    return
                index = queue.pop(0)
            try:
                result = jobs[index][1](connection)
            except BaseException as exc:  # re-raised in the caller's thread
                with lock:
                    errors.append(exc)
                return
            with lock:
                results[index] = result

    threads = [threading.Thread(target=work, args=(s,), daemon=True) for s in siblings]
    for thread in threads:
        thread.start()
    try:
        work(conn)
    finally:
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(jobs))]


# ----------------------------------------------------------------------------- Dagster results
def check_metadata(outcome: CheckOutcome) -> dict[str, Any]:
    """Metadata of a check result: counts, rate, threshold, sample keys and what else it measured."""
    metadata: dict[str, Any] = {
        "affected_count": MetadataValue.int(outcome.affected_count),
        "total_rows": MetadataValue.int(outcome.total_rows),
        "rate": MetadataValue.float(outcome.rate),
        "threshold": MetadataValue.float(outcome.threshold),
        "sample_keys": MetadataValue.json(list(outcome.sample_keys)),
        "dimension": outcome.check.dimension,
        "table": outcome.check.table_name,
        "severity": outcome.severity,
        "sql_path": outcome.check.relative_path,
    }
    if outcome.details:
        metadata["details"] = MetadataValue.json(dict(outcome.details))
    return metadata


def check_description(outcome: CheckOutcome) -> str:
    verdict = "passed" if outcome.passed else "FAILED"
    text = (
        f"{outcome.check.name} {verdict} ({outcome.severity}): {outcome.affected_count} of "
        f"{outcome.total_rows} rows of {outcome.check.table_name} fail "
        f"(rate {outcome.rate:.6f}, threshold {outcome.threshold:g})"
    )
    if outcome.sample_keys and not outcome.passed:
        text += f"; e.g. {', '.join(outcome.sample_keys[:3])}"
    return text


def _severity(outcome: CheckOutcome) -> AssetCheckSeverity:
    return AssetCheckSeverity.ERROR if outcome.blocking else AssetCheckSeverity.WARN


def to_check_result(outcome: CheckOutcome, asset_key: Any) -> AssetCheckResult:
    return AssetCheckResult(
        asset_key=asset_key,
        check_name=outcome.check.name,
        passed=outcome.passed,
        severity=_severity(outcome),
        description=check_description(outcome),
        metadata=check_metadata(outcome),
    )


def to_check_evaluation(outcome: CheckOutcome, asset_key: Any) -> AssetCheckEvaluation:
    """The same result, as an event another step (the evaluation asset) can log for the check."""
    return AssetCheckEvaluation(
        asset_key=asset_key,
        check_name=outcome.check.name,
        passed=outcome.passed,
        severity=_severity(outcome),
        description=check_description(outcome),
        metadata=check_metadata(outcome),
        blocking=outcome.blocking,
    )


# -------------------------------------------------------------------------------------- the gate
@dataclass(frozen=True)
class GateEntry:
    """The latest recorded result of one check, as the gate sees it."""

    check_name: str
    dimension: str
    severity: str
    table_name: str
    passed: bool
    affected_count: int
    sample_keys: tuple[str, ...] = ()


def gate_failures(entries: Sequence[GateEntry]) -> list[GateEntry]:
    """Blocking failures: ERROR checks that did not pass, in a fixed order."""
    return sorted(
        (e for e in entries if e.severity == "ERROR" and not e.passed),
        key=lambda e: e.check_name,
    )


def gate_message(failures: Sequence[GateEntry]) -> str:
    """One line per failing blocking check, naming it, its table and how many rows fail."""
    lines = [
        f"Data-quality gate: {len(failures)} blocking check"
        f"{'s' if len(failures) != 1 else ''} failed (severity ERROR); the KPIs are not built "
        "on this data:"
    ]
    for f in failures:
        sample = f" e.g. {', '.join(f.sample_keys[:3])}" if f.sample_keys else ""
        lines.append(
            f"  {f.check_name} ({f.dimension}, {f.table_name}): {f.affected_count} rows{sample}"
        )
    lines.append(
        "See analytics.vw_data_quality_report / dashboard/data/quality.json; set a check's "
        "severity in [quality_checks] of analytics.toml."
    )
    return "\n".join(lines)

"""Keep every evaluation in the database (no Dagster here).

- ``analytics.data_quality_results``: one row per check per evaluation, passing or not (the history
  behind the trend and the report view).
- ``analytics.data_quality_issues``: one OPEN issue per failing check (a partial unique index allows only
  one), refreshed on every evaluation that still finds it (``last_seen_at``, count, samples, severity);
  RESOLVED (with ``resolved_at``) by the first evaluation where the check passes. Never deleted; a check
  that fails again later opens a new issue.

Only the checks of this evaluation are touched: running a subset never resolves the others.

- ``analytics.data_quality_segments``: the parts an incremental evaluation ran (``checks/segments.py``),
  with their input keys, written in the same transaction as the results they gave.
- ``analytics.data_quality_fingerprints``: the content fingerprint of each table the evaluation read,
  with its row versions' fingerprint (``segments.table_state``), in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from retailmart_dagster.assets.sql_parse import Ref
from retailmart_dagster.checks.evaluate import CheckOutcome, GateEntry
from retailmart_dagster.checks.segments import (
    FINGERPRINTS_TABLE,
    Part,
    TableState,
    has_table,
)

LOCK_KEY = "retailmart:data_quality"

INSERT_RESULT = """
INSERT INTO analytics.data_quality_results
       (run_id, evaluated_at, reference_date, check_name, dimension, severity, table_name, passed,
        affected_count, total_rows, failing_rate, threshold, sample_keys, details)
VALUES (%s, now(), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb)
"""

OPEN_ISSUE = """
INSERT INTO analytics.data_quality_issues AS d
       (check_name, dimension, severity, table_name, affected_count, sample_keys, detected_at,
        last_seen_at, status)
VALUES (%s, %s, %s, %s, %s, %s::jsonb, now(), now(), 'open')
ON CONFLICT (check_name) WHERE status = 'open' DO UPDATE
   SET dimension = EXCLUDED.dimension,
       severity = EXCLUDED.severity,
       table_name = EXCLUDED.table_name,
       affected_count = EXCLUDED.affected_count,
       sample_keys = EXCLUDED.sample_keys,
       last_seen_at = EXCLUDED.last_seen_at
"""

RESOLVE_ISSUES = """
UPDATE analytics.data_quality_issues
   SET status = 'resolved', resolved_at = now()
 WHERE status = 'open' AND check_name = ANY(%s)
"""

STORE_PART = """
INSERT INTO analytics.data_quality_segments AS s
       (check_name, segment, boundary, input_key, severity, affected_count, total_rows, threshold,
        sample_keys, details, run_id, evaluated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, now())
ON CONFLICT (check_name, segment) DO UPDATE
   SET boundary = EXCLUDED.boundary,
       input_key = EXCLUDED.input_key,
       severity = EXCLUDED.severity,
       affected_count = EXCLUDED.affected_count,
       total_rows = EXCLUDED.total_rows,
       threshold = EXCLUDED.threshold,
       sample_keys = EXCLUDED.sample_keys,
       details = EXCLUDED.details,
       run_id = EXCLUDED.run_id,
       evaluated_at = EXCLUDED.evaluated_at
"""

# Parts this evaluation no longer has: a segment an evaluated check no longer has, or (with the
# names of every registered check) the parts of a check that no longer exists. The parts of checks
# outside a subset evaluation are kept: they are still valid, and their input keys decide.
PRUNE_PARTS = """
DELETE FROM analytics.data_quality_segments AS s
 WHERE (s.check_name = ANY(%(evaluated)s)
        AND NOT ((s.check_name, s.segment) IN (SELECT * FROM unnest(%(names)s::text[], %(segments)s::text[]))))
    OR (%(known)s::text[] IS NOT NULL AND s.check_name <> ALL(%(known)s::text[]))
"""

STORE_FINGERPRINT = """
INSERT INTO analytics.data_quality_fingerprints AS f
       (table_name, segment, boundary, columns_key, version_rows, version_sum, content_rows,
        content_sum, run_id, evaluated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (table_name) DO UPDATE
   SET segment = EXCLUDED.segment,
       boundary = EXCLUDED.boundary,
       columns_key = EXCLUDED.columns_key,
       version_rows = EXCLUDED.version_rows,
       version_sum = EXCLUDED.version_sum,
       content_rows = EXCLUDED.content_rows,
       content_sum = EXCLUDED.content_sum,
       run_id = EXCLUDED.run_id,
       evaluated_at = EXCLUDED.evaluated_at
"""

LATEST_RESULTS = """
SELECT DISTINCT ON (r.check_name)
       r.check_name, r.dimension, r.severity, r.table_name, r.passed, r.affected_count, r.sample_keys
  FROM analytics.data_quality_results AS r
 WHERE r.check_name = ANY(%s)
 ORDER BY r.check_name, r.evaluated_at DESC, r.result_id DESC
"""


def record_outcomes(
    conn: psycopg.Connection,
    outcomes: Sequence[CheckOutcome],
    run_id: str | None,
    parts: Sequence[Part] | None = None,
    known_checks: Sequence[str] | None = None,
    tables: Mapping[Ref, TableState] | None = None,
) -> None:
    """Write one evaluation (results, open and resolved issues) in one transaction; with ``parts``
    (an incremental evaluation, ``segments.evaluate_incremental``, of every check or of a subset)
    also store the parts it ran and drop the stored parts its checks no longer have, and those of
    checks not in ``known_checks`` (every registered check; None: keep them); with ``tables``
    (the evaluation's) keep each table's fingerprints for the next one."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (LOCK_KEY,))
        reference_row = conn.execute("SELECT analytics.fn_reference_date()").fetchone()
        reference_date = reference_row[0] if reference_row else None
        with conn.cursor() as cur:
            cur.executemany(
                INSERT_RESULT,
                [
                    (
                        run_id,
                        reference_date,
                        o.check.name,
                        o.check.dimension,
                        o.severity,
                        o.check.table_name,
                        o.passed,
                        o.affected_count,
                        o.total_rows,
                        o.rate,
                        o.threshold,
                        json.dumps(list(o.sample_keys)),
                        json.dumps(dict(o.details), sort_keys=True),
                    )
                    for o in outcomes
                ],
            )
            failing = [o for o in outcomes if not o.passed]
            if failing:
                cur.executemany(
                    OPEN_ISSUE,
                    [
                        (
                            o.check.name,
                            o.check.dimension,
                            o.severity,
                            o.check.table_name,
                            o.affected_count,
                            json.dumps(list(o.sample_keys)),
                        )
                        for o in failing
                    ],
                )
            cur.execute(RESOLVE_ISSUES, ([o.check.name for o in outcomes if o.passed],))
            if parts is not None:
                store_parts(cur, parts, run_id, known_checks)
            # Only where setup created the table: a data_quality_job run right after an upgrade,
            # before the setup assets ran, still records its results (nothing kept is only slower).
            if tables and has_table(conn, FINGERPRINTS_TABLE):
                cur.executemany(
                    STORE_FINGERPRINT,
                    [
                        (
                            f"{ref[0]}.{ref[1]}",
                            t.segment,
                            t.boundary,
                            t.columns_key,
                            t.versions[0],
                            t.versions[1],
                            t.content[0],
                            t.content[1],
                            run_id,
                        )
                        for ref, t in sorted(tables.items())
                    ],
                )


def store_parts(
    cur: psycopg.Cursor[Any],
    parts: Sequence[Part],
    run_id: str | None,
    known_checks: Sequence[str] | None = None,
) -> None:
    """Store the parts an evaluation ran (reused ones are stored already) and drop the stored parts
    of its checks' segments it no longer has and, unless ``known_checks`` is None, of checks not in
    it; in the caller's transaction."""
    cur.execute(
        PRUNE_PARTS,
        {
            "evaluated": sorted({p.check_name for p in parts}),
            "names": [p.check_name for p in parts],
            "segments": [p.segment for p in parts],
            "known": None if known_checks is None else list(known_checks),
        },
    )
    cur.executemany(
        STORE_PART,
        [
            (
                p.check_name,
                p.segment,
                p.boundary,
                p.input_key,
                p.outcome.severity,
                p.outcome.affected_count,
                p.outcome.total_rows,
                p.outcome.threshold,
                json.dumps(list(p.outcome.sample_keys)),
                json.dumps(dict(p.outcome.details), sort_keys=True),
                run_id,
            )
            for p in parts
            if not p.reused
        ],
    )


def latest_results(conn: psycopg.Connection, check_names: Sequence[str]) -> list[GateEntry]:
    """The latest recorded result of each named check (checks never evaluated are absent)."""
    rows = conn.execute(LATEST_RESULTS, (list(check_names),)).fetchall()
    return [
        GateEntry(
            check_name=r[0],
            dimension=r[1],
            severity=r[2],
            table_name=r[3],
            passed=bool(r[4]),
            affected_count=int(r[5]),
            sample_keys=tuple(r[6] or ()),
        )
        for r in rows
    ]

-- analytics.fn_export_quality(): dashboard/data/quality.json — the data-quality report for the
-- dashboard. "rows": every check with its latest evaluation (failures first: blocking, then warnings;
-- then by dimension and name), "summary": totals and whether the gate blocks the KPIs, "byDimension"
-- and "byTable": checks, passed, failed, blocking failures and failing records, "trend": per reference
-- date (the data's "today" when evaluated; the latest evaluation of each check on that date) for the
-- last quality.trend_points dates, the same counts per dimension; "period" spans the trend's dates.
-- Re-running on unchanged data gives the same file. Rates are percentages rounded to 2 decimals.
-- Question: How healthy is the source data, per dimension and per table, and is it getting better?
-- Owner: Data platform
-- Refresh: daily
-- KPI failed: checks whose latest evaluation did not pass
-- KPI blocking_failed: failed checks of severity ERROR (the gate blocks the KPIs when > 0)
-- KPI affected_rows: sum of affected_count over failed checks
-- KPI pass_rate_pct: 100 * passed / checks
CREATE OR REPLACE FUNCTION analytics.fn_export_quality()
RETURNS jsonb
LANGUAGE sql
STABLE
AS $$
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_int('quality.trend_points') AS trend_points,
           analytics.fn_reference_date() AS reference_date
),
report AS (
    SELECT r.*
      FROM analytics.vw_data_quality_report AS r
),
by_dimension AS (
    SELECT r.dimension,
           count(*) AS checks,
           count(*) FILTER (WHERE r.passed) AS passed,
           count(*) FILTER (WHERE NOT r.passed) AS failed,
           count(*) FILTER (WHERE r.blocking_failure) AS blocking_failed,
           coalesce(sum(r.affected_count) FILTER (WHERE NOT r.passed), 0) AS affected_rows
      FROM report AS r
     GROUP BY r.dimension
),
by_table AS (
    SELECT r.table_name,
           count(*) AS checks,
           count(*) FILTER (WHERE r.passed) AS passed,
           count(*) FILTER (WHERE NOT r.passed) AS failed,
           count(*) FILTER (WHERE r.blocking_failure) AS blocking_failed,
           coalesce(sum(r.affected_count) FILTER (WHERE NOT r.passed), 0) AS affected_rows
      FROM report AS r
     GROUP BY r.table_name
),
per_date AS (
    SELECT DISTINCT ON (h.reference_date, h.check_name)
           h.reference_date,
           h.check_name,
           h.dimension,
           h.severity,
           h.passed,
           h.affected_count
      FROM analytics.data_quality_results AS h
     WHERE h.reference_date IS NOT NULL
     ORDER BY h.reference_date, h.check_name, h.evaluated_at DESC, h.result_id DESC
),
trend_dates AS (
    SELECT d.reference_date
      FROM (SELECT DISTINCT pd.reference_date FROM per_date AS pd) AS d
     ORDER BY d.reference_date DESC
     LIMIT (SELECT p.trend_points FROM params AS p)
),
trend_dimension AS (
    SELECT pd.reference_date,
           pd.dimension,
           count(*) AS checks,
           count(*) FILTER (WHERE NOT pd.passed) AS failed,
           count(*) FILTER (WHERE NOT pd.passed AND pd.severity = 'ERROR') AS blocking_failed,
           coalesce(sum(pd.affected_count) FILTER (WHERE NOT pd.passed), 0) AS affected_rows
      FROM per_date AS pd
      JOIN trend_dates AS td ON td.reference_date = pd.reference_date
     GROUP BY pd.reference_date, pd.dimension
),
trend AS (
    SELECT t.reference_date,
           sum(t.checks) AS checks,
           sum(t.failed) AS failed,
           sum(t.blocking_failed) AS blocking_failed,
           sum(t.affected_rows) AS affected_rows,
           jsonb_agg(
               jsonb_build_object(
                   'dimension', t.dimension,
                   'checks', t.checks,
                   'failed', t.failed,
                   'blockingFailed', t.blocking_failed,
                   'affectedRows', t.affected_rows
               )
               ORDER BY t.dimension
           ) AS dimensions
      FROM trend_dimension AS t
     GROUP BY t.reference_date
)
SELECT jsonb_build_object(
           'referenceDate', p.reference_date,
           'period', jsonb_build_object(
               'from', (SELECT min(td.reference_date) FROM trend_dates AS td),
               'to', (SELECT max(td.reference_date) FROM trend_dates AS td)
           ),
           'summary', (
               SELECT jsonb_build_object(
                          'checks', count(*),
                          'passed', count(*) FILTER (WHERE r.passed),
                          'failed', count(*) FILTER (WHERE NOT r.passed),
                          'blockingFailed', count(*) FILTER (WHERE r.blocking_failure),
                          'warningsFailed', count(*) FILTER (WHERE NOT r.passed AND NOT r.blocking_failure),
                          'affectedRows', coalesce(sum(r.affected_count) FILTER (WHERE NOT r.passed), 0),
                          'openIssues', (SELECT count(*) FROM analytics.data_quality_issues AS i
                                          WHERE i.status = 'open'),
                          'gate', CASE WHEN bool_or(r.blocking_failure) THEN 'blocked' ELSE 'pass' END
                      )
                 FROM report AS r
           ),
           'byDimension', coalesce((
               SELECT jsonb_agg(
                          jsonb_build_object(
                              'dimension', d.dimension,
                              'checks', d.checks,
                              'passed', d.passed,
                              'failed', d.failed,
                              'blockingFailed', d.blocking_failed,
                              'affectedRows', d.affected_rows,
                              'passRatePct', round(100.0 * d.passed / nullif(d.checks, 0), 2)
                          )
                          ORDER BY d.dimension
                      )
                 FROM by_dimension AS d
           ), '[]'::jsonb),
           'byTable', coalesce((
               SELECT jsonb_agg(
                          jsonb_build_object(
                              'table', t.table_name,
                              'checks', t.checks,
                              'passed', t.passed,
                              'failed', t.failed,
                              'blockingFailed', t.blocking_failed,
                              'affectedRows', t.affected_rows,
                              'passRatePct', round(100.0 * t.passed / nullif(t.checks, 0), 2)
                          )
                          ORDER BY t.failed DESC, t.table_name
                      )
                 FROM by_table AS t
           ), '[]'::jsonb),
           'rows', coalesce((
               SELECT jsonb_agg(
                          jsonb_build_object(
                              'check', r.check_name,
                              'dimension', r.dimension,
                              'table', r.table_name,
                              'severity', r.severity,
                              'passed', r.passed,
                              'blocking', r.blocking_failure,
                              'affectedCount', r.affected_count,
                              'totalRows', r.total_rows,
                              'failingRatePct', round(100 * r.failing_rate, 2),
                              'thresholdPct', round(100 * r.threshold, 2),
                              'sampleKeys', r.sample_keys,
                              'details', r.details,
                              'openSince', r.open_since
                          )
                          ORDER BY r.passed, r.blocking_failure DESC, r.dimension, r.check_name
                      )
                 FROM report AS r
           ), '[]'::jsonb),
           'trend', coalesce((
               SELECT jsonb_agg(
                          jsonb_build_object(
                              'referenceDate', t.reference_date,
                              'checks', t.checks,
                              'failed', t.failed,
                              'blockingFailed', t.blocking_failed,
                              'affectedRows', t.affected_rows,
                              'byDimension', t.dimensions
                          )
                          ORDER BY t.reference_date
                      )
                 FROM trend AS t
           ), '[]'::jsonb)
       )
  FROM params AS p;
$$;

-- analytics.vw_data_quality_report: the unified data-quality report. One row per data-quality check
-- (retailmart_dagster/checks/sql/<dimension>/<check>.sql) with its latest evaluation from
-- analytics.data_quality_results: dimension, severity, source table, failing records, population,
-- failing rate, threshold, sample keys of failing rows and what else it measured, and the data's
-- reference date when evaluated; and, while it fails, its open issue from analytics.data_quality_issues
-- (since when). Re-evaluating unchanged data gives the same rows (when and by which run each check was
-- evaluated is in analytics.data_quality_results).
-- Question: Which data-quality rules does the source data break right now, where, and how badly?
-- Owner: Data platform
-- Refresh: daily
-- KPI affected_count: failing records of the check's population (records, not groups)
-- KPI failing_rate: affected_count / total_rows (0 for an empty population)
-- KPI passed: affected_count = 0, or failing_rate <= threshold (the failing share the check tolerates)
-- KPI blocking_failure: severity = ERROR and not passed (the data-quality gate stops the KPIs)
-- KPI open_since: detected_at of the check's open issue (the first evaluation of the current failure)
CREATE VIEW analytics.vw_data_quality_report AS
WITH latest AS (
    SELECT DISTINCT ON (r.check_name)
           r.check_name,
           r.dimension,
           r.severity,
           r.table_name,
           r.passed,
           r.affected_count,
           r.total_rows,
           r.failing_rate,
           r.threshold,
           r.sample_keys,
           r.details,
           r.reference_date
      FROM analytics.data_quality_results AS r
     ORDER BY r.check_name, r.evaluated_at DESC, r.result_id DESC
)
SELECT l.check_name,
       l.dimension,
       l.severity,
       l.table_name,
       l.passed,
       (l.severity = 'ERROR' AND NOT l.passed) AS blocking_failure,
       l.affected_count,
       l.total_rows,
       l.failing_rate,
       l.threshold,
       l.sample_keys,
       l.details,
       l.reference_date,
       i.issue_id,
       i.detected_at AS open_since
  FROM latest AS l
  LEFT JOIN analytics.data_quality_issues AS i
         ON i.check_name = l.check_name AND i.status = 'open';

-- Attendance rows of an employee that does not exist.
-- Table: hr.attendance
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_orphan_attendance') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT t.emp_id, t.date
      FROM hr.attendance AS t
     WHERE t.emp_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM stores.employees AS e WHERE e.emp_id = t.emp_id)
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM hr.attendance) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'emp_id=' || f.emp_id || ',date=' || f.date FROM failing AS f
              ORDER BY f.emp_id, f.date LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

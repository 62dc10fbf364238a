-- Salary history rows of an employee that does not exist.
-- Table: hr.salary_history
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_orphan_salary_history') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT h.emp_id, h.effective_date
      FROM hr.salary_history AS h
     WHERE h.emp_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM stores.employees AS e WHERE e.emp_id = h.emp_id)
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM hr.salary_history) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'emp_id=' || f.emp_id || ',effective_date=' || f.effective_date FROM failing AS f
              ORDER BY f.emp_id, f.effective_date LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

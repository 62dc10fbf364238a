-- Employees with a zero or negative monthly salary: payroll cost and revenue per employee would be
-- wrong.
-- Table: stores.employees
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_employee_salary_not_positive') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
checked AS (
    SELECT e.emp_id,
           e.salary <= 0 AS failed
      FROM stores.employees AS e
),
summary AS (
    SELECT count(*) AS total_rows,
           array_agg(c.emp_id) FILTER (WHERE c.failed) AS failing_keys
      FROM checked AS c
),
failing AS (
    SELECT f.emp_id
      FROM summary AS sm
      CROSS JOIN unnest(sm.failing_keys) AS f (emp_id)
)
SELECT coalesce(cardinality(sm.failing_keys), 0) AS affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'emp_id=' || f.emp_id FROM failing AS f
              ORDER BY f.emp_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;

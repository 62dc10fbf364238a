-- Employees with a zero or negative monthly salary: payroll cost and revenue per employee would be
-- wrong.
-- Table: stores.employees
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_employee_salary_not_positive') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT e.emp_id
      FROM stores.employees AS e
     WHERE e.salary <= 0
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM stores.employees) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'emp_id=' || f.emp_id FROM failing AS f
              ORDER BY f.emp_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

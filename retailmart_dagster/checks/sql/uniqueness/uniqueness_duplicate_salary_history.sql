-- Salary history rows repeating an (employee, effective date) key: the table has no primary key, so
-- an employee would have two salaries from the same day. Every row after the first of a key is
-- counted.
-- Table: hr.salary_history
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.uniqueness_duplicate_salary_history') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
ranked AS (
    SELECT t.*,
           row_number() OVER (PARTITION BY t.emp_id, t.effective_date ORDER BY t.salary) AS position
      FROM hr.salary_history AS t
     WHERE t.emp_id IS NOT NULL AND t.effective_date IS NOT NULL
),
failing AS (
    SELECT r.* FROM ranked AS r WHERE r.position > 1
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM hr.salary_history) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'emp_id=' || f.emp_id || ',effective_date=' || f.effective_date FROM failing AS f
              ORDER BY f.emp_id, f.effective_date LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

-- Employees of a department or a store that does not exist: staffing and payroll KPIs per store
-- cannot place them.
-- Table: stores.employees
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_orphan_employees') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT e.emp_id
      FROM stores.employees AS e
     WHERE (e.dept_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM stores.departments AS d WHERE d.dept_id = e.dept_id))
        OR (e.store_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM stores.stores AS s WHERE s.store_id = e.store_id))
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM stores.employees) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'emp_id=' || f.emp_id FROM failing AS f
              ORDER BY f.emp_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

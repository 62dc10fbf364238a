-- Loyalty balances of a customer that does not exist.
-- Table: customers.loyalty_points
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_orphan_loyalty_points') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT l.cust_id
      FROM customers.loyalty_points AS l
     WHERE NOT EXISTS (SELECT 1 FROM customers.customers AS c WHERE c.cust_id = l.cust_id)
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM customers.loyalty_points) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'cust_id=' || f.cust_id FROM failing AS f
              ORDER BY f.cust_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

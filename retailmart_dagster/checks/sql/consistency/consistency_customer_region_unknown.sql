-- Customers whose region name is not in core.dim_region (a reference by name, declared nowhere):
-- regional customer KPIs would show an unknown region.
-- Table: customers.customers
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_customer_region_unknown') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT c.cust_id
      FROM customers.customers AS c
     WHERE c.region_name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM core.dim_region AS dr WHERE dr.region_name = c.region_name)
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM customers.customers) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'cust_id=' || f.cust_id FROM failing AS f
              ORDER BY f.cust_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

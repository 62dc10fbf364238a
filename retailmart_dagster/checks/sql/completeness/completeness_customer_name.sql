-- Customers without a name (full_name NULL or blank): they cannot be shown in top-customer lists nor
-- matched by natural key (full_name, city, join_date) to find duplicates.
-- Table: customers.customers
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.completeness_customer_name') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
checked AS (
    SELECT c.cust_id,
           (c.full_name IS NULL OR btrim(c.full_name) = '') AS failed
      FROM customers.customers AS c
),
summary AS (
    SELECT count(*) AS total_rows,
           array_agg(c.cust_id) FILTER (WHERE c.failed) AS failing_keys
      FROM checked AS c
),
failing AS (
    SELECT f.cust_id
      FROM summary AS sm
      CROSS JOIN unnest(sm.failing_keys) AS f (cust_id)
)
SELECT coalesce(cardinality(sm.failing_keys), 0) AS affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'cust_id=' || f.cust_id FROM failing AS f
              ORDER BY f.cust_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;

-- Customers missing a profile attribute that customer KPIs segment by: gender, age, city, state,
-- region or join date (demographics, geography, cohorts).
-- Table: customers.customers
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.completeness_customer_profile') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
checked AS (
    SELECT c.cust_id,
           (c.gender IS NULL
            OR c.age IS NULL
            OR c.city IS NULL
            OR c.state IS NULL
            OR c.region_name IS NULL
            OR c.join_date IS NULL) AS failed
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

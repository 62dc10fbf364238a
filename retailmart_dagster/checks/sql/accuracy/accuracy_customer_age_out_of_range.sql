-- Customers whose age lies outside the plausible range (quality.customer_age_min ..
-- quality.customer_age_max): age bands and demographics would be wrong.
-- Table: customers.customers
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_customer_age_out_of_range') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit,
           analytics.fn_config_int('quality.customer_age_min') AS age_min,
           analytics.fn_config_int('quality.customer_age_max') AS age_max
),
checked AS (
    SELECT c.cust_id,
           (c.age < p.age_min OR c.age > p.age_max) AS failed
      FROM customers.customers AS c
      CROSS JOIN params AS p
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

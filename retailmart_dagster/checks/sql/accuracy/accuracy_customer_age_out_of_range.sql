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
failing AS (
    SELECT c.cust_id
      FROM customers.customers AS c
      CROSS JOIN params AS p
     WHERE c.age < p.age_min OR c.age > p.age_max
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM customers.customers) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'cust_id=' || f.cust_id FROM failing AS f
              ORDER BY f.cust_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

-- Customers missing a profile attribute that customer KPIs segment by: gender, age, city, state,
-- region or join date (demographics, geography, cohorts).
-- Table: customers.customers
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.completeness_customer_profile') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT c.cust_id
      FROM customers.customers AS c
     WHERE c.gender IS NULL
        OR c.age IS NULL
        OR c.city IS NULL
        OR c.state IS NULL
        OR c.region_name IS NULL
        OR c.join_date IS NULL
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM customers.customers) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'cust_id=' || f.cust_id FROM failing AS f
              ORDER BY f.cust_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

-- Duplicate customers by natural key: the same full name, city and join date (names and cities
-- compared case- and space-insensitively) under different cust_ids. Counted in records, not groups:
-- a key held by n customers contributes n - 1 (every record after the one with the lowest cust_id),
-- and those extra records are the sample keys. Customers without a name, city or join date cannot be
-- matched (see completeness_customer_name and completeness_customer_profile).
-- Table: customers.customers
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.uniqueness_duplicate_customers') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
ranked AS (
    SELECT c.cust_id,
           row_number() OVER (
               PARTITION BY lower(btrim(c.full_name)), lower(btrim(c.city)), c.join_date
               ORDER BY c.cust_id
           ) AS position
      FROM customers.customers AS c
     WHERE c.full_name IS NOT NULL AND c.city IS NOT NULL AND c.join_date IS NOT NULL
),
failing AS (
    SELECT r.cust_id FROM ranked AS r WHERE r.position > 1
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM customers.customers) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'cust_id=' || f.cust_id FROM failing AS f
              ORDER BY f.cust_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

-- Addresses of a customer that does not exist.
-- Table: customers.addresses
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_orphan_addresses') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT a.address_id
      FROM customers.addresses AS a
     WHERE a.cust_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM customers.customers AS c WHERE c.cust_id = a.cust_id)
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM customers.addresses) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'address_id=' || f.address_id FROM failing AS f
              ORDER BY f.address_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

-- Inventory rows not updated for more than the configured number of days
-- (quality.stale_inventory_days) before the data's reference date (analytics.fn_reference_date()):
-- stock levels that may no longer be true. Rows without a date are counted by
-- completeness_inventory_values.
-- Table: products.inventory
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.timeliness_stale_inventory') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit,
           analytics.fn_reference_date() - analytics.fn_config_int('quality.stale_inventory_days')
               AS oldest_fresh_date
),
failing AS (
    SELECT v.store_id, v.prod_id
      FROM products.inventory AS v
      CROSS JOIN params AS p
     WHERE v.last_updated < p.oldest_fresh_date
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM products.inventory) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'store_id=' || f.store_id || ',prod_id=' || f.prod_id FROM failing AS f
              ORDER BY f.store_id, f.prod_id LIMIT p.sample_limit) AS sample_keys,
       jsonb_build_object('oldest_fresh_date', p.oldest_fresh_date) AS details
  FROM params AS p;

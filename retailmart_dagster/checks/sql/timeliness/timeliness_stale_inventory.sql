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
checked AS (
    SELECT v.store_id,
           v.prod_id,
           v.last_updated < p.oldest_fresh_date AS failed
      FROM products.inventory AS v
      CROSS JOIN params AS p
),
summary AS (
    SELECT count(*) AS total_rows,
           array_agg(c.store_id) FILTER (WHERE c.failed) AS failing_store_id,
           array_agg(c.prod_id) FILTER (WHERE c.failed) AS failing_prod_id
      FROM checked AS c
),
failing AS (
    SELECT f.store_id, f.prod_id
      FROM summary AS sm
      CROSS JOIN unnest(sm.failing_store_id, sm.failing_prod_id) AS f (store_id, prod_id)
)
SELECT coalesce(cardinality(sm.failing_store_id), 0) AS affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'store_id=' || f.store_id || ',prod_id=' || f.prod_id FROM failing AS f
              ORDER BY f.store_id, f.prod_id LIMIT p.sample_limit) AS sample_keys,
       jsonb_build_object('oldest_fresh_date', p.oldest_fresh_date) AS details
  FROM params AS p
  CROSS JOIN summary AS sm;

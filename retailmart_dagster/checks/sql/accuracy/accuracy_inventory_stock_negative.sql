-- Inventory rows with a negative stock quantity: stock value, stock-outs and turnover would be wrong.
-- Table: products.inventory
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_inventory_stock_negative') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
checked AS (
    SELECT v.store_id,
           v.prod_id,
           v.stock_qty < 0 AS failed
      FROM products.inventory AS v
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
              ORDER BY f.store_id, f.prod_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;

-- Inventory rows without a stock quantity or a last-updated date: stock levels and stock freshness
-- cannot be assessed for them.
-- Table: products.inventory
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.completeness_inventory_values') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT v.store_id, v.prod_id
      FROM products.inventory AS v
     WHERE v.stock_qty IS NULL OR v.last_updated IS NULL
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM products.inventory) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'store_id=' || f.store_id || ',prod_id=' || f.prod_id FROM failing AS f
              ORDER BY f.store_id, f.prod_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

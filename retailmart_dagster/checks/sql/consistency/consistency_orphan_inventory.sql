-- Inventory rows for a store (undeclared reference inventory.store_id) or a product that does not
-- exist: stock would be counted for stores that are not there.
-- Table: products.inventory
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_orphan_inventory') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT v.store_id, v.prod_id
      FROM products.inventory AS v
     WHERE (v.store_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM stores.stores AS s WHERE s.store_id = v.store_id))
        OR (v.prod_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM products.products AS pr WHERE pr.prod_id = v.prod_id))
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM products.inventory) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'store_id=' || f.store_id || ',prod_id=' || f.prod_id FROM failing AS f
              ORDER BY f.store_id, f.prod_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

-- Products of a supplier that does not exist: supplier KPIs cannot place them.
-- Table: products.products
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_orphan_products') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT pr.prod_id
      FROM products.products AS pr
     WHERE pr.supplier_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM products.suppliers AS s WHERE s.supplier_id = pr.supplier_id)
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM products.products) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'prod_id=' || f.prod_id FROM failing AS f
              ORDER BY f.prod_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

-- Products with a zero or negative list price: price points and margins would be wrong.
-- Table: products.products
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_product_price_not_positive') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
checked AS (
    SELECT pr.prod_id,
           pr.price <= 0 AS failed
      FROM products.products AS pr
),
summary AS (
    SELECT count(*) AS total_rows,
           array_agg(c.prod_id) FILTER (WHERE c.failed) AS failing_keys
      FROM checked AS c
),
failing AS (
    SELECT f.prod_id
      FROM summary AS sm
      CROSS JOIN unnest(sm.failing_keys) AS f (prod_id)
)
SELECT coalesce(cardinality(sm.failing_keys), 0) AS affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'prod_id=' || f.prod_id FROM failing AS f
              ORDER BY f.prod_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;

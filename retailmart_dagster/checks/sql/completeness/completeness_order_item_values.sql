-- Order lines missing their order, product, quantity or discount: a line without an order or a
-- product cannot be attributed, and NULL quantity or discount makes its amount NULL.
-- Table: sales.order_items
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.completeness_order_item_values') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
checked AS (
    SELECT i.order_item_id,
           (i.order_id IS NULL
            OR i.prod_id IS NULL
            OR i.quantity IS NULL
            OR i.discount IS NULL) AS failed
      FROM sales.order_items AS i
),
summary AS (
    SELECT count(*) AS total_rows,
           array_agg(c.order_item_id) FILTER (WHERE c.failed) AS failing_keys
      FROM checked AS c
),
failing AS (
    SELECT f.order_item_id
      FROM summary AS sm
      CROSS JOIN unnest(sm.failing_keys) AS f (order_item_id)
)
SELECT coalesce(cardinality(sm.failing_keys), 0) AS affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'order_item_id=' || f.order_item_id FROM failing AS f
              ORDER BY f.order_item_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;

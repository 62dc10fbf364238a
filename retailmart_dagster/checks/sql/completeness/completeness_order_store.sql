-- Orders without a store (sales.orders.store_id is NULL): store and regional KPIs cannot attribute
-- them. One failing row per order.
-- Table: sales.orders
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.completeness_order_store') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
checked AS (
    SELECT o.order_id,
           o.store_id IS NULL AS failed
      FROM sales.orders AS o
),
summary AS (
    SELECT count(*) AS total_rows,
           array_agg(c.order_id) FILTER (WHERE c.failed) AS failing_keys
      FROM checked AS c
),
failing AS (
    SELECT f.order_id
      FROM summary AS sm
      CROSS JOIN unnest(sm.failing_keys) AS f (order_id)
)
SELECT coalesce(cardinality(sm.failing_keys), 0) AS affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'order_id=' || f.order_id FROM failing AS f
              ORDER BY f.order_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;

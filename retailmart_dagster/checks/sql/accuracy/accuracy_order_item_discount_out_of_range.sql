-- Order lines whose discount (a percentage) lies outside the configured range (quality.discount_min_pct
-- .. quality.discount_max_pct): above 100 % the line amount becomes negative.
-- Table: sales.order_items
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_order_item_discount_out_of_range') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit,
           analytics.fn_config_numeric('quality.discount_min_pct') AS min_pct,
           analytics.fn_config_numeric('quality.discount_max_pct') AS max_pct
),
checked AS (
    SELECT i.order_item_id,
           (i.discount < p.min_pct OR i.discount > p.max_pct) AS failed
      FROM sales.order_items AS i
      CROSS JOIN params AS p
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

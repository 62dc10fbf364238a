-- Returns of orders that never reached the customer: the order's status is not a delivered status
-- (quality.delivered_order_statuses, e.g. a Pending or Cancelled order). One failing row per return.
-- Table: sales.returns
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_return_of_undelivered_order') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit,
           analytics.fn_config_text_array('quality.delivered_order_statuses') AS delivered_statuses
),
compared AS (
    SELECT r.return_id, o.order_status
      FROM sales.returns AS r
      JOIN sales.orders AS o ON o.order_id = r.order_id
),
checked AS (
    SELECT c.return_id,
           (c.order_status IS NULL OR NOT (c.order_status = ANY (p.delivered_statuses))) AS failed
      FROM compared AS c
      CROSS JOIN params AS p
),
summary AS (
    SELECT count(*) AS total_rows,
           array_agg(c.return_id) FILTER (WHERE c.failed) AS failing_keys
      FROM checked AS c
),
failing AS (
    SELECT f.return_id
      FROM summary AS sm
      CROSS JOIN unnest(sm.failing_keys) AS f (return_id)
)
SELECT coalesce(cardinality(sm.failing_keys), 0) AS affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'return_id=' || f.return_id FROM failing AS f
              ORDER BY f.return_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;

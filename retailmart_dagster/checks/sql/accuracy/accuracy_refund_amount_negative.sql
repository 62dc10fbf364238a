-- Returns with a negative refund amount: refunds would add to net revenue instead of reducing it.
-- (A zero refund is allowed: a return can be refused a refund.)
-- Table: sales.returns
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_refund_amount_negative') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
checked AS (
    SELECT r.return_id,
           r.refund_amount < 0 AS failed
      FROM sales.returns AS r
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

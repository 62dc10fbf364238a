-- Payments of zero or a negative amount: payment-mode totals and collected revenue are understated.
-- Table: sales.payments
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_payment_amount_not_positive') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
checked AS (
    SELECT y.payment_id,
           y.amount <= 0 AS failed
      FROM sales.payments AS y
),
summary AS (
    SELECT count(*) AS total_rows,
           array_agg(c.payment_id) FILTER (WHERE c.failed) AS failing_keys
      FROM checked AS c
),
failing AS (
    SELECT f.payment_id
      FROM summary AS sm
      CROSS JOIN unnest(sm.failing_keys) AS f (payment_id)
)
SELECT coalesce(cardinality(sm.failing_keys), 0) AS affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'payment_id=' || f.payment_id FROM failing AS f
              ORDER BY f.payment_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;

-- Payments pointing to an order that does not exist: collected amounts that no sale explains.
-- Table: sales.payments
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_orphan_payments') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT y.payment_id
      FROM sales.payments AS y
     WHERE y.order_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sales.orders AS o WHERE o.order_id = y.order_id)
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM sales.payments) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'payment_id=' || f.payment_id FROM failing AS f
              ORDER BY f.payment_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

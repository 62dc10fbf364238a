-- Orders paid more than once: the contract has one payment per order, so every payment after an
-- order's first (lowest payment_id) is counted, in records; payment-mode totals would count the order
-- twice.
-- Table: sales.payments
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.uniqueness_multiple_payments_per_order') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
ranked AS (
    SELECT t.*,
           row_number() OVER (PARTITION BY t.order_id ORDER BY t.payment_id) AS position
      FROM sales.payments AS t
     WHERE t.order_id IS NOT NULL
),
failing AS (
    SELECT r.* FROM ranked AS r WHERE r.position > 1
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM sales.payments) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'payment_id=' || f.payment_id || ',order_id=' || f.order_id FROM failing AS f
              ORDER BY f.payment_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

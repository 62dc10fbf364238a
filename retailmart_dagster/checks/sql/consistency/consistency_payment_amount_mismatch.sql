-- Payments whose amount differs from their order's total by more than the configured tolerance
-- (quality.amount_tolerance): the contract has one payment per order for its full total, so paid and
-- sold amounts no longer agree. Counted per payment; extra payments of an order are counted by
-- uniqueness_multiple_payments_per_order. Both tables are read in order_id order (the payments'
-- order_id index, the orders' primary key) and merge-joined, instead of hashing every order.
-- Table: sales.payments
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_payment_amount_mismatch') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit,
           analytics.fn_config_numeric('quality.amount_tolerance') AS tolerance
),
payments AS (
    SELECT y.payment_id, y.order_id, y.amount
      FROM sales.payments AS y
     ORDER BY y.order_id
),
orders AS (
    SELECT o.order_id, o.total_amount
      FROM sales.orders AS o
     ORDER BY o.order_id
),
checked AS (
    SELECT y.payment_id,
           abs(y.amount - o.total_amount) > p.tolerance AS failed
      FROM orders AS o
      JOIN payments AS y ON y.order_id = o.order_id
      CROSS JOIN params AS p
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

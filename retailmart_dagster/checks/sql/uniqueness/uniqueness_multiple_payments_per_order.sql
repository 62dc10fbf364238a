-- Orders paid more than once: the contract has one payment per order, so every payment after an
-- order's first (lowest payment_id) is counted, in records; payment-mode totals would count the order
-- twice. The payments are counted per order along their order_id index alone (no table read, no
-- sort): an order with n payments has n - 1 failing ones; only the payments of those orders are then
-- read, to name the failing ones.
-- Table: sales.payments
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.uniqueness_multiple_payments_per_order') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
per_order AS (
    SELECT y.order_id,
           count(*) AS payments,
           y.order_id IS NOT NULL AND count(*) > 1 AS duplicated
      FROM sales.payments AS y
     GROUP BY y.order_id
     ORDER BY y.order_id
),
summary AS (
    SELECT coalesce(sum(po.payments), 0)::bigint AS total_rows,
           coalesce(sum(po.payments - 1) FILTER (WHERE po.duplicated), 0)::bigint AS affected_count,
           array_agg(po.order_id) FILTER (WHERE po.duplicated) AS duplicated_orders
      FROM per_order AS po
),
failing AS (
    SELECT r.payment_id, r.order_id
      FROM (SELECT y.payment_id,
                   y.order_id,
                   row_number() OVER (PARTITION BY y.order_id ORDER BY y.payment_id) AS position
              FROM summary AS sm
              CROSS JOIN unnest(sm.duplicated_orders) AS d (order_id)
              JOIN sales.payments AS y ON y.order_id = d.order_id) AS r
     WHERE r.position > 1
)
SELECT sm.affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'payment_id=' || f.payment_id || ',order_id=' || f.order_id FROM failing AS f
              ORDER BY f.payment_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;

-- Returns refunding more than was paid for the returned product in that order: the net amount of the
-- order's line(s) of that product, quantity x unit_price x (1 - discount / 100), plus the configured
-- rounding tolerance. Returns whose product is not a line of the order are not compared here (see
-- consistency_return_without_order_line). Each return sums its own lines, found along the lines'
-- order_id index (a few lines per order), instead of first collecting and hashing every returned
-- (order, product) pair.
-- Table: sales.returns
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_refund_over_paid') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit,
           analytics.fn_config_numeric('quality.amount_tolerance') AS tolerance
),
compared AS (
    SELECT r.return_id, r.refund_amount, pd.paid_amount
      FROM sales.returns AS r
      JOIN LATERAL (
               SELECT sum(round(i.quantity * i.unit_price * (1 - i.discount / 100), 2))
                          AS paid_amount
                 FROM sales.order_items AS i
                WHERE i.order_id = r.order_id AND i.prod_id = r.prod_id
               HAVING count(*) > 0
           ) AS pd ON true
),
checked AS (
    SELECT c.return_id,
           c.refund_amount > c.paid_amount + p.tolerance AS failed
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

-- Returns of a product that is not a line of the returned order: the refund cannot be matched to
-- anything that was sold in that order.
-- Table: sales.returns
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_return_without_order_line') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
candidates AS (
    SELECT r.return_id, r.order_id, r.prod_id
      FROM sales.returns AS r
     WHERE r.prod_id IS NOT NULL
       AND EXISTS (SELECT 1 FROM sales.orders AS o WHERE o.order_id = r.order_id)
),
failing AS (
    SELECT c.return_id
      FROM candidates AS c
     WHERE NOT EXISTS (
               SELECT 1 FROM sales.order_items AS i
                WHERE i.order_id = c.order_id AND i.prod_id = c.prod_id
           )
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM candidates) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'return_id=' || f.return_id FROM failing AS f
              ORDER BY f.return_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

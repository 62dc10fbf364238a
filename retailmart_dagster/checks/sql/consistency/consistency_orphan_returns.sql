-- Returns pointing to an order or a product that does not exist: refunds that no sale explains.
-- Table: sales.returns
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_orphan_returns') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT r.return_id
      FROM sales.returns AS r
     WHERE (r.order_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sales.orders AS o WHERE o.order_id = r.order_id))
        OR (r.prod_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM products.products AS pr WHERE pr.prod_id = r.prod_id))
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM sales.returns) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'return_id=' || f.return_id FROM failing AS f
              ORDER BY f.return_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

-- Returns pointing to an order or a product that does not exist: refunds that no sale explains.
-- One pass over the returns, joined to the orders' primary key (not a hash of every order); the
-- products (a small table) are looked up in a hash.
-- Table: sales.returns
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_orphan_returns') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
checked AS (
    SELECT r.return_id,
           (r.order_id IS NOT NULL AND o.order_id IS NULL)
           OR (r.prod_id IS NOT NULL
               AND NOT r.prod_id IN (SELECT pr.prod_id FROM products.products AS pr)) AS failed
      FROM sales.returns AS r
      LEFT JOIN sales.orders AS o ON o.order_id = r.order_id
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

-- Order lines pointing to an order or a product that does not exist: line-grain KPIs count units
-- and amounts that no order or product explains.
-- Table: sales.order_items
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_orphan_order_items') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT i.order_item_id
      FROM sales.order_items AS i
     WHERE (i.order_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sales.orders AS o WHERE o.order_id = i.order_id))
        OR (i.prod_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM products.products AS pr WHERE pr.prod_id = i.prod_id))
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM sales.order_items) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'order_item_id=' || f.order_item_id FROM failing AS f
              ORDER BY f.order_item_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

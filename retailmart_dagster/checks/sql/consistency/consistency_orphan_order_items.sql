-- Order lines pointing to an order or a product that does not exist: line-grain KPIs count units
-- and amounts that no order or product explains. The order_ids without an order come first from the
-- two order_id indexes alone (a merge anti-join, no table read, no hash of every order); one pass over
-- the lines then flags those orders' lines and looks the products (a small table) up in a hash.
-- Table: sales.order_items
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_orphan_order_items') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
line_orders AS (
    SELECT DISTINCT i.order_id
      FROM sales.order_items AS i
     WHERE i.order_id IS NOT NULL
),
missing_orders AS (
    SELECT lo.order_id
      FROM line_orders AS lo
     WHERE NOT EXISTS (SELECT 1 FROM sales.orders AS o WHERE o.order_id = lo.order_id)
),
checked AS (
    SELECT i.order_item_id,
           (i.order_id IS NOT NULL AND i.order_id IN (SELECT m.order_id FROM missing_orders AS m))
           OR (i.prod_id IS NOT NULL
               AND NOT i.prod_id IN (SELECT pr.prod_id FROM products.products AS pr)) AS failed
      FROM sales.order_items AS i
),
summary AS (
    SELECT count(*) AS total_rows,
           array_agg(c.order_item_id) FILTER (WHERE c.failed) AS failing_keys
      FROM checked AS c
),
failing AS (
    SELECT f.order_item_id
      FROM summary AS sm
      CROSS JOIN unnest(sm.failing_keys) AS f (order_item_id)
)
SELECT coalesce(cardinality(sm.failing_keys), 0) AS affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'order_item_id=' || f.order_item_id FROM failing AS f
              ORDER BY f.order_item_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;

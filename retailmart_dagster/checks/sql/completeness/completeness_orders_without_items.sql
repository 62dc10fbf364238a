-- Orders that have no order line at all: their total cannot be explained by lines, and line-grain
-- KPIs (units, product revenue, discounts) miss them entirely.
-- Table: sales.orders
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.completeness_orders_without_items') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT o.order_id
      FROM sales.orders AS o
     WHERE NOT EXISTS (SELECT 1 FROM sales.order_items AS i WHERE i.order_id = o.order_id)
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM sales.orders) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'order_id=' || f.order_id FROM failing AS f
              ORDER BY f.order_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

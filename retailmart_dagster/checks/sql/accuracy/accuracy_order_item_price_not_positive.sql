-- Order lines with a zero or negative unit price: line amounts and product revenue become zero or
-- negative.
-- Table: sales.order_items
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_order_item_price_not_positive') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT i.order_item_id
      FROM sales.order_items AS i
     WHERE i.unit_price <= 0
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM sales.order_items) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'order_item_id=' || f.order_item_id FROM failing AS f
              ORDER BY f.order_item_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

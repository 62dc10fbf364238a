-- The same product on more than one line of an order: every line after the first (lowest
-- order_item_id) is counted, in records; a return of that product cannot be matched to one line.
-- Table: sales.order_items
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.uniqueness_duplicate_order_item_products') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
ranked AS (
    SELECT t.*,
           row_number() OVER (PARTITION BY t.order_id, t.prod_id ORDER BY t.order_item_id) AS position
      FROM sales.order_items AS t
     WHERE t.order_id IS NOT NULL AND t.prod_id IS NOT NULL
),
failing AS (
    SELECT r.* FROM ranked AS r WHERE r.position > 1
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM sales.order_items) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'order_item_id=' || f.order_item_id FROM failing AS f
              ORDER BY f.order_item_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

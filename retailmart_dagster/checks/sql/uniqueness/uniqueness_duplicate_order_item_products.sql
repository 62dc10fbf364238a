-- The same product on more than one line of an order: every line after the first (lowest
-- order_item_id) is counted, in records; a return of that product cannot be matched to one line.
-- The lines are counted per (order, product), read along the order_id index and sorted by product
-- within each order only: a pair with n lines has n - 1 failing ones; only the lines of those orders
-- are then ranked, to name the failing ones.
-- Table: sales.order_items
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.uniqueness_duplicate_order_item_products') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
lines AS (
    SELECT i.order_id, i.prod_id
      FROM sales.order_items AS i
     -- Sorted first: the planner then groups along the order_id index (a sort of each order's few
     -- lines) instead of hashing 4.3 M (order, product) pairs at scale 10, which spills to disk.
     ORDER BY i.order_id, i.prod_id
),
per_product AS (
    SELECT l.order_id,
           count(*) AS lines,
           l.order_id IS NOT NULL AND l.prod_id IS NOT NULL AND count(*) > 1 AS duplicated
      FROM lines AS l
     GROUP BY l.order_id, l.prod_id
),
summary AS (
    SELECT coalesce(sum(pp.lines), 0)::bigint AS total_rows,
           coalesce(sum(pp.lines - 1) FILTER (WHERE pp.duplicated), 0)::bigint AS affected_count,
           array_agg(DISTINCT pp.order_id) FILTER (WHERE pp.duplicated) AS duplicated_orders
      FROM per_product AS pp
),
failing AS (
    SELECT r.order_item_id
      FROM (SELECT i.order_item_id,
                   row_number() OVER (PARTITION BY i.order_id, i.prod_id ORDER BY i.order_item_id)
                       AS position
              FROM summary AS sm
              CROSS JOIN unnest(sm.duplicated_orders) AS d (order_id)
              JOIN sales.order_items AS i ON i.order_id = d.order_id
             WHERE i.prod_id IS NOT NULL) AS r
     WHERE r.position > 1
)
SELECT sm.affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'order_item_id=' || f.order_item_id FROM failing AS f
              ORDER BY f.order_item_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;

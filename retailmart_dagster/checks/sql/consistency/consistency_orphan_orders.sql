-- Orders pointing to a customer or a store that does not exist: customer and store KPIs lose them
-- (inner joins) while revenue still counts them, so the domains stop adding up.
-- Table: sales.orders
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_orphan_orders') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
-- Two anti-joins, one per parent, united (an order failing both counts once): with both tests in
-- one WHERE (OR), the planner hashed every customer for each evaluation, also for the recent part
-- (77 k orders at scale 10: 205 -> 108 ms; the older part 924 -> 915 ms).
failing AS (
    SELECT o.order_id
      FROM sales.orders AS o
     WHERE o.cust_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM customers.customers AS c WHERE c.cust_id = o.cust_id)
    UNION
    SELECT o.order_id
      FROM sales.orders AS o
     WHERE o.store_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM stores.stores AS s WHERE s.store_id = o.store_id)
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM sales.orders) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'order_id=' || f.order_id FROM failing AS f
              ORDER BY f.order_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

-- Shipments dispatched before their order was placed (shipped_date < orders.order_date): dispatch
-- times would be negative. Both tables are read in order_id order (the shipments' order_id index, the
-- orders' primary key) and merge-joined, instead of hashing every order.
-- Table: sales.shipments
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_shipment_before_order') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
shipments AS (
    SELECT s.shipment_id, s.order_id, s.shipped_date
      FROM sales.shipments AS s
     ORDER BY s.order_id
),
orders AS (
    SELECT o.order_id, o.order_date
      FROM sales.orders AS o
     ORDER BY o.order_id
),
checked AS (
    SELECT s.shipment_id,
           s.shipped_date < o.order_date AS failed
      FROM shipments AS s
      JOIN orders AS o ON o.order_id = s.order_id
),
summary AS (
    SELECT count(*) AS total_rows,
           array_agg(c.shipment_id) FILTER (WHERE c.failed) AS failing_keys
      FROM checked AS c
),
failing AS (
    SELECT f.shipment_id
      FROM summary AS sm
      CROSS JOIN unnest(sm.failing_keys) AS f (shipment_id)
)
SELECT coalesce(cardinality(sm.failing_keys), 0) AS affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'shipment_id=' || f.shipment_id FROM failing AS f
              ORDER BY f.shipment_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;

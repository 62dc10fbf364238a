-- Orders shipped more than once: every shipment after an order's first (lowest shipment_id) is
-- counted, in records; delivery KPIs would count the order twice. The shipments are counted per order
-- along their order_id index alone (no table read, no sort): an order with n shipments has n - 1
-- failing ones; only the shipments of those orders are then read, to name the failing ones.
-- Table: sales.shipments
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.uniqueness_duplicate_shipments_per_order') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
per_order AS (
    SELECT s.order_id,
           count(*) AS shipments,
           s.order_id IS NOT NULL AND count(*) > 1 AS duplicated
      FROM sales.shipments AS s
     GROUP BY s.order_id
     ORDER BY s.order_id
),
summary AS (
    SELECT coalesce(sum(po.shipments), 0)::bigint AS total_rows,
           coalesce(sum(po.shipments - 1) FILTER (WHERE po.duplicated), 0)::bigint AS affected_count,
           array_agg(po.order_id) FILTER (WHERE po.duplicated) AS duplicated_orders
      FROM per_order AS po
),
failing AS (
    SELECT r.shipment_id, r.order_id
      FROM (SELECT s.shipment_id,
                   s.order_id,
                   row_number() OVER (PARTITION BY s.order_id ORDER BY s.shipment_id) AS position
              FROM summary AS sm
              CROSS JOIN unnest(sm.duplicated_orders) AS d (order_id)
              JOIN sales.shipments AS s ON s.order_id = d.order_id) AS r
     WHERE r.position > 1
)
SELECT sm.affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'shipment_id=' || f.shipment_id || ',order_id=' || f.order_id FROM failing AS f
              ORDER BY f.shipment_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;

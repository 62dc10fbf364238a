-- Orders whose status disagrees with their shipments. An order in a delivered status
-- (quality.delivered_order_statuses) must have shipments, all delivered
-- (quality.shipment_delivered_status); an order in an in-transit status
-- (quality.shipped_order_statuses) must have shipments, all in transit
-- (quality.shipment_in_transit_status); an order in any other status (pending, processing,
-- cancelled, unknown) must have no shipment. One failing row per order. The shipments are
-- aggregated along their order_id index and merge-joined with the orders read along their primary
-- key (no hash of every order).
-- Table: sales.orders
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_order_shipment_status') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit,
           analytics.fn_config_text_array('quality.delivered_order_statuses') AS delivered_statuses,
           analytics.fn_config_text_array('quality.shipped_order_statuses') AS shipped_statuses,
           analytics.fn_config_text('quality.shipment_delivered_status') AS shipment_delivered,
           analytics.fn_config_text('quality.shipment_in_transit_status') AS shipment_in_transit
),
shipped AS (
    SELECT s.order_id,
           count(*) AS shipments,
           -- The statuses as scalar sub-queries (evaluated once), not a join to params: the
           -- planner put params inside the scan, rescanned once per shipment (a third of the CPU).
           count(*) FILTER (WHERE s.status = (SELECT p.shipment_delivered FROM params AS p))
               AS delivered,
           count(*) FILTER (WHERE s.status = (SELECT p.shipment_in_transit FROM params AS p))
               AS in_transit
      FROM sales.shipments AS s
     GROUP BY s.order_id
     ORDER BY s.order_id
),
orders AS (
    SELECT o.order_id, o.order_status
      FROM sales.orders AS o
     ORDER BY o.order_id
),
checked AS (
    SELECT o.order_id,
           CASE
               WHEN o.order_status = ANY (p.delivered_statuses)
                   THEN sh.order_id IS NULL OR sh.delivered < sh.shipments
               WHEN o.order_status = ANY (p.shipped_statuses)
                   THEN sh.order_id IS NULL OR sh.in_transit < sh.shipments
               ELSE sh.order_id IS NOT NULL
           END AS failed
      FROM orders AS o
      CROSS JOIN params AS p
      LEFT JOIN shipped AS sh ON sh.order_id = o.order_id
),
summary AS (
    SELECT count(*) AS total_rows,
           array_agg(c.order_id) FILTER (WHERE c.failed) AS failing_keys
      FROM checked AS c
),
failing AS (
    SELECT f.order_id
      FROM summary AS sm
      CROSS JOIN unnest(sm.failing_keys) AS f (order_id)
)
SELECT coalesce(cardinality(sm.failing_keys), 0) AS affected_count,
       sm.total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'order_id=' || f.order_id FROM failing AS f
              ORDER BY f.order_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p
  CROSS JOIN summary AS sm;

-- Shipments pointing to an order that does not exist: delivery KPIs count parcels of no sale.
-- Table: sales.shipments
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.consistency_orphan_shipments') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT s.shipment_id
      FROM sales.shipments AS s
     WHERE s.order_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sales.orders AS o WHERE o.order_id = s.order_id)
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM sales.shipments) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'shipment_id=' || f.shipment_id FROM failing AS f
              ORDER BY f.shipment_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

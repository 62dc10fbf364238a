-- Shipments dispatched before their order was placed (shipped_date < orders.order_date): dispatch
-- times would be negative.
-- Table: sales.shipments
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_shipment_before_order') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
dated AS (
    SELECT s.shipment_id, s.shipped_date, o.order_date
      FROM sales.shipments AS s
      JOIN sales.orders AS o ON o.order_id = s.order_id
),
failing AS (
    SELECT d.shipment_id FROM dated AS d WHERE d.shipped_date < d.order_date
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM dated) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'shipment_id=' || f.shipment_id FROM failing AS f
              ORDER BY f.shipment_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

-- Shipments delivered before they were shipped (delivered_date < shipped_date): delivery times would
-- be negative.
-- Table: sales.shipments
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.accuracy_delivery_before_shipment') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT s.shipment_id
      FROM sales.shipments AS s
     WHERE s.delivered_date < s.shipped_date
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM sales.shipments) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'shipment_id=' || f.shipment_id FROM failing AS f
              ORDER BY f.shipment_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

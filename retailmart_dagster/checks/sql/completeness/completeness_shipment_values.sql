-- Shipments missing their order, courier, shipped date or status: courier performance and
-- shipping-time KPIs need all four.
-- Table: sales.shipments
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.completeness_shipment_values') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
failing AS (
    SELECT s.shipment_id
      FROM sales.shipments AS s
     WHERE s.order_id IS NULL
        OR s.courier_name IS NULL
        OR btrim(s.courier_name) = ''
        OR s.shipped_date IS NULL
        OR s.status IS NULL
        OR btrim(s.status) = ''
)
SELECT (SELECT count(*) FROM failing) AS affected_count,
       (SELECT count(*) FROM sales.shipments) AS total_rows,
       p.threshold,
       p.severity,
       ARRAY(SELECT 'shipment_id=' || f.shipment_id FROM failing AS f
              ORDER BY f.shipment_id LIMIT p.sample_limit) AS sample_keys
  FROM params AS p;

-- Shipments missing their order, courier, shipped date or status: courier performance and
-- shipping-time KPIs need all four.
-- Table: sales.shipments
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.completeness_shipment_values') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit
),
checked AS (
    SELECT s.shipment_id,
           (s.order_id IS NULL
            OR s.courier_name IS NULL
            OR btrim(s.courier_name) = ''
            OR s.shipped_date IS NULL
            OR s.status IS NULL
            OR btrim(s.status) = '') AS failed
      FROM sales.shipments AS s
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

-- Shipments whose status says delivered (config quality.shipment_delivered_status) but that have no
-- delivery date: delivery times and on-time rates cannot be measured for them.
-- Table: sales.shipments
-- Split: order_id
WITH params AS MATERIALIZED (
    SELECT analytics.fn_config_text('quality_checks.completeness_delivered_shipment_date') AS severity,
           analytics.fn_config_numeric('quality.max_failing_rate') AS threshold,
           analytics.fn_config_int('quality.sample_key_limit') AS sample_limit,
           analytics.fn_config_text('quality.shipment_delivered_status') AS delivered_status
),
checked AS (
    SELECT s.shipment_id,
           s.delivered_date IS NULL AS failed
      FROM sales.shipments AS s
      CROSS JOIN params AS p
     WHERE s.status = p.delivered_status
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

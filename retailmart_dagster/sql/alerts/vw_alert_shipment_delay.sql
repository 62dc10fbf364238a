-- analytics.vw_alert_shipment_delay: business alert "shipment_delay" — which open orders have not been
-- shipped in time?
-- One row (one alert) per open order (analytics.mv_pending_shipments: not cancelled, not delivered or
-- returned, dated on or before the reference date) that has not been shipped — no shipment with a
-- shipped_date and none delivered — more than config alerts.shipment_sla_days days after it was placed
-- (age = reference date - order date, never the wall clock; an order exactly at the SLA is still in
-- time). Orders already in transit are not shipment delays (their delivery is the Operations domain's
-- delivery SLA).
-- Severity: critical when the order's pending priority is 'Critical' (older than
-- operations.pending_priority_critical_days), else warning. Alert key: order:<order_id>.
-- Question: Which open orders are still waiting for dispatch past the shipping SLA?
-- Owner: Business alerts
-- Refresh: daily
-- KPI metric_value: age_days (days since the order); threshold_value: alerts.shipment_sla_days
-- KPI urgency: age_days / shipment_sla_days
CREATE VIEW analytics.vw_alert_shipment_delay AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_int('alerts.shipment_sla_days') AS sla_days
),

late AS (
    SELECT
        s.order_id,
        s.cust_id,
        s.store_id,
        s.order_date,
        s.order_status,
        s.total_amount,
        s.age_days,
        s.shipments,
        s.priority
    FROM analytics.mv_pending_shipments AS s
    CROSS JOIN params AS p
    WHERE s.last_shipped_date IS NULL
      AND NOT s.has_delivered_shipment
      AND s.age_days > p.sla_days
)

SELECT
    'shipment_delay'::text AS alert_type,
    format('order:%s', l.order_id) AS alert_key,
    CASE WHEN l.priority = 'Critical' THEN 'critical' ELSE 'warning' END AS severity,
    format('Order %s not shipped after %s days', l.order_id, l.age_days) AS title,
    format(
        'Order %s of %s (status %s, Rs %s, store %s, customer %s) has not been shipped %s days after it was placed; shipping SLA: %s days.',
        l.order_id,
        to_char(l.order_date, 'YYYY-MM-DD'),
        coalesce(l.order_status, 'unknown'),
        coalesce(to_char(round(l.total_amount, 2), 'FM999,999,999,990.00'), 'unknown amount'),
        coalesce(l.store_id::text, 'unknown'),
        coalesce(l.cust_id::text, 'unknown'),
        l.age_days,
        p.sla_days
    ) AS detail,
    l.age_days::numeric AS metric_value,
    p.sla_days::numeric AS threshold_value,
    round(l.age_days / nullif(p.sla_days, 0)::numeric, 4) AS urgency,
    p.ref_date AS reference_date,
    l.order_id,
    l.cust_id,
    l.store_id,
    l.order_date,
    l.order_status,
    l.total_amount,
    l.age_days,
    l.priority
FROM late AS l
CROSS JOIN params AS p;

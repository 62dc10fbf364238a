-- analytics.mv_pending_shipments: which orders are still open, how old are they, and which come first?
-- One row per OPEN order: dated on or before the reference date (analytics.fn_reference_date()), with
-- an order_status neither in config sales.excluded_order_statuses (cancelled) nor in config
-- operations.delivered_order_statuses (delivered or returned: they reached the customer). A NULL
-- status is open (unknown, so it needs attention). Age is measured from the reference date, never the
-- wall clock. The order's shipments (if any) are aggregated per order first (no fan-out): stage is
-- 'In transit' when a shipment has a shipped_date, else 'Awaiting dispatch'.
-- has_delivered_shipment flags an order whose status says open although a shipment carries a
-- delivered_date or a status in config operations.delivered_shipment_statuses (order and shipment
-- disagree: reported, not hidden; the order stays in the list).
-- Materialized (it was the view vw_pending_shipments) because five objects read it on every build:
-- the shipment-delay alert, the alerts stack and the alert sync (which read that alert), the pending
-- shipments export and the operations summary. As a view, the scan of every order and the join to
-- the shipments ran once per reader: about 1 s each at scale 10, now once per build.
-- The shipments are aggregated per open order in a LATERAL subquery that reads them along their
-- order_id index: only the open orders' shipments are read (a tenth at scale 10), instead of hashing
-- every shipment to join them (1.0 -> 0.75 s at scale 10; same rows).
-- Priority from configured age thresholds (days, strictly older than):
--   Critical: age_days > operations.pending_priority_critical_days
--   High:     age_days > operations.pending_priority_high_days
--   Medium:   age_days > operations.pending_priority_medium_days
--   Low:      otherwise
-- Question: Which open orders still wait for dispatch or delivery, and which are most urgent?
-- Owner: Operations analytics
-- Refresh: daily
-- KPI age_days: reference date - order_date
-- KPI days_since_shipped: reference date - latest shipped_date of the order's shipments (NULL when not shipped)
-- KPI shipments: count(*) of the order's shipment rows
-- KPI stage: 'In transit' when any shipment has a shipped_date, else 'Awaiting dispatch'
-- KPI priority: Critical / High / Medium / Low from age_days and the configured thresholds
-- KPI priority_order: 1 = Critical .. 4 = Low (for sorting)
CREATE MATERIALIZED VIEW analytics.mv_pending_shipments AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses,
        analytics.fn_config_text_array('operations.delivered_order_statuses') AS delivered_statuses,
        analytics.fn_config_int('operations.pending_priority_medium_days') AS medium_days,
        analytics.fn_config_int('operations.pending_priority_high_days') AS high_days,
        analytics.fn_config_int('operations.pending_priority_critical_days') AS critical_days,
        analytics.fn_config_text_array('operations.delivered_shipment_statuses')
            AS delivered_shipment_statuses
),

open_orders AS (
    SELECT
        o.order_id,
        o.cust_id,
        o.store_id,
        o.order_date,
        o.order_status,
        o.total_amount,
        p.ref_date - o.order_date AS age_days
    FROM sales.orders AS o
    CROSS JOIN params AS p
    WHERE o.order_date <= p.ref_date
      AND NOT coalesce(o.order_status = ANY (p.excluded_statuses), false)
      AND NOT coalesce(o.order_status = ANY (p.delivered_statuses), false)
)

SELECT
    oo.order_id,
    oo.cust_id,
    oo.store_id,
    oo.order_date,
    oo.order_status,
    oo.total_amount,
    oo.age_days,
    coalesce(sb.shipments, 0) AS shipments,
    CASE WHEN sb.last_shipped_date IS NOT NULL THEN 'In transit' ELSE 'Awaiting dispatch' END
        AS stage,
    sb.courier_name,
    sb.last_shipped_date,
    p.ref_date - sb.last_shipped_date AS days_since_shipped,
    coalesce(sb.has_delivered_shipment, false) AS has_delivered_shipment,
    CASE
        WHEN oo.age_days > p.critical_days THEN 'Critical'
        WHEN oo.age_days > p.high_days THEN 'High'
        WHEN oo.age_days > p.medium_days THEN 'Medium'
        ELSE 'Low'
    END AS priority,
    CASE
        WHEN oo.age_days > p.critical_days THEN 1
        WHEN oo.age_days > p.high_days THEN 2
        WHEN oo.age_days > p.medium_days THEN 3
        ELSE 4
    END AS priority_order
FROM open_orders AS oo
CROSS JOIN params AS p
CROSS JOIN LATERAL (
    SELECT
        count(*) AS shipments,
        max(s.shipped_date) AS last_shipped_date,
        bool_or(
            s.delivered_date IS NOT NULL
            OR coalesce(s.status = ANY (p.delivered_shipment_statuses), false)
        ) AS has_delivered_shipment,
        (array_agg(s.courier_name ORDER BY s.shipped_date DESC NULLS LAST, s.shipment_id DESC))[1]
            AS courier_name
    FROM sales.shipments AS s
    WHERE s.order_id = oo.order_id
) AS sb;

CREATE UNIQUE INDEX ux_mv_pending_shipments ON analytics.mv_pending_shipments (order_id);

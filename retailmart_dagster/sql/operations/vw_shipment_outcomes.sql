-- analytics.vw_shipment_outcomes: the SLA outcome of the shipments, defined once for every delivery KPI.
-- One row per row of the shipment fact analytics.fact_shipment_days (shipments counted per order day,
-- order status, courier, shipment status and timing keys) of sales orders (order_status not in config
-- sales.excluded_order_statuses) dated on or before the reference date (analytics.fn_reference_date()),
-- with the flags that depend on the configuration and the reference date, so the fact needs no reload
-- when they change. mv_delivery_performance (per month), mv_courier_performance (per courier) and
-- mv_operations_summary (all time) sum its rows; each used to repeat these definitions.
-- SLA: a shipment is on time when it was delivered within S days of the ORDER date (S = config
-- operations.sla_days). Delivered = a delivered_date, or a shipment status in config
-- operations.delivered_shipment_statuses. A shipment whose dates contradict each other (the fact's
-- dates_conflict: shipped before ordered, or delivered before shipped or ordered) or whose status says
-- delivered without a delivered_date has a date conflict: it still counts as a shipment (and as
-- delivered when either says so), but its timing is unknown, so it is left out of every duration
-- average and of on time / delayed. Delayed = delivered later than S days after the order date, OR
-- not delivered and already more than S days old at the reference date (overdue in transit).
-- Question: Which shipments met the delivery SLA, which are late, and which cannot be judged?
-- Owner: Operations analytics
-- Refresh: daily
-- KPI is_delivered: has_delivered_date OR shipment_status in operations.delivered_shipment_statuses
-- KPI has_date_conflict: dates_conflict OR (NOT has_delivered_date AND shipment_status in
--   operations.delivered_shipment_statuses)
-- KPI is_on_time: has_delivered_date AND NOT has_date_conflict AND order_to_deliver_days <= sla_days
-- KPI is_delayed: NOT has_date_conflict AND (order_to_deliver_days > sla_days OR (NOT
--   has_delivered_date AND reference date - order_date > sla_days))
-- KPI is_assessed: is_on_time OR is_delayed (the shipments' SLA outcome is known)
-- KPI <outcome>_shipments: the row's shipments when the outcome holds, else 0 (delivered, in_transit,
--   on_time, delayed, assessed, conflict, delivered_measured = delivered without date conflict)
-- KPI order_to_ship_days_total / order_to_ship_shipments: shipped_date - order_date summed over the
--   row's shipped shipments without date conflict / their number (their ratio summed is the average)
-- KPI ship_to_deliver_days_total / ship_to_deliver_shipments: delivered_date - shipped_date, over
--   shipped and delivered shipments without date conflict
-- KPI order_to_deliver_days_total / order_to_deliver_shipments: delivered_date - order_date, over
--   delivered shipments without date conflict
CREATE VIEW analytics.vw_shipment_outcomes AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses,
        analytics.fn_config_int('operations.sla_days') AS sla_days,
        analytics.fn_config_text_array('operations.delivered_shipment_statuses')
            AS delivered_shipment_statuses
),

flagged AS (
    SELECT
        f.order_date,
        f.order_status,
        f.courier_name,
        f.shipment_status,
        f.is_shipped,
        f.has_delivered_date,
        f.order_to_deliver_days,
        f.shipments,
        f.order_to_ship_days_sum,
        f.ship_to_deliver_days_sum,
        f.first_shipped_orders,
        p.ref_date,
        p.sla_days,
        f.has_delivered_date
        OR coalesce(f.shipment_status = ANY (p.delivered_shipment_statuses), false) AS is_delivered,
        f.dates_conflict
        OR (
            NOT f.has_delivered_date
            AND coalesce(f.shipment_status = ANY (p.delivered_shipment_statuses), false)
        ) AS has_date_conflict
    FROM analytics.fact_shipment_days AS f
    CROSS JOIN params AS p
    WHERE f.order_date <= p.ref_date
      AND NOT coalesce(f.order_status = ANY (p.excluded_statuses), false)
),

outcomes AS (
    SELECT
        r.*,
        (
            r.has_delivered_date
            AND NOT r.has_date_conflict
            AND r.order_to_deliver_days <= r.sla_days
        ) AS is_on_time,
        (
            NOT r.has_date_conflict
            AND (
                (r.has_delivered_date AND r.order_to_deliver_days > r.sla_days)
                OR (NOT r.has_delivered_date AND r.ref_date - r.order_date > r.sla_days)
            )
        ) AS is_delayed
    FROM flagged AS r
)

SELECT
    o.order_date,
    date_trunc('month', o.order_date)::date AS order_month,
    o.order_status,
    o.courier_name,
    o.shipment_status,
    o.is_shipped,
    o.has_delivered_date,
    o.order_to_deliver_days,
    o.shipments,
    o.order_to_ship_days_sum,
    o.ship_to_deliver_days_sum,
    o.first_shipped_orders,
    o.sla_days,
    o.is_delivered,
    o.has_date_conflict,
    o.is_on_time,
    o.is_delayed,
    o.is_on_time OR o.is_delayed AS is_assessed,
    -- The row's shipments in each outcome, and its contributions to the duration averages
    -- (avg = sum(..._days_total) / sum(..._shipments)); readers sum these columns over their groups.
    CASE WHEN o.is_delivered THEN o.shipments ELSE 0 END AS delivered_shipments,
    CASE WHEN NOT o.is_delivered THEN o.shipments ELSE 0 END AS in_transit_shipments,
    CASE WHEN o.is_on_time THEN o.shipments ELSE 0 END AS on_time_shipments,
    CASE WHEN o.is_delayed THEN o.shipments ELSE 0 END AS delayed_shipments,
    CASE WHEN o.is_on_time OR o.is_delayed THEN o.shipments ELSE 0 END AS assessed_shipments,
    CASE WHEN o.has_date_conflict THEN o.shipments ELSE 0 END AS conflict_shipments,
    CASE WHEN o.is_delivered AND NOT o.has_date_conflict THEN o.shipments ELSE 0 END
        AS delivered_measured_shipments,
    CASE WHEN NOT o.has_date_conflict THEN o.order_to_ship_days_sum END AS order_to_ship_days_total,
    CASE WHEN NOT o.has_date_conflict AND o.is_shipped THEN o.shipments ELSE 0 END
        AS order_to_ship_shipments,
    CASE WHEN NOT o.has_date_conflict THEN o.ship_to_deliver_days_sum END
        AS ship_to_deliver_days_total,
    CASE WHEN NOT o.has_date_conflict AND o.is_shipped AND o.has_delivered_date THEN o.shipments
        ELSE 0 END AS ship_to_deliver_shipments,
    CASE WHEN NOT o.has_date_conflict THEN o.order_to_deliver_days::bigint * o.shipments END
        AS order_to_deliver_days_total,
    CASE WHEN NOT o.has_date_conflict AND o.order_to_deliver_days IS NOT NULL THEN o.shipments
        ELSE 0 END AS order_to_deliver_shipments
FROM outcomes AS o;

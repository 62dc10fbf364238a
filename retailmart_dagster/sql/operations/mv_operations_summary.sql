-- analytics.mv_operations_summary: the headline operations figures in one row.
-- One row (scope = 'all_time') over sales orders dated from the first order date to the reference
-- date (analytics.fn_reference_date()). Each figure is aggregated at its own grain in its own CTE and
-- the single-row results are joined afterwards (no fan-out):
--   shipments: summed from analytics.vw_shipment_outcomes, with delivered, date conflict, on time
--   and delayed defined there once, as for mv_delivery_performance (SLA S = config
--   operations.sla_days from the ORDER date; percentages over assessed shipments = on time +
--   delayed);
--   open orders: analytics.mv_pending_shipments (priority from the configured age thresholds);
--   returns: delivered orders = order_status in config operations.delivered_order_statuses, returned
--   orders = those with at least one return dated on or before the reference date (order grain, all
--   categories together, so not the sum of mv_return_analysis rows), read from
--   analytics.fact_product_returns (each return with its order's date and status, loaded
--   incrementally) instead of looking each return's order up in sales.orders (at scale 10:
--   0.22 -> 0.10 s for the view, same rows);
--   best courier: rank 1 of analytics.mv_courier_performance (stored rows, not recomputed).
-- Order counts are read from analytics.fact_order_status_days (orders per day and status, counted
-- there once at order grain).
-- Question: How healthy are fulfilment, open orders and returns overall right now?
-- Owner: Operations analytics
-- Refresh: daily
-- KPI orders: count(*) of sales orders (order_status not in sales.excluded_order_statuses)
-- KPI shipments: count(*) of shipments of those orders
-- KPI delivered: shipments with a delivered_date or a status in operations.delivered_shipment_statuses
-- KPI in_transit: shipments not delivered
-- KPI on_time_pct: on-time shipments / assessed shipments * 100
-- KPI delayed_pct: delayed shipments / assessed shipments * 100
-- KPI avg_order_to_ship_days: avg(shipped_date - order_date) over shipments without date conflict
-- KPI avg_ship_to_deliver_days: avg(delivered_date - shipped_date) over shipments without date conflict
-- KPI avg_order_to_deliver_days: avg(delivered_date - order_date) over shipments without date conflict
-- KPI open_orders: count(*) of mv_pending_shipments
-- KPI open_orders_critical: open orders with priority Critical (likewise _high, _medium, _low)
-- KPI awaiting_dispatch: open orders without a shipped shipment
-- KPI oldest_open_age_days: max(age_days) of open orders
-- KPI open_order_value: sum(total_amount) of open orders
-- KPI delivered_orders: count(*) of orders with status in operations.delivered_order_statuses
-- KPI returned_orders: count(DISTINCT order_id) of delivered orders with a return
-- KPI return_rate_pct: returned_orders / delivered_orders * 100
-- KPI refund_amount: sum(refund_amount) of the returns of delivered orders
-- KPI best_courier: courier_name of rank 1 in mv_courier_performance
CREATE MATERIALIZED VIEW analytics.mv_operations_summary AS
WITH params AS MATERIALIZED (
    SELECT
        analytics.fn_reference_date() AS ref_date,
        analytics.fn_config_text_array('sales.excluded_order_statuses') AS excluded_statuses,
        analytics.fn_config_text_array('operations.delivered_order_statuses') AS delivered_statuses,
        analytics.fn_config_int('operations.sla_days') AS sla_days
),

-- Orders counted per day and status once, in analytics.fact_order_status_days (counting every
-- order of fact_orders here took 0.5 s at scale 10).
order_totals AS (
    SELECT
        min(d.order_date) AS first_date,
        coalesce(
            sum(d.orders) FILTER (
                WHERE NOT coalesce(d.order_status = ANY (p.excluded_statuses), false)
            ),
            0
        )::bigint AS orders,
        coalesce(
            sum(d.orders) FILTER (WHERE d.order_status = ANY (p.delivered_statuses)), 0
        )::bigint AS delivered_orders
    FROM analytics.fact_order_status_days AS d
    CROSS JOIN params AS p
    WHERE d.order_date <= p.ref_date
),

shipment_totals AS (
    SELECT
        coalesce(sum(o.shipments), 0) AS shipments,
        coalesce(sum(o.delivered_shipments), 0) AS delivered,
        coalesce(sum(o.in_transit_shipments), 0) AS in_transit,
        coalesce(sum(o.on_time_shipments), 0) AS on_time,
        coalesce(sum(o.delayed_shipments), 0) AS delayed,
        coalesce(sum(o.assessed_shipments), 0) AS assessed,
        coalesce(sum(o.conflict_shipments), 0) AS date_conflicts,
        sum(o.order_to_ship_days_total) / nullif(sum(o.order_to_ship_shipments), 0)::numeric
            AS avg_order_to_ship_days,
        sum(o.ship_to_deliver_days_total) / nullif(sum(o.ship_to_deliver_shipments), 0)::numeric
            AS avg_ship_to_deliver_days,
        sum(o.order_to_deliver_days_total) / nullif(sum(o.order_to_deliver_shipments), 0)::numeric
            AS avg_order_to_deliver_days
    FROM analytics.vw_shipment_outcomes AS o
),

open_totals AS (
    SELECT
        count(*) AS open_orders,
        count(*) FILTER (WHERE ps.priority_order = 1) AS open_orders_critical,
        count(*) FILTER (WHERE ps.priority_order = 2) AS open_orders_high,
        count(*) FILTER (WHERE ps.priority_order = 3) AS open_orders_medium,
        count(*) FILTER (WHERE ps.priority_order = 4) AS open_orders_low,
        count(*) FILTER (WHERE ps.stage = 'Awaiting dispatch') AS awaiting_dispatch,
        max(ps.age_days) AS oldest_open_age_days,
        coalesce(sum(ps.total_amount), 0) AS open_order_value
    FROM analytics.mv_pending_shipments AS ps
),

return_totals AS (
    SELECT
        count(DISTINCT r.order_id) AS returned_orders,
        coalesce(sum(r.refund_amount), 0) AS refund_amount
    FROM analytics.fact_product_returns AS r
    CROSS JOIN params AS p
    WHERE r.order_date <= p.ref_date
      AND r.order_status = ANY (p.delivered_statuses)
      AND r.return_date <= p.ref_date
),

best_courier AS (
    SELECT
        c.courier_name,
        c.composite_score
    FROM analytics.mv_courier_performance AS c
    WHERE c.courier_rank = 1
)

SELECT
    'all_time'::text AS scope,
    p.ref_date AS reference_date,
    ot.first_date AS period_start,
    p.sla_days,
    ot.orders,
    st.shipments,
    st.delivered,
    st.in_transit,
    st.on_time,
    st.delayed,
    st.assessed,
    st.date_conflicts,
    round(st.on_time / nullif(st.assessed, 0)::numeric * 100, 2) AS on_time_pct,
    round(st.delayed / nullif(st.assessed, 0)::numeric * 100, 2) AS delayed_pct,
    round(st.avg_order_to_ship_days, 2) AS avg_order_to_ship_days,
    round(st.avg_ship_to_deliver_days, 2) AS avg_ship_to_deliver_days,
    round(st.avg_order_to_deliver_days, 2) AS avg_order_to_deliver_days,
    op.open_orders,
    op.open_orders_critical,
    op.open_orders_high,
    op.open_orders_medium,
    op.open_orders_low,
    op.awaiting_dispatch,
    op.oldest_open_age_days,
    op.open_order_value,
    ot.delivered_orders,
    rt.returned_orders,
    round(rt.returned_orders / nullif(ot.delivered_orders, 0)::numeric * 100, 2) AS return_rate_pct,
    rt.refund_amount,
    bc.courier_name AS best_courier,
    bc.composite_score AS best_courier_score
FROM params AS p
CROSS JOIN order_totals AS ot
CROSS JOIN shipment_totals AS st
CROSS JOIN open_totals AS op
CROSS JOIN return_totals AS rt
LEFT JOIN best_courier AS bc ON true;

CREATE UNIQUE INDEX ux_mv_operations_summary ON analytics.mv_operations_summary (scope);

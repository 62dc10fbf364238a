-- analytics.fn_export_operations_summary(): the headline operations figures as JSON.
-- Shape: {"referenceDate", "period": {"from", "to"}, "rows": [...]}, rows = the one row of
-- analytics.mv_operations_summary; period = first order date .. reference date.
-- Question: How healthy are fulfilment, open orders and returns overall right now?
-- Owner: Operations analytics
-- Refresh: daily
-- KPI rows: one object with scope, slaDays, orders, shipments, delivered, inTransit, onTime, delayed, assessed, dateConflicts, onTimePct, delayedPct, avgOrderToShipDays, avgShipToDeliverDays, avgOrderToDeliverDays, openOrders, openOrdersCritical, openOrdersHigh, openOrdersMedium, openOrdersLow, awaitingDispatch, oldestOpenAgeDays, openOrderValue, deliveredOrders, returnedOrders, returnRatePct, refundAmount, bestCourier, bestCourierScore (definitions in mv_operations_summary)
CREATE OR REPLACE FUNCTION analytics.fn_export_operations_summary()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT analytics.fn_reference_date() AS ref_date
    ),

    selected AS (
        SELECT m.*
        FROM analytics.mv_operations_summary AS m
        ORDER BY m.scope
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char((SELECT min(s.period_start) FROM selected AS s), 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'scope', s.scope,
                        'slaDays', s.sla_days,
                        'orders', s.orders,
                        'shipments', s.shipments,
                        'delivered', s.delivered,
                        'inTransit', s.in_transit,
                        'onTime', s.on_time,
                        'delayed', s.delayed,
                        'assessed', s.assessed,
                        'dateConflicts', s.date_conflicts,
                        'onTimePct', round(s.on_time_pct, 2),
                        'delayedPct', round(s.delayed_pct, 2),
                        'avgOrderToShipDays', round(s.avg_order_to_ship_days, 2),
                        'avgShipToDeliverDays', round(s.avg_ship_to_deliver_days, 2),
                        'avgOrderToDeliverDays', round(s.avg_order_to_deliver_days, 2),
                        'openOrders', s.open_orders,
                        'openOrdersCritical', s.open_orders_critical,
                        'openOrdersHigh', s.open_orders_high,
                        'openOrdersMedium', s.open_orders_medium,
                        'openOrdersLow', s.open_orders_low,
                        'awaitingDispatch', s.awaiting_dispatch,
                        'oldestOpenAgeDays', s.oldest_open_age_days,
                        'openOrderValue', round(s.open_order_value, 2),
                        'deliveredOrders', s.delivered_orders,
                        'returnedOrders', s.returned_orders,
                        'returnRatePct', round(s.return_rate_pct, 2),
                        'refundAmount', round(s.refund_amount, 2),
                        'bestCourier', s.best_courier,
                        'bestCourierScore', round(s.best_courier_score, 2)
                    )
                    ORDER BY s.scope
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;

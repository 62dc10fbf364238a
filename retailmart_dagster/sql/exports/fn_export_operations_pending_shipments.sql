-- analytics.fn_export_operations_pending_shipments(): the most urgent open orders as JSON.
-- Shape: {"referenceDate", "period": {"from", "to"}, "thresholds": {"mediumDays", "highDays",
-- "criticalDays"}, "summary": {"openOrders", "critical", "high", "medium", "low", "awaitingDispatch",
-- "inTransit", "openOrderValue"}, "rows": [...]}; summary counts ALL open orders of
-- analytics.mv_pending_shipments, rows = the N most urgent (priority_order, then oldest, then
-- order_id; N = config operations.top_n_export); period = oldest open order date .. reference date.
-- The materialized view is read once (a MATERIALIZED CTE) for both the summary and the rows.
-- Question: Which open orders still wait for dispatch or delivery, and which are most urgent?
-- Owner: Operations analytics
-- Refresh: daily
-- KPI summary: counts of all open orders, by priority and stage, and their total_amount
-- KPI rows: one object per open order with orderId, orderDate, orderStatus, custId, storeId, totalAmount, ageDays, stage, courierName, lastShippedDate, daysSinceShipped, shipments, hasDeliveredShipment, priority (definitions in mv_pending_shipments)
CREATE OR REPLACE FUNCTION analytics.fn_export_operations_pending_shipments()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('operations.pending_priority_medium_days') AS medium_days,
            analytics.fn_config_int('operations.pending_priority_high_days') AS high_days,
            analytics.fn_config_int('operations.pending_priority_critical_days') AS critical_days,
            analytics.fn_config_int('operations.top_n_export') AS top_n
    ),

    open_orders AS MATERIALIZED (
        SELECT ps.*
        FROM analytics.mv_pending_shipments AS ps
    ),

    summary AS (
        SELECT
            count(*) AS open_orders,
            count(*) FILTER (WHERE ps.priority_order = 1) AS critical,
            count(*) FILTER (WHERE ps.priority_order = 2) AS high,
            count(*) FILTER (WHERE ps.priority_order = 3) AS medium,
            count(*) FILTER (WHERE ps.priority_order = 4) AS low,
            count(*) FILTER (WHERE ps.stage = 'Awaiting dispatch') AS awaiting_dispatch,
            count(*) FILTER (WHERE ps.stage = 'In transit') AS in_transit,
            coalesce(sum(ps.total_amount), 0) AS open_order_value,
            min(ps.order_date) AS oldest_order_date
        FROM open_orders AS ps
    ),

    selected AS (
        SELECT ps.*
        FROM open_orders AS ps
        ORDER BY ps.priority_order, ps.age_days DESC, ps.order_id
        LIMIT (SELECT p.top_n FROM params AS p)
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char(coalesce(sm.oldest_order_date, p.ref_date), 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'thresholds', json_build_object(
            'mediumDays', p.medium_days,
            'highDays', p.high_days,
            'criticalDays', p.critical_days
        ),
        'summary', json_build_object(
            'openOrders', sm.open_orders,
            'critical', sm.critical,
            'high', sm.high,
            'medium', sm.medium,
            'low', sm.low,
            'awaitingDispatch', sm.awaiting_dispatch,
            'inTransit', sm.in_transit,
            'openOrderValue', round(sm.open_order_value, 2)
        ),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'orderId', s.order_id,
                        'orderDate', to_char(s.order_date, 'YYYY-MM-DD'),
                        'orderStatus', s.order_status,
                        'custId', s.cust_id,
                        'storeId', s.store_id,
                        'totalAmount', round(s.total_amount, 2),
                        'ageDays', s.age_days,
                        'stage', s.stage,
                        'courierName', s.courier_name,
                        'lastShippedDate', to_char(s.last_shipped_date, 'YYYY-MM-DD'),
                        'daysSinceShipped', s.days_since_shipped,
                        'shipments', s.shipments,
                        'hasDeliveredShipment', s.has_delivered_shipment,
                        'priority', s.priority
                    )
                    ORDER BY s.priority_order, s.age_days DESC, s.order_id
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM params AS p
    CROSS JOIN summary AS sm;
$$;

-- analytics.fn_export_operations_couriers(): the courier comparison as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "slaDays", "weights": {"onTime", "speed"},
-- "rows": [...]}, rows = analytics.mv_courier_performance by courier_rank (best first), at most
-- config operations.top_n_export rows; period = first order date .. reference date.
-- Question: Which couriers deliver fastest and most reliably, and how do they rank?
-- Owner: Operations analytics
-- Refresh: daily
-- KPI rows: one object per courier with rank, courierName, shipments, volumeSharePct, delivered, inTransit, onTime, delayed, onTimePct, delayedPct, avgOrderToShipDays, avgShipToDeliverDays, avgOrderToDeliverDays, speedIndex, compositeScore (definitions in mv_courier_performance)
CREATE OR REPLACE FUNCTION analytics.fn_export_operations_couriers()
RETURNS json
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('operations.sla_days') AS sla_days,
            analytics.fn_config_numeric('operations.courier_weight_on_time') AS w_on_time,
            analytics.fn_config_numeric('operations.courier_weight_speed') AS w_speed,
            analytics.fn_config_int('operations.top_n_export') AS top_n
    ),

    bounds AS (
        SELECT
            p.*,
            (
                SELECT min(o.order_date)
                FROM sales.orders AS o
                WHERE o.order_date <= p.ref_date
            ) AS first_date
        FROM params AS p
    ),

    selected AS (
        SELECT c.*
        FROM analytics.mv_courier_performance AS c
        ORDER BY c.courier_rank
        LIMIT (SELECT b.top_n FROM bounds AS b)
    )

    SELECT json_build_object(
        'referenceDate', to_char(b.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char(b.first_date, 'YYYY-MM-DD'),
            'to', to_char(b.ref_date, 'YYYY-MM-DD')
        ),
        'slaDays', b.sla_days,
        'weights', json_build_object('onTime', b.w_on_time, 'speed', b.w_speed),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'rank', s.courier_rank,
                        'courierName', s.courier_name,
                        'shipments', s.shipments,
                        'volumeSharePct', round(s.volume_share_pct, 2),
                        'delivered', s.delivered,
                        'inTransit', s.in_transit,
                        'onTime', s.on_time,
                        'delayed', s.delayed,
                        'onTimePct', round(s.on_time_pct, 2),
                        'delayedPct', round(s.delayed_pct, 2),
                        'avgOrderToShipDays', round(s.avg_order_to_ship_days, 2),
                        'avgShipToDeliverDays', round(s.avg_ship_to_deliver_days, 2),
                        'avgOrderToDeliverDays', round(s.avg_order_to_deliver_days, 2),
                        'speedIndex', round(s.speed_index, 2),
                        'compositeScore', round(s.composite_score, 2)
                    )
                    ORDER BY s.courier_rank
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM bounds AS b;
$$;

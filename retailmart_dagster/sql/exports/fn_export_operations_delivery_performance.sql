-- analytics.fn_export_operations_delivery_performance(): monthly delivery performance as JSON.
-- Shape: {"referenceDate", "period": {"from", "to"}, "slaDays", "rows": [...]}, rows = the last M
-- order months of analytics.mv_delivery_performance ending with the reference month (M = config
-- operations.export_months), oldest first. Numbers rounded to 2 decimals, dates as ISO strings.
-- Question: Are orders shipped and delivered within the delivery SLA, month by month?
-- Owner: Operations analytics
-- Refresh: daily
-- KPI rows: one object per order month with orderMonth, year, month, orders, ordersShipped, shipments, delivered, inTransit, onTime, delayed, assessed, dateConflicts, onTimePct, delayedPct, deliveredOnTimePct, avgOrderToShipDays, avgShipToDeliverDays, avgOrderToDeliverDays (definitions in mv_delivery_performance)
CREATE OR REPLACE FUNCTION analytics.fn_export_operations_delivery_performance()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('operations.sla_days') AS sla_days,
            analytics.fn_config_int('operations.export_months') AS export_months
    ),

    selected AS (
        SELECT d.*
        FROM analytics.mv_delivery_performance AS d
        CROSS JOIN params AS p
        WHERE d.order_month > date_trunc('month', p.ref_date) - make_interval(months => p.export_months)
          AND d.order_month <= p.ref_date
        ORDER BY d.order_month
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char((SELECT min(s.order_month) FROM selected AS s), 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'slaDays', p.sla_days,
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'orderMonth', to_char(s.order_month, 'YYYY-MM-DD'),
                        'year', s.year,
                        'month', s.month,
                        'orders', s.orders,
                        'ordersShipped', s.orders_shipped,
                        'shipments', s.shipments,
                        'delivered', s.delivered,
                        'inTransit', s.in_transit,
                        'onTime', s.on_time,
                        'delayed', s.delayed,
                        'assessed', s.assessed,
                        'dateConflicts', s.date_conflicts,
                        'onTimePct', round(s.on_time_pct, 2),
                        'delayedPct', round(s.delayed_pct, 2),
                        'deliveredOnTimePct', round(s.delivered_on_time_pct, 2),
                        'avgOrderToShipDays', round(s.avg_order_to_ship_days, 2),
                        'avgShipToDeliverDays', round(s.avg_ship_to_deliver_days, 2),
                        'avgOrderToDeliverDays', round(s.avg_order_to_deliver_days, 2)
                    )
                    ORDER BY s.order_month
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;

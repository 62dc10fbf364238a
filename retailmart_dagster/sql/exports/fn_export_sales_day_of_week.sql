-- analytics.fn_export_sales_day_of_week(): sales by ISO weekday as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "rows": [...]}, rows = the 7 rows of
-- analytics.vw_sales_by_day_of_week, Monday first; period = first order date .. reference date.
-- KPI rows: one object per weekday with isoDayOfWeek, dayName, isWeekend, days, orders, revenue, avgOrdersPerDay, avgRevenuePerDay, revenueSharePct (definitions in vw_sales_by_day_of_week)
CREATE OR REPLACE FUNCTION analytics.fn_export_sales_day_of_week()
RETURNS json
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH params AS MATERIALIZED (
        SELECT analytics.fn_reference_date() AS ref_date
    ),

    bounds AS (
        SELECT
            p.ref_date,
            (
                SELECT min(o.order_date)
                FROM sales.orders AS o
                WHERE o.order_date <= p.ref_date
            ) AS first_date
        FROM params AS p
    )

    SELECT json_build_object(
        'referenceDate', to_char(b.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char(b.first_date, 'YYYY-MM-DD'),
            'to', to_char(b.ref_date, 'YYYY-MM-DD')
        ),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'isoDayOfWeek', d.iso_dow,
                        'dayName', d.day_name,
                        'isWeekend', d.is_weekend,
                        'days', d.days,
                        'orders', d.orders,
                        'revenue', round(d.revenue, 2),
                        'avgOrdersPerDay', round(d.avg_orders_per_day, 2),
                        'avgRevenuePerDay', round(d.avg_revenue_per_day, 2),
                        'revenueSharePct', round(d.revenue_share_pct, 2)
                    )
                    ORDER BY d.iso_dow
                )
                FROM analytics.vw_sales_by_day_of_week AS d
            ),
            '[]'::json
        )
    )
    FROM bounds AS b;
$$;

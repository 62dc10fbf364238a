-- analytics.fn_export_sales_weekend_vs_weekday(): weekend vs weekday sales as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "rows": [...]}, rows = the 2 rows of
-- analytics.vw_weekend_vs_weekday, weekday first; period = first order date .. reference date.
-- KPI rows: one object per day type with dayType, isWeekend, days, orders, revenue, avgOrdersPerDay, avgRevenuePerDay, revenueSharePct (definitions in vw_weekend_vs_weekday)
CREATE OR REPLACE FUNCTION analytics.fn_export_sales_weekend_vs_weekday()
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
                        'dayType', w.day_type,
                        'isWeekend', w.is_weekend,
                        'days', w.days,
                        'orders', w.orders,
                        'revenue', round(w.revenue, 2),
                        'avgOrdersPerDay', round(w.avg_orders_per_day, 2),
                        'avgRevenuePerDay', round(w.avg_revenue_per_day, 2),
                        'revenueSharePct', round(w.revenue_share_pct, 2)
                    )
                    ORDER BY w.is_weekend, w.day_type
                )
                FROM analytics.vw_weekend_vs_weekday AS w
            ),
            '[]'::json
        )
    )
    FROM bounds AS b;
$$;

-- analytics.fn_export_sales_recent_trend(): the recent daily trend as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "movingAverageDays", "rows": [...]}, rows = every
-- row of analytics.vw_sales_recent_trend (already bounded by config sales.recent_trend_days), oldest
-- first. Money rounded to 2 decimals, dates as ISO strings.
-- KPI rows: one object per day with date, dayName, isWeekend, orders, customers, revenue, netRevenue, aov, movingAvgRevenue, revenueChange, revenueChangePct (definitions in vw_sales_recent_trend)
CREATE OR REPLACE FUNCTION analytics.fn_export_sales_recent_trend()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('sales.recent_trend_days') AS trend_days,
            analytics.fn_config_int('sales.daily_moving_average_days') AS ma_days
    ),

    selected AS (
        SELECT t.*
        FROM analytics.vw_sales_recent_trend AS t
        CROSS JOIN params AS p
        WHERE t.sales_date > p.ref_date - p.trend_days
          AND t.sales_date <= p.ref_date
        ORDER BY t.sales_date
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char((SELECT min(s.sales_date) FROM selected AS s), 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'movingAverageDays', p.ma_days,
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'date', to_char(s.sales_date, 'YYYY-MM-DD'),
                        'dayName', s.day_name,
                        'isWeekend', s.is_weekend,
                        'orders', s.orders,
                        'customers', s.customers,
                        'revenue', round(s.revenue, 2),
                        'netRevenue', round(s.net_revenue, 2),
                        'aov', round(s.aov, 2),
                        'movingAvgRevenue', round(s.moving_avg_revenue, 2),
                        'revenueChange', round(s.revenue_change, 2),
                        'revenueChangePct', round(s.revenue_change_pct, 2)
                    )
                    ORDER BY s.sales_date
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;

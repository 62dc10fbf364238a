-- analytics.fn_export_sales_monthly(): the monthly sales dashboard as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "rows": [...]}, rows = the last M months of
-- analytics.mv_monthly_sales_dashboard ending with the reference month (M = config
-- sales.monthly_export_months), oldest first. Money rounded to 2 decimals, dates as ISO strings.
-- KPI rows: one object per month with year, month, monthStart, monthName, isPartialMonth, orders, customers, newCustomers, returningCustomers, revenue, refunds, netRevenue, aov, momGrowthPct, yoyGrowthPct, ytdRevenue, movingAvgShort, movingAvgLong (definitions in mv_monthly_sales_dashboard)
CREATE OR REPLACE FUNCTION analytics.fn_export_sales_monthly()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('sales.monthly_export_months') AS export_months
    ),

    selected AS (
        SELECT m.*
        FROM analytics.mv_monthly_sales_dashboard AS m
        CROSS JOIN params AS p
        WHERE m.month_start > date_trunc('month', p.ref_date) - make_interval(months => p.export_months)
          AND m.month_start <= p.ref_date
        ORDER BY m.month_start
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char((SELECT min(s.month_start) FROM selected AS s), 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'movingAverageShortMonths', (SELECT max(s.moving_avg_short_months) FROM selected AS s),
        'movingAverageLongMonths', (SELECT max(s.moving_avg_long_months) FROM selected AS s),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'year', s.year,
                        'month', s.month,
                        'monthStart', to_char(s.month_start, 'YYYY-MM-DD'),
                        'monthName', s.month_name,
                        'isPartialMonth', s.is_partial_month,
                        'orders', s.orders,
                        'customers', s.customers,
                        'newCustomers', s.new_customers,
                        'returningCustomers', s.returning_customers,
                        'revenue', round(s.revenue, 2),
                        'refunds', round(s.refunds, 2),
                        'netRevenue', round(s.net_revenue, 2),
                        'aov', round(s.aov, 2),
                        'momGrowthPct', round(s.mom_growth_pct, 2),
                        'yoyGrowthPct', round(s.yoy_growth_pct, 2),
                        'ytdRevenue', round(s.ytd_revenue, 2),
                        'movingAvgShort', round(s.moving_avg_short, 2),
                        'movingAvgLong', round(s.moving_avg_long, 2)
                    )
                    ORDER BY s.month_start
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;

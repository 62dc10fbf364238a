-- analytics.fn_export_sales_executive_summary(): the executive sales summary as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "comparisonWindowDays", "rows": [...]}, rows = the
-- four periods of analytics.mv_executive_summary in the order all_time, reference_day, last_N_days,
-- previous_N_days. Money rounded to 2 decimals, dates as ISO strings.
-- KPI rows: one object per period with period, periodStart, periodEnd, days, orders, customers, revenue, refunds, netRevenue, aov, revenueGrowthPct, netRevenueGrowthPct, ordersGrowthPct, aovGrowthPct (definitions in mv_executive_summary)
CREATE OR REPLACE FUNCTION analytics.fn_export_sales_executive_summary()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT analytics.fn_reference_date() AS ref_date
    ),

    selected AS (
        SELECT e.*
        FROM analytics.mv_executive_summary AS e
        ORDER BY e.period_order, e.period
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char((SELECT min(s.period_start) FROM selected AS s), 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'comparisonWindowDays', (SELECT max(s.window_days) FROM selected AS s),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'period', s.period,
                        'periodStart', to_char(s.period_start, 'YYYY-MM-DD'),
                        'periodEnd', to_char(s.period_end, 'YYYY-MM-DD'),
                        'days', s.days,
                        'orders', s.orders,
                        'customers', s.customers,
                        'revenue', round(s.revenue, 2),
                        'refunds', round(s.refunds, 2),
                        'netRevenue', round(s.net_revenue, 2),
                        'aov', round(s.aov, 2),
                        'revenueGrowthPct', round(s.revenue_growth_pct, 2),
                        'netRevenueGrowthPct', round(s.net_revenue_growth_pct, 2),
                        'ordersGrowthPct', round(s.orders_growth_pct, 2),
                        'aovGrowthPct', round(s.aov_growth_pct, 2)
                    )
                    ORDER BY s.period_order, s.period
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;

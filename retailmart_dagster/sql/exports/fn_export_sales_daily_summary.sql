-- analytics.fn_export_sales_daily_summary(): the daily sales summary as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "rows": [...]}, rows = the last D days of
-- analytics.mv_daily_sales_summary ending at the reference date (D = config sales.daily_export_days),
-- oldest first. Money rounded to 2 decimals, dates as ISO strings.
-- KPI rows: one object per day with date, dayName, isWeekend, orders, customers, items, listValue, discountAmount, revenue, refunds, netRevenue, aov (definitions in mv_daily_sales_summary)
CREATE OR REPLACE FUNCTION analytics.fn_export_sales_daily_summary()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('sales.daily_export_days') AS export_days
    ),

    selected AS (
        SELECT d.*
        FROM analytics.mv_daily_sales_summary AS d
        CROSS JOIN params AS p
        WHERE d.sales_date > p.ref_date - p.export_days
          AND d.sales_date <= p.ref_date
        ORDER BY d.sales_date
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char((SELECT min(s.sales_date) FROM selected AS s), 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'date', to_char(s.sales_date, 'YYYY-MM-DD'),
                        'dayName', s.day_name,
                        'isWeekend', s.is_weekend,
                        'orders', s.orders,
                        'customers', s.customers,
                        'items', s.items,
                        'listValue', round(s.list_value, 2),
                        'discountAmount', round(s.discount_amount, 2),
                        'revenue', round(s.revenue, 2),
                        'refunds', round(s.refunds, 2),
                        'netRevenue', round(s.net_revenue, 2),
                        'aov', round(s.aov, 2)
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

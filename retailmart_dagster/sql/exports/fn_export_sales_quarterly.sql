-- analytics.fn_export_sales_quarterly(): quarterly sales as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "rows": [...]}, rows = the last Q quarters of
-- analytics.vw_quarterly_sales ending with the reference quarter (Q = config
-- sales.quarterly_export_quarters), oldest first.
-- KPI rows: one object per quarter with year, quarter, quarterStart, quarterEnd, isPartial, orders, revenue, refunds, netRevenue, qoqGrowthPct, yoyGrowthPct (definitions in vw_quarterly_sales)
CREATE OR REPLACE FUNCTION analytics.fn_export_sales_quarterly()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('sales.quarterly_export_quarters') AS export_quarters
    ),

    selected AS (
        SELECT q.*
        FROM analytics.vw_quarterly_sales AS q
        CROSS JOIN params AS p
        WHERE q.quarter_start
                > date_trunc('quarter', p.ref_date) - make_interval(months => 3 * p.export_quarters)
          AND q.quarter_start <= p.ref_date
        ORDER BY q.quarter_start
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char((SELECT min(s.quarter_start) FROM selected AS s), 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'year', s.year,
                        'quarter', s.quarter,
                        'quarterStart', to_char(s.quarter_start, 'YYYY-MM-DD'),
                        'quarterEnd', to_char(s.quarter_end, 'YYYY-MM-DD'),
                        'isPartial', s.is_partial,
                        'orders', s.orders,
                        'revenue', round(s.revenue, 2),
                        'refunds', round(s.refunds, 2),
                        'netRevenue', round(s.net_revenue, 2),
                        'qoqGrowthPct', round(s.qoq_growth_pct, 2),
                        'yoyGrowthPct', round(s.yoy_growth_pct, 2)
                    )
                    ORDER BY s.quarter_start
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;

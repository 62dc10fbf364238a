-- analytics.fn_export_stores_regional(): regional performance as JSON for the dashboard.
-- Shape: {"referenceDate", "period": {"from", "to"}, "rows": [...]}, rows = the regions of
-- analytics.mv_regional_performance by revenue_rank, at most config stores.top_n_export rows;
-- period = first order date .. reference date.
-- KPI rows: one object per region with rank, region, stores, employees, customers, orders, revenue, revenueSharePct, aov, refunds, costOfGoods, operatingExpenses, payroll, netProfit, netMarginPct, grossMarginPct, profitableStores, revenuePerStore, revenuePerEmployee (definitions in mv_regional_performance)
CREATE OR REPLACE FUNCTION analytics.fn_export_stores_regional()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('stores.top_n_export') AS top_n
    ),

    all_rows AS MATERIALIZED (
        SELECT r.*
        FROM analytics.mv_regional_performance AS r
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char((SELECT min(a.period_start) FROM all_rows AS a), 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'rank', s.revenue_rank,
                        'region', s.region,
                        'stores', s.stores,
                        'employees', s.employees,
                        'customers', s.customers,
                        'orders', s.orders,
                        'revenue', round(s.revenue, 2),
                        'revenueSharePct', round(s.revenue_share_pct, 2),
                        'aov', round(s.aov, 2),
                        'refunds', round(s.refunds, 2),
                        'costOfGoods', round(s.cost_of_goods, 2),
                        'operatingExpenses', round(s.operating_expenses, 2),
                        'payroll', round(s.payroll, 2),
                        'netProfit', round(s.net_profit, 2),
                        'netMarginPct', round(s.net_margin_pct, 2),
                        'grossMarginPct', round(s.gross_margin_pct, 2),
                        'profitableStores', s.profitable_stores,
                        'revenuePerStore', round(s.revenue_per_store, 2),
                        'revenuePerEmployee', round(s.revenue_per_employee, 2)
                    )
                    ORDER BY s.revenue_rank
                )
                FROM all_rows AS s
                WHERE s.revenue_rank <= p.top_n
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;

-- analytics.fn_export_stores_rankings(): the best and the worst stores by net profit as JSON.
-- Shape: {"referenceDate", "period": {"from", "to"}, "storesRanked", "costOfGoodsBasis", "rows": [...]},
-- rows = the stores of analytics.mv_store_performance with profit_rank <= N (rankGroup 'top') or
-- profit_rank > stores - N (rankGroup 'bottom'), N = config stores.rankings_top_n, each store once,
-- ordered by profit_rank; period = first order date .. reference date.
-- KPI rows: one object per store with profitRank, rankGroup, revenueRank, marginRank, storeId, storeName, city, state, region, orders, customers, revenue, aov, refunds, costOfGoods, operatingExpenses, payroll, grossProfit, netProfit, netMarginPct, employees, revenuePerEmployee, performanceTier (definitions in mv_store_performance)
CREATE OR REPLACE FUNCTION analytics.fn_export_stores_rankings()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('stores.rankings_top_n') AS top_n
    ),

    counted AS MATERIALIZED (
        SELECT
            count(*) AS stores,
            min(s.period_start) AS period_start,
            min(s.cost_of_goods_basis) AS cost_of_goods_basis
        FROM analytics.mv_store_performance AS s
    ),

    selected AS (
        SELECT
            s.*,
            CASE WHEN s.profit_rank <= p.top_n THEN 'top' ELSE 'bottom' END AS rank_group
        FROM analytics.mv_store_performance AS s
        CROSS JOIN params AS p
        CROSS JOIN counted AS c
        WHERE s.profit_rank <= p.top_n
           OR s.profit_rank > c.stores - p.top_n
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char(c.period_start, 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'storesRanked', c.stores,
        'costOfGoodsBasis', c.cost_of_goods_basis,
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'profitRank', s.profit_rank,
                        'rankGroup', s.rank_group,
                        'revenueRank', s.revenue_rank,
                        'marginRank', s.margin_rank,
                        'storeId', s.store_id,
                        'storeName', s.store_name,
                        'city', s.city,
                        'state', s.state,
                        'region', s.region,
                        'orders', s.orders,
                        'customers', s.customers,
                        'revenue', round(s.revenue, 2),
                        'aov', round(s.aov, 2),
                        'refunds', round(s.refunds, 2),
                        'costOfGoods', round(s.cost_of_goods, 2),
                        'operatingExpenses', round(s.operating_expenses, 2),
                        'payroll', round(s.payroll, 2),
                        'grossProfit', round(s.gross_profit, 2),
                        'netProfit', round(s.net_profit, 2),
                        'netMarginPct', round(s.net_margin_pct, 2),
                        'employees', s.employees,
                        'revenuePerEmployee', round(s.revenue_per_employee, 2),
                        'performanceTier', s.performance_tier
                    )
                    ORDER BY s.profit_rank
                )
                FROM selected AS s
            ),
            '[]'::json
        )
    )
    FROM params AS p
    CROSS JOIN counted AS c;
$$;

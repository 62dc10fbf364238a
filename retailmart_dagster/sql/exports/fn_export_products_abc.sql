-- analytics.fn_export_products_abc(): the ABC (Pareto) classes and their top products as JSON.
-- Shape: {"referenceDate", "period": {"from", "to"}, "aCutoffPct", "bCutoffPct", "rows": [...]},
-- rows = the classes A, B, C of analytics.vw_product_abc_summary in that order, each with
-- "topProducts": the class's first K products of analytics.mv_product_abc by abc_rank
-- (K = config products.abc_top_per_class); period = first order date .. reference date.
-- KPI rows: one object per class with abcClass, products, productSharePct, units, netRevenue, revenueSharePct, avgRevenuePerProduct, cutoffPct, topProducts [{abcRank, prodId, prodName, category, brand, netRevenue, revenueSharePct, cumulativeSharePct}] (definitions in vw_product_abc_summary, mv_product_abc)
CREATE OR REPLACE FUNCTION analytics.fn_export_products_abc()
RETURNS json
LANGUAGE sql
STABLE
AS $$
    WITH params AS MATERIALIZED (
        SELECT
            analytics.fn_reference_date() AS ref_date,
            analytics.fn_config_int('products.abc_top_per_class') AS per_class
    ),

    ranked_in_class AS (
        SELECT
            a.*,
            row_number() OVER (PARTITION BY a.abc_class ORDER BY a.abc_rank) AS rank_in_class
        FROM analytics.mv_product_abc AS a
    ),

    top_per_class AS (
        SELECT
            r.abc_class,
            json_agg(
                json_build_object(
                    'abcRank', r.abc_rank,
                    'prodId', r.prod_id,
                    'prodName', r.prod_name,
                    'category', r.category,
                    'brand', r.brand,
                    'netRevenue', round(r.net_revenue, 2),
                    'revenueSharePct', round(r.revenue_share_pct, 2),
                    'cumulativeSharePct', round(r.cumulative_share_pct, 2)
                )
                ORDER BY r.abc_rank
            ) AS top_products
        FROM ranked_in_class AS r
        CROSS JOIN params AS p
        WHERE r.rank_in_class <= p.per_class
        GROUP BY r.abc_class
    )

    SELECT json_build_object(
        'referenceDate', to_char(p.ref_date, 'YYYY-MM-DD'),
        'period', json_build_object(
            'from', to_char((SELECT min(a.period_start) FROM analytics.mv_product_abc AS a), 'YYYY-MM-DD'),
            'to', to_char(p.ref_date, 'YYYY-MM-DD')
        ),
        'aCutoffPct', (SELECT round(max(a.a_cutoff_pct), 2) FROM analytics.mv_product_abc AS a),
        'bCutoffPct', (SELECT round(max(a.b_cutoff_pct), 2) FROM analytics.mv_product_abc AS a),
        'rows', coalesce(
            (
                SELECT json_agg(
                    json_build_object(
                        'abcClass', c.abc_class,
                        'products', c.products,
                        'productSharePct', round(c.product_share_pct, 2),
                        'units', c.units,
                        'netRevenue', round(c.net_revenue, 2),
                        'revenueSharePct', round(c.revenue_share_pct, 2),
                        'avgRevenuePerProduct', round(c.avg_revenue_per_product, 2),
                        'cutoffPct', round(c.cutoff_pct, 2),
                        'topProducts', coalesce(t.top_products, '[]'::json)
                    )
                    ORDER BY c.class_order
                )
                FROM analytics.vw_product_abc_summary AS c
                LEFT JOIN top_per_class AS t ON t.abc_class = c.abc_class
            ),
            '[]'::json
        )
    )
    FROM params AS p;
$$;
